"""The model package (bench learn --ship), `prospector bots --with-pretrained`, and the model
shipped in the repository."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from prospector.bots import summarize
from prospector.engine import Batch
from prospector.rollout import play_batch
from prospector_bench.train import bench_learn, training_of_checkpoint
from prospector_common.policy.actor import Actor
from prospector_common.policy.checkpoint import load_policy
from prospector_common.policy.greedy import GreedyHead
from prospector_common.policy.pretrained import (
    MODEL_NAME,
    ModelError,
    NumpyPlayer,
    bots_rows,
    verify,
    write_package,
)
from prospector_common.policy.serving import NumpyPolicy
from prospector_trainer.greedy_fit import FitSettings

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "models" / MODEL_NAME


TINY_FIT = FitSettings(generations=1, pairs=1, games=1, time_max=200)


@pytest.fixture(scope="module")
def package(tiny_run, tmp_path_factory):
    _, _, paths = tiny_run
    run_copy = tmp_path_factory.mktemp("runs") / paths.run_id   # bench learn writes the head into the checkpoint
    shutil.copytree(paths.run_dir, run_copy)
    checkpoint = run_copy / "checkpoints" / paths.checkpoint(2).name
    result = bench_learn(checkpoint=str(checkpoint), episodes=2, seed0=1_000_000, greedy_settings=TINY_FIT)
    result["training_of_checkpoint"] = training_of_checkpoint(checkpoint)
    out = tmp_path_factory.mktemp("model") / MODEL_NAME
    card = write_package(out, checkpoint, result, "prospector bench learn --checkpoint X --ship Y")
    return out, card, result


def test_a_package_holds_the_checkpoint_its_numpy_twin_and_a_card_that_matches_them(package):
    out, card, result = package
    assert {p.name for p in out.iterdir()} == {"policy.pt", "policy.npz", "card.json", "MODEL_CARD.md", "curve.svg",
                                            "windows.jsonl"}
    assert verify(out) == card == json.loads((out / "card.json").read_text())
    assert card["evaluation"]["table"] == result["table"]
    assert [w["window_id"] for w in card["training"]["curve"]] == [0, 1, 2]
    assert card["env_steps"] == 49152 and card["training"]["env_steps"] == 49152
    md = (out / "MODEL_CARD.md").read_text()
    assert "ppo_argmax" in md and card["run_id"] in md and "1000000..1000001" in md
    assert "<polyline" in (out / "curve.svg").read_text()
    # the greedy head bench learn fitted: in both files, on the card, and the plain argmax beside it
    head = GreedyHead.from_state(load_policy(out / "policy.pt")[1]["greedy_head"])
    assert np.array_equal(NumpyPolicy.load(out / "policy.npz").greedy_head.vector(), head.vector())
    assert card["greedy_head"]["settings"]["generations"] == 1 and "Greedy head" in md
    assert {"ppo_sample", "ppo_argmax", "ppo_argmax_plain"} <= set(card["evaluation"]["table"])
    assert result["greedy_fit"]["fitted_before"] is False


def test_a_package_written_again_from_its_own_checkpoint_keeps_its_training_record(package, tmp_path):
    """bench learn --checkpoint models/ppo-pretrained/policy.pt --ship models/ppo-pretrained: the run's
    rows and training record stay (its run directory is not there), the first command becomes the
    training command."""
    out, card, result = package
    again = tmp_path / MODEL_NAME
    shutil.copytree(out, again)
    rewritten = write_package(again, again / "policy.pt", {**result, "training_of_checkpoint": None},
                              "prospector bench learn --checkpoint P --ship D")
    assert rewritten["training"] == card["training"] and rewritten["training_command"] == card["command"]
    assert rewritten["command"] == "prospector bench learn --checkpoint P --ship D"
    assert (again / "windows.jsonl").read_bytes() == (out / "windows.jsonl").read_bytes()
    assert verify(again) == rewritten


def test_a_changed_file_or_a_missing_one_fails_verification_by_name(package, tmp_path):
    out, _, _ = package
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for p in out.iterdir():
        damaged.joinpath(p.name).write_bytes(p.read_bytes())
    blob = bytearray(damaged.joinpath("policy.npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    damaged.joinpath("policy.npz").write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="policy.npz has sha256"):
        verify(damaged)
    damaged.joinpath("policy.pt").unlink()
    with pytest.raises(ModelError, match="policy.pt is missing"):
        verify(damaged)


def test_the_numpy_player_plays_like_the_torch_actor(package):
    out, _, _ = package
    policy, data = load_policy(out / "policy.pt")
    seeds = [11, 12, 13]
    head = GreedyHead.from_state(data["greedy_head"])
    with Batch(3) as batch:
        torch_rows = play_batch(Actor(policy, data["config"]["policy"]["action_masking"], greedy_head=head), batch,
                                seeds)
    with Batch(3) as batch:
        numpy_rows = play_batch(NumpyPlayer(NumpyPolicy.load(out / "policy.npz"), greedy=True), batch, seeds)
    assert [r["net_profit"] for r in numpy_rows] == [r["net_profit"] for r in torch_rows]


def test_bots_rows_have_the_bots_keys(package):
    out, _, _ = package
    rows = bots_rows(2, 0, model_dir=out)
    assert set(rows) == {"ppo_pretrained_sample", "ppo_pretrained_argmax"}
    with Batch(1) as batch:
        bot_keys = set(summarize(play_batch(NumpyPlayer(NumpyPolicy.load(out / "policy.npz"), True), batch, [0])))
    assert all(set(r) == bot_keys and r["episodes"] == 2 for r in rows.values())


def test_prospector_bots_with_pretrained_adds_the_two_rows(package):
    out, _, _ = package
    env = {"PROSPECTOR_MODEL_DIR": str(out), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "prospector", "bots", "--with-pretrained", "--seed", "3",
                           "--episodes", "2", "--workers", "1", "--json"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {"ppo_pretrained_sample", "ppo_pretrained_argmax", "cautious_scanner"} <= set(rows)
    assert set(rows["ppo_pretrained_argmax"]) == set(rows["cautious_scanner"])


def test_prospector_bots_with_pretrained_names_a_missing_model(tmp_path):
    env = {"PROSPECTOR_MODEL_DIR": str(tmp_path / "nothing"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "prospector", "bots", "--with-pretrained", "--episodes", "1",
                           "--workers", "1", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2
    assert "no pretrained model" in done.stderr and not done.stdout


# ---- the model shipped in the repository -------------------------------------------------------

def test_the_shipped_model_matches_its_card():
    card = verify(SHIPPED)
    assert card["name"] == MODEL_NAME and card["evaluation"]["table"]
    assert card["evaluation"]["seeds"] == "5000000..5000199"  # the announced held-out range
    # its greedy head, in both files, is what its argmax row played
    head = GreedyHead.from_state(load_policy(SHIPPED / "policy.pt")[1]["greedy_head"])
    assert np.array_equal(NumpyPolicy.load(SHIPPED / "policy.npz").greedy_head.vector(), head.vector())
    assert card["greedy_head"] == head.fitted and "ppo_argmax_plain" in card["evaluation"]["table"]


def test_the_shipped_model_loads_and_its_numpy_forward_agrees_with_torch():
    policy, data = load_policy(SHIPPED / "policy.pt")
    served = NumpyPolicy.load(SHIPPED / "policy.npz")
    masking = data["config"]["policy"]["action_masking"]
    with Batch(4) as batch:  # recorded observations of real games, played by the model
        batch.reset(np.arange(4, dtype=np.uint64) + 77)
        actor, worst = Actor(policy, masking, greedy=False), 0.0
        actor.start(4)
        for _ in range(300):
            obs, masks = batch.observations.copy(), batch.action_masks.copy()
            from prospector_common.policy.network import policy_input
            with torch.no_grad():
                logits, value = policy.forward_eval(torch.from_numpy(policy_input(obs, masks, masking)), {})
            np_logits, np_value, _ = served.forward(obs, masks)
            live = logits.numpy() > -1e8
            worst = max(worst, float(np.abs(np_logits[live] - logits.numpy()[live]).max()),
                        float(np.abs(np_value - value.numpy()[:, 0]).max()))
            assert (np_logits.argmax(1) == logits.numpy().argmax(1)).all()
            batch.step(actor.act(obs, masks))
    print(f"shipped model: max abs difference numpy vs torch {worst:.2e}")
    assert worst < 1e-4


# ---- the shipped model as a run of its own (prospector train --pretrained register) ------------

def test_registering_the_model_makes_a_finished_run_and_announces_its_window_once(
        package, tmp_path, redis_client, stream_name):
    from prospector_common.catalog import Catalog
    from prospector_common.storage import RunPaths, read_jsonl
    from prospector_common.streams import WindowAnnouncement

    from prospector_trainer.pretrained_run import register_pretrained

    out, card, _ = package
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    data_dir = tmp_path / "runs"
    for _ in range(2):  # the stack starts again: nothing doubles
        run_id = register_pretrained(data_dir, url, "redis://127.0.0.1:6379/0", model_dir=out, stream=stream_name)
    assert run_id == card["run_id"]
    paths = RunPaths(data_dir, run_id)
    assert paths.checkpoint(card["window_id"]).read_bytes() == (out / "policy.pt").read_bytes()
    assert [r["window_id"] for r in read_jsonl(paths.metrics_file)] == [0, 1, 2]
    assert json.loads(paths.run_json.read_text())["pretrained"]["sha256"] == card["sha256"]["policy.pt"]
    catalog = Catalog(url)
    try:
        assert catalog.get_run(run_id).status == "finished"
    finally:
        catalog.close()
    entries = redis_client.xrange(stream_name)
    assert len(entries) == 1
    message = WindowAnnouncement.from_fields(entries[0][1])
    assert (message.run_id, message.window_id) == (run_id, card["window_id"])
    assert message.checkpoint_path == paths.relative(paths.checkpoint(card["window_id"]))


def test_a_damaged_package_is_not_registered(package, tmp_path, stream_name):
    from prospector_trainer.pretrained_run import register_pretrained

    out, _, _ = package
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for p in out.iterdir():
        damaged.joinpath(p.name).write_bytes(p.read_bytes() + (b"x" if p.name == "policy.pt" else b""))
    with pytest.raises(ModelError, match="policy.pt has sha256"):
        register_pretrained(tmp_path / "runs", f"sqlite:///{tmp_path / 'c.sqlite'}", "redis://127.0.0.1:6379/0",
                            model_dir=damaged, stream=stream_name)
    assert not (tmp_path / "runs").exists()
