"""The replay file: written from a real episode, read back exactly, verified by re-simulation."""

from __future__ import annotations

import gzip
import json

import pytest
from prospector.cli import main as prospector_main
from prospector import spec
from prospector.engine import Engine
from prospector.spec import EnvConfig
from prospector_evaluator.evaluate import play_episode
from prospector_common.replay import (
    ReplayFormatError,
    iter_frames,
    read_frames,
    read_header,
    verify,
    write_replay,
)

from .conftest import train_config


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A real episode (a fresh policy that samples, so it moves around) as a replay file."""
    import torch
    from prospector_common.policy.network import make_policy
    from prospector_trainer.config import policy_kwargs

    torch.manual_seed(3)
    cfg = train_config()
    policy = make_policy(**policy_kwargs(cfg))
    config = EnvConfig(time_max=300, reward_mode="sparse")
    episode = play_episode(policy, False, config, seed=11, sample=True)
    path = tmp_path_factory.mktemp("replay") / "w000000-s11-00000000.jsonl.gz"
    write_replay(path, episode.recorder.to_bytes(
        run_id="20250101-120000-nogit-0000", window_id=0, replay_id=path.name.split(".")[0], seed=11,
        env_config=config.to_dict(), policy={"mode": "sample"}, summary={"metrics": episode.metrics}))
    return path, episode, config


def live_frames(config, seed, actions):
    engine = Engine(config, seed=seed)
    out = []
    for a in actions:
        reward, _, _ = engine.step(a)
        out.append({"t": engine.t, "action": a, "reward": float(reward), "events": engine.events(),
                    "state": engine.render_state()})
    return Engine(config, seed=seed).render_state(), out


def test_decoded_frames_equal_the_engine_render_states_exactly(recorded):
    path, episode, config = recorded
    header = read_header(path)
    assert header["schema"] == "prospector-replay" and header["seed"] == 11
    assert header["length"] == episode.length == len(header["actions"]) > 5
    assert header["action_names"] == list(spec.ACTION_NAMES) and header["env_config"] == config.to_dict()
    initial, live = live_frames(config, 11, header["actions"])
    assert header["initial_state"] == initial
    frames = read_frames(path)
    assert len(frames) == len(live)
    for frame, expected in zip(frames, live):
        for key in ("t", "action", "reward", "events", "state"):
            assert frame[key] == expected[key], (frame["index"], key)
        assert frame["dt"] == expected["events"].get("dt", 0)
        assert frame["action_name"] == header["action_names"][frame["action"]]


def test_frames_with_offset_and_limit(recorded):
    path, episode, _ = recorded
    everything = read_frames(path)
    page = read_frames(path, offset=3, limit=4)
    assert [f["index"] for f in page] == [3, 4, 5, 6]
    assert page == everything[3:7]
    assert read_frames(path, offset=episode.length) == []
    assert read_frames(path, limit=0) == []


def test_verify_accepts_a_real_replay(recorded, capsys):
    path, episode, _ = recorded
    result = verify(path)
    assert result.ok and result.frames_checked == episode.length
    assert prospector_main(["replay", "verify", str(path)]) == 0
    assert "every frame matches" in capsys.readouterr().out


def rewrite(path, out, change):
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    change(lines)
    out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def test_verify_names_the_first_tampered_frame(recorded, tmp_path, capsys):
    path, _, _ = recorded

    def tamper(lines):
        frame = json.loads(lines[1 + 4])  # frame 4
        frame["reward"] = frame["reward"] + 1.0
        lines[1 + 4] = json.dumps(frame)

    bad = tmp_path / "tampered.jsonl.gz"
    rewrite(path, bad, tamper)
    result = verify(bad)
    assert not result.ok and result.mismatch["frame"] == 4 and result.mismatch["field"] == "reward"
    assert prospector_main(["replay", "verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "frame 4" in out


def test_verify_catches_a_changed_action_and_a_changed_state(recorded, tmp_path):
    path, _, _ = recorded

    def swap_action(lines):
        header = json.loads(lines[0])
        header["actions"][2] = (header["actions"][2] + 1) % 69
        lines[0] = json.dumps(header)

    bad = tmp_path / "action.jsonl.gz"
    rewrite(path, bad, swap_action)
    result = verify(bad)
    assert not result.ok and result.mismatch["frame"] == 2

    def nudge_state(lines):
        frame = json.loads(lines[1 + 6])
        frame["delta"].setdefault("patch", {}).setdefault("ship", {})["fuel"] = 12345.5
        lines[1 + 6] = json.dumps(frame)

    bad2 = tmp_path / "state.jsonl.gz"
    rewrite(path, bad2, nudge_state)
    result = verify(bad2)
    assert not result.ok and result.mismatch["frame"] == 6 and "fuel" in result.mismatch["field"]


def test_truncated_or_foreign_files_are_refused_with_the_file_named(recorded, tmp_path):
    path, _, _ = recorded
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ReplayFormatError, match="cut.jsonl.gz"):
        list(iter_frames(cut))
    assert prospector_main(["replay", "verify", str(cut)]) == 2
    other = tmp_path / "other.jsonl.gz"
    other.write_bytes(gzip.compress(b'{"hello": 1}\n'))
    with pytest.raises(ReplayFormatError, match="header"):
        read_header(other)
    with pytest.raises(ReplayFormatError, match="does not exist"):
        read_header(tmp_path / "missing.jsonl.gz")


def test_equal_episodes_give_byte_identical_files(recorded):
    _, episode, _ = recorded
    assert episode.recorder.to_bytes(a=1) == episode.recorder.to_bytes(a=1)


def test_each_frame_records_what_the_policy_saw(recorded):
    """Schema 2: the evaluator's frames carry the policy's top actions, value and entropy."""
    import math

    path, episode, _ = recorded
    assert read_header(path)["schema_version"] == 2
    frames = read_frames(path)
    assert all(f["policy"] is not None for f in frames)
    for f in frames[:50]:
        policy = f["policy"]
        top = policy["top"]
        assert len(top) == 5 and all(0 <= a < spec.N_ACTIONS for a, _ in top)
        probs = [p for _, p in top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
        assert math.isfinite(policy["value"]) and 0 <= policy["entropy"] <= math.log(spec.N_ACTIONS) + 1e-3


def test_a_masked_greedy_policy_puts_no_probability_on_invalid_actions_and_its_choice_is_on_top():
    import torch
    from prospector_common.policy.network import make_policy
    from prospector_trainer.config import policy_kwargs

    torch.manual_seed(5)
    cfg = train_config()
    kwargs = {**policy_kwargs(cfg), "action_masking": True}
    policy = make_policy(**kwargs)
    episode = play_episode(policy, True, EnvConfig(time_max=120, reward_mode="sparse"), seed=4)
    header_actions = episode.recorder.actions
    masks = []
    engine = Engine(EnvConfig(time_max=120, reward_mode="sparse"), seed=4)
    for a in header_actions:
        masks.append(engine.action_mask())
        engine.step(a)
    for line, action, mask in zip(episode.recorder.lines, header_actions, masks):
        policy_seen = json.loads(line)["policy"]
        assert policy_seen["top"][0][0] == action  # greedy: the chosen action is the likeliest
        assert all(mask[a] or p == 0 for a, p in policy_seen["top"])


def test_a_version_1_replay_still_reads_and_verifies(recorded, tmp_path):
    path, episode, _ = recorded

    def downgrade(lines):
        header = json.loads(lines[0])
        header["schema_version"] = 1
        lines[0] = json.dumps(header)
        for i in range(1, len(lines)):
            frame = json.loads(lines[i])
            frame.pop("policy", None)
            lines[i] = json.dumps(frame)

    old = tmp_path / "v1.jsonl.gz"
    rewrite(path, old, downgrade)
    assert read_header(old)["schema_version"] == 1
    frames = read_frames(old)
    assert len(frames) == episode.length and all(f["policy"] is None for f in frames)
    assert verify(old).ok
