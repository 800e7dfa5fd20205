"""prospector parity: the C engine and the Python reference agree bit for bit,
and a reference that drifts by one constant is caught with a bundle."""

import json

import pytest

from prospector import cli
from prospector_bench import parity
from prospector.reference import mining, observe
from prospector.spec import EnvConfig

CONFIGS = {
    "default": EnvConfig(),
    "curriculum_off": EnvConfig.curriculum(1),
    "curriculum_3": EnvConfig.curriculum(3),
    "sparse": EnvConfig(reward_mode="sparse"),
    "short": EnvConfig(time_max=300),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_reference_matches_engine_on_random_and_long_workloads(name, tmp_path):
    report = parity.run_parity(range(0, 25), config=CONFIGS[name], bundle_dir=tmp_path, jobs=1)
    assert report.episodes == 50
    assert report.mismatches == 0, report.to_dict()["workloads"]
    assert report.steps > 50 * 10
    assert not list(tmp_path.iterdir())  # no bundle when everything agrees


def test_short_time_budget_reaches_truncation_in_parity(tmp_path):
    report = parity.run_parity(range(100, 120), ["long"], EnvConfig(time_max=300), bundle_dir=tmp_path, jobs=1)
    assert report.ok
    assert report.to_dict()["workloads"]["long"]["endings"].get("time_up", 0) > 0


def test_miner_workload_reaches_overheat_trade_and_time_up_in_parity(tmp_path):
    report = parity.run_parity(range(0, 4), ["miner"], EnvConfig(time_max=3000), bundle_dir=tmp_path, jobs=1)
    assert report.ok
    summary = report.to_dict()["workloads"]["miner"]
    for event in ("overheat", "fracture", "sale", "purchase", "pirate", "mine"):
        assert summary["events"].get(event, 0) > 0, event
    assert summary["endings"].get("time_up", 0) > 0


def test_random_workload_exercises_out_of_range_actions():
    import random

    rng = random.Random(0)
    actions = {parity.random_policy(rng, bytes(69), b"") for _ in range(2000)}
    assert {-1, 69, 1000} <= actions
    assert set(range(69)) <= actions


def test_a_perturbed_constant_is_caught_at_the_first_step_it_matters(monkeypatch, tmp_path):
    monkeypatch.setattr(mining, "T_MINE_RATE", mining.T_MINE_RATE * (1.0 + 1e-12))
    result = parity.run_episode(0, "long", bundle_dir=tmp_path)
    assert not result.ok
    assert result.stage == "step" and "reward" in result.fields
    bundle = json.loads(open(result.bundle).read())
    assert bundle["seed"] == 0 and bundle["workload"] == "long"
    assert bundle["config"] == EnvConfig().to_dict()
    assert bundle["step"] == result.step
    assert len(bundle["actions"]) == result.step + 1
    assert bundle["action_names"][-1].startswith("MINE_")  # the first mining step diverges
    assert bundle["c"]["reward"] != bundle["reference"]["reward"]
    fields = {d["field"] for d in bundle["state_diff"]}
    assert "events.mined_units" in fields


def test_a_perturbed_observation_constant_names_the_differing_indices(monkeypatch, tmp_path):
    monkeypatch.setattr(observe, "T_FUEL_COST_MAX", 47.0)
    result = parity.run_episode(3, "random", bundle_dir=tmp_path)
    assert not result.ok and result.stage == "reset" and result.step == -1
    bundle = json.loads(open(result.bundle).read())
    names = {d["name"] for d in bundle["observation_diff"]}
    assert "neighbor[0].fuel_cost" in names
    assert all(n.endswith(".fuel_cost") for n in names)
    assert bundle["actions"] == []


def test_cli_prints_one_json_object_and_exits_zero(capsys, tmp_path):
    code = cli.main(["parity", "--seeds", "0:4", "--json", "--jobs", "1", "--bundle-dir", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["episodes"] == 8 and out["mismatches"] == 0 and out["steps"] > 0
    assert set(out["workloads"]) == {"random", "long"}


def test_cli_exits_one_and_writes_bundles_on_mismatch(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(observe, "T_FUEL_COST_MAX", 47.0)
    config = json.dumps({"time_max": 500, "pirates": False})
    code = cli.main(["parity", "--seeds", "5:7", "--workload", "long", "--json", "--jobs", "1",
                     "--config", config, "--bundle-dir", str(tmp_path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["mismatches"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parity_long_seed5.json", "parity_long_seed6.json"]
    assert json.loads((tmp_path / "parity_long_seed5.json").read_text())["config"]["time_max"] == 500


def test_config_from_a_json_file(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"reward_mode": "sparse", "shocks": False}))
    assert parity.parse_config(str(path)) == EnvConfig(reward_mode="sparse", shocks=False)
    with pytest.raises(ValueError):
        parity.parse_config("{not json")


def test_seed_ranges():
    assert parity.parse_seeds("0:500") == range(0, 500)
    assert parity.parse_seeds("7") == range(7, 8)
    with pytest.raises(ValueError):
        parity.parse_seeds("5:2")


def test_two_processes_give_the_same_results_as_one(tmp_path):
    serial = parity.run_parity(range(10, 16), bundle_dir=tmp_path, jobs=1)
    parallel = parity.run_parity(range(10, 16), bundle_dir=tmp_path, jobs=2)
    assert parallel.ok and serial.ok
    assert [(r.workload, r.seed, r.steps, r.ending) for r in parallel.results] == \
        [(r.workload, r.seed, r.steps, r.ending) for r in serial.results]


def test_full_parity_target_seeds_0_to_500_both_workloads(tmp_path):
    """The issue's bar: 0 mismatches on seeds 0:500, full episodes, random and long."""
    report = parity.run_parity(parity.parse_seeds("0:500"), workloads=("random", "long"), bundle_dir=tmp_path, jobs=1)
    assert report.episodes == 1000
    assert report.mismatches == 0
