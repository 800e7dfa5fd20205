"""prospector.spec agrees with the C header (read through the compiled engine)."""

import dataclasses

import pytest

from prospector import spec
from prospector._engine import ffi, lib
from prospector.engine import Engine, config_from_cdata
from prospector.spec import EnvConfig

from .helpers import engine_next_to_asteroids


def test_spec_constants_equal_c_header_constants():
    pairs = {
        "SPEC_VERSION": lib.PR_SPEC_VERSION, "N_COMMODITIES": lib.PR_N_COMMODITIES,
        "MAX_NODES": lib.PR_MAX_NODES, "MAX_NEIGHBORS": lib.PR_MAX_NEIGHBORS,
        "MAX_ASTEROIDS": lib.PR_MAX_ASTEROIDS, "OBS_DIM": lib.PR_OBS_DIM,
        "N_ACTIONS": lib.PR_N_ACTIONS, "FUEL_MAX": lib.PR_FUEL_MAX, "HULL_MAX": lib.PR_HULL_MAX,
        "HEAT_MAX": lib.PR_HEAT_MAX, "TOOL_MAX": lib.PR_TOOL_MAX, "ALERT_MAX": lib.PR_ALERT_MAX,
        "CARGO_MAX": lib.PR_CARGO_MAX, "CREDIT_SCALE": lib.PR_CREDIT_SCALE,
        "TIME_MAX_DEFAULT": lib.PR_TIME_MAX_DEFAULT, "N_METRICS": lib.PR_N_METRICS,
        "N_EVENTS": lib.PR_N_EVENTS, "NODE_STATION": lib.PR_NODE_STATION,
        "NODE_CLUSTER": lib.PR_NODE_CLUSTER, "NODE_HAZARD": lib.PR_NODE_HAZARD,
        "REWARD_SHAPED": lib.PR_REWARD_SHAPED, "REWARD_SPARSE": lib.PR_REWARD_SPARSE,
    }
    for name, c_value in pairs.items():
        assert getattr(spec, name) == c_value, name
    assert spec.COMMODITIES == ("iron", "nickel", "water_ice", "pge", "rare_isotopes", "volatiles")


def test_action_index_constants_equal_c_header_enum():
    c_actions = {
        "A_TRAVEL0": lib.PR_A_TRAVEL0, "A_HOLD": lib.PR_A_HOLD,
        "A_EMERGENCY_BURN": lib.PR_A_EMERGENCY_BURN, "A_WIDE_SCAN": lib.PR_A_WIDE_SCAN,
        "A_FOCUSED_SCAN": lib.PR_A_FOCUSED_SCAN, "A_DEEP_SCAN": lib.PR_A_DEEP_SCAN,
        "A_LISTEN": lib.PR_A_LISTEN, "A_SELECT0": lib.PR_A_SELECT0, "A_MINE0": lib.PR_A_MINE0,
        "A_STABILIZE": lib.PR_A_STABILIZE, "A_REFINE": lib.PR_A_REFINE,
        "A_COOLDOWN": lib.PR_A_COOLDOWN, "A_TOOL_MAINT": lib.PR_A_TOOL_MAINT,
        "A_HULL_PATCH": lib.PR_A_HULL_PATCH, "A_JETTISON0": lib.PR_A_JETTISON0,
        "A_DOCK": lib.PR_A_DOCK, "A_SELL0": lib.PR_A_SELL0, "A_BUY_FUEL0": lib.PR_A_BUY_FUEL0,
        "A_BUY_KIT": lib.PR_A_BUY_KIT, "A_BUY_STABILIZER": lib.PR_A_BUY_STABILIZER,
        "A_BUY_DECOY": lib.PR_A_BUY_DECOY, "A_OVERHAUL": lib.PR_A_OVERHAUL,
        "A_CASH_OUT": lib.PR_A_CASH_OUT,
    }
    for name, c_value in c_actions.items():
        assert getattr(spec, name) == c_value, name


def test_action_names_are_69_unique_names_aligned_with_indices():
    names = spec.ACTION_NAMES
    assert len(names) == spec.N_ACTIONS == len(set(names))
    assert names[spec.A_TRAVEL0] == "TRAVEL_0" and names[5] == "TRAVEL_5"
    assert names[spec.A_HOLD] == "HOLD_DRIFT"
    assert names[spec.A_LISTEN] == "PASSIVE_THREAT_LISTEN"
    assert names[spec.A_SELECT0 + 15] == "SELECT_ASTEROID_15"
    assert names[spec.A_MINE0:spec.A_MINE0 + 3] == ("MINE_CONSERVATIVE", "MINE_STANDARD", "MINE_AGGRESSIVE")
    assert names[spec.A_JETTISON0] == "JETTISON_IRON"
    assert names[spec.A_DOCK] == "DOCK"
    assert names[spec.A_SELL0] == "SELL_IRON_25"
    assert names[spec.sell_action(spec.PGE, 1)] == "SELL_PGE_50"
    assert names[spec.A_BUY_FUEL0 - 1] == "SELL_VOLATILES_100"
    assert names[spec.A_BUY_FUEL0:spec.A_BUY_FUEL0 + 3] == ("BUY_FUEL_SMALL", "BUY_FUEL_MEDIUM", "BUY_FUEL_LARGE")
    assert names[spec.A_OVERHAUL] == "FULL_REPAIR_OVERHAUL"
    assert names[spec.A_CASH_OUT] == "CASH_OUT"
    assert all(spec.ACTION_INDEX[n] == i for i, n in enumerate(names))


def test_action_groups_partition_every_action_exactly_once():
    seen = [a for group in spec.ACTION_GROUPS.values() for a in group]
    assert sorted(seen) == list(range(spec.N_ACTIONS))
    assert set(spec.ACTION_GROUPS) == {"navigation", "sensing", "mining", "maintenance", "cargo",
                                       "station", "episode"}


def test_metric_names_follow_header_pr_m_order():
    for name in spec.METRIC_NAMES:
        c_name = "PR_M_RETURN" if name == "episode_return" else "PR_M_" + name.upper()
        assert spec.METRIC_INDEX[name] == getattr(lib, c_name), name


def test_event_names_follow_header_pr_ev_bits():
    for name, bit in spec.EVENT_BITS.items():
        assert getattr(lib, "PR_EV_" + name.upper()) == bit, name
    assert spec.event_names(lib.PR_EV_SALE | lib.PR_EV_TRAVEL) == ["travel", "sale"]


def test_observation_layout_tiles_all_260_floats():
    parts = [spec.OBS_SHIP, spec.OBS_NEIGHBORS, spec.OBS_ASTEROIDS, spec.OBS_MARKET]
    assert [p.start for p in parts] == [0, 24, 68, 244] and parts[-1].stop == spec.OBS_DIM
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    # 6 neighbor slots of 7 floats end at 66; 66 and 67 are padding
    assert spec.neighbor_slot(spec.MAX_NEIGHBORS - 1).stop == spec.OBS_NEIGHBORS.stop - 2
    assert spec.asteroid_slot(spec.MAX_ASTEROIDS - 1).stop == spec.OBS_ASTEROIDS.stop
    market = [spec.OBS_PRICE, spec.OBS_PRICE_CHANGE, spec.OBS_INVENTORY]
    assert market[0].start == spec.MARKET_BASE and market[-1].stop == spec.OBS_DIM
    assert all(a.stop == b.start for a, b in zip(market, market[1:]))


def test_observation_offsets_point_at_the_engine_fields():
    eng = Engine(seed=11)
    obs = eng.observation()
    state = eng.render_state()
    assert obs[spec.OBS_FUEL] == pytest.approx(state["ship"]["fuel"] / spec.FUEL_MAX)
    assert obs[spec.OBS_AT_STATION] == 1.0
    assert list(obs[spec.OBS_NODE_TYPE]) == [1.0, 0.0, 0.0]
    station = state["nodes"][0]
    for k in range(spec.MAX_NEIGHBORS):
        slot = obs[spec.neighbor_slot(k)]
        assert slot[spec.NB_VALID] == (1.0 if k < len(station["neighbors"]) else 0.0)
    # at a node with asteroids, the asteroid slots' valid flags match the snapshot
    eng = engine_next_to_asteroids()
    obs = eng.observation()
    state = eng.render_state()
    for a in range(spec.MAX_ASTEROIDS):
        slot = obs[spec.asteroid_slot(a)]
        valid = any(ast["slot"] == a for ast in state["asteroids"])
        assert slot[spec.AST_VALID] == (1.0 if valid else 0.0)
    assert not obs[spec.OBS_NEIGHBORS.stop - 2:spec.OBS_NEIGHBORS.stop].any()


def test_default_env_config_equals_pr_default_config():
    assert config_from_cdata(lib.pr_default_config()) == EnvConfig()
    c = lib.pr_default_config()
    assert ffi.sizeof(c) == ffi.sizeof("pr_config")


def test_curriculum_stages_turn_switches_on_in_order():
    on = [{n for n in spec.SWITCHES if getattr(EnvConfig.curriculum(s), n)} for s in range(1, 6)]
    assert on[0] == set()
    assert on[1] == {"scan_noise", "fractures"}
    assert on[2] == on[1] | {"price_impact"}
    assert on[3] == on[2] | {"pirates", "hazards"}
    assert on[4] == set(spec.SWITCHES)
    assert spec.curriculum(5) == EnvConfig()
    assert spec.curriculum(2, time_max=500).time_max == 500
    with pytest.raises(ValueError):
        spec.curriculum(6)


def test_env_config_round_trips_through_dict_and_rejects_bad_values():
    cfg = EnvConfig(time_max=321, reward_mode="sparse", pirates=False)
    assert EnvConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        EnvConfig.from_dict({"time_max": 5, "pirate": False})
    with pytest.raises(ValueError):
        EnvConfig(reward_mode="dense")
    with pytest.raises(ValueError):
        EnvConfig(time_max=0)
    with pytest.raises(TypeError):
        EnvConfig(pirates=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.time_max = 3
