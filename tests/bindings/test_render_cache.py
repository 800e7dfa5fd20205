"""render_state reuses its node and asteroid lists while the snapshot bytes behind them are
unchanged: the result must equal a render built from scratch at every step."""

import random

from prospector import spec
from prospector.engine import Engine
from prospector.spec import EnvConfig


def fresh_render(engine: Engine) -> dict:
    """The same state rendered by an engine with empty caches."""
    return engine.clone().render_state()


def test_cached_render_equals_a_fresh_render_over_whole_episodes():
    rng = random.Random(5)
    hits = 0
    for seed in (1, 2, 3):
        engine = Engine(EnvConfig(time_max=600), seed=seed)
        previous = engine.render_state()
        while not engine.done:
            mask = engine.action_mask()
            engine.step(rng.choice([a for a in range(spec.A_CASH_OUT) if mask[a]]))  # not the end at once
            state = engine.render_state()
            assert state == fresh_render(engine)
            hits += state["nodes"] is previous["nodes"]
            previous = state
    assert hits > 100  # the cache is used, not rebuilt every step


def test_reset_and_restore_render_the_new_episode():
    engine = Engine(seed=11)
    first = engine.render_state()
    engine.reset(12)
    assert engine.render_state() == fresh_render(engine)
    assert engine.render_state()["nodes"] != first["nodes"]
    other = Engine(EnvConfig.curriculum(1), seed=13)
    engine.restore(other.save())
    state = engine.render_state()
    assert state == other.render_state()
    assert state["config"] == other.config.to_dict()


def test_render_state_reads_the_snapshot_as_cffi_field_access_does():
    # render_state reads the snapshot's scalars, market, mask, events and metrics with one
    # struct.Struct laid out from cffi's offsets; cffi's own field access is the reference
    from prospector._engine import ffi
    from prospector.bots import CautiousScanner

    names, n_c = spec.COMMODITIES, spec.N_COMMODITIES
    seen_events, steps = set(), 0
    for seed in (3, 4):
        engine, bot = Engine(EnvConfig(time_max=4000), seed=seed), CautiousScanner()
        bot.reset(seed)
        while not engine.done:
            engine.step(bot.act(engine.observation(), engine.action_mask()))
            state, r = engine.render_state(), engine._render  # the snapshot render_state just took
            assert (state["t"], state["time_remaining"], state["time_max"], state["current_node"],
                    state["selected_asteroid"]) == (r.t, r.time_remaining, r.time_max, r.current_node, r.selected)
            assert state["ship"] == {name: getattr(r, name) for name in state["ship"]}
            assert state["cargo"] == dict(zip(names, ffi.unpack(r.cargo, n_c)))
            assert state["refined"] == dict(zip(names, ffi.unpack(r.refined, n_c)))
            assert state["cargo_value"] == r.cargo_value
            assert state["market"] == {names[c]: {"price": r.price[c], "prev_price": r.prev_price[c],
                                                  "inventory": r.inventory[c]} for c in range(n_c)}
            assert state["action_mask"] == ffi.unpack(r.mask, spec.N_ACTIONS)
            assert state["metrics"] == dict(zip(spec.METRIC_NAMES, ffi.unpack(r.metrics, spec.N_METRICS)))
            events = state["events"]
            assert events == engine.events()
            assert (events["flags"], events["action"], events["applied_action"]) == (
                r.events.flags, r.events.action, r.events.applied_action)
            for name, _field in ffi.typeof("pr_events").fields[3:]:
                assert events.get(name, 0) == getattr(r.events, name)
            seen_events.update(events["names"])
            steps += 1
    assert steps > 1000 and {"mine", "sale", "travel", "scan"} <= seen_events


def _nodes_by_cffi(r) -> list[dict]:
    from prospector._engine import ffi

    width, nodes = spec.MAX_NEIGHBORS, []
    for i in range(r.n_nodes):
        degree, kind = r.node_degree[i], r.node_type[i]
        nodes.append({"id": i, "type": spec.NODE_TYPES[kind] if kind < len(spec.NODE_TYPES) else kind,
                      "x": r.node_x[i], "y": r.node_y[i],
                      "neighbors": list(ffi.unpack(r.node_neighbor[i], width))[:degree],
                      "travel_times": list(ffi.unpack(r.node_travel_time[i], width))[:degree],
                      "visited": bool(r.node_visited[i]), "threat_estimate": r.node_threat_est[i],
                      "hops": r.node_hops[i]})
    return nodes


def _asteroids_by_cffi(r) -> list[dict]:
    from prospector._engine import ffi

    return [{"slot": a, "selected": a == r.selected,
             "composition": dict(zip(spec.COMMODITIES, ffi.unpack(r.ast_comp[a], spec.N_COMMODITIES))),
             "stability": r.ast_stability[a], "depletion": r.ast_depletion[a], "confidence": r.ast_confidence[a]}
            for a in range(r.n_asteroids) if r.ast_valid[a]]


def test_node_and_asteroid_lists_read_the_snapshot_as_cffi_field_access_does():
    # the node and asteroid lists come from struct readers over the snapshot's arrays (2-D arrays
    # flattened row by row); cffi's element access is the reference, over bot games that scan,
    # mine, travel and listen
    from prospector.bots import CautiousScanner

    checked_asteroids = checked_nodes = 0
    for seed in (5, 6):
        engine, bot = Engine(EnvConfig(time_max=3000), seed=seed), CautiousScanner()
        bot.reset(seed)
        while not engine.done:
            engine.step(bot.act(engine.observation(), engine.action_mask()))
            state, r = engine.render_state(), engine._render
            assert state["nodes"] == _nodes_by_cffi(r)
            assert state["asteroids"] == _asteroids_by_cffi(r)
            checked_nodes += len(state["nodes"])
            checked_asteroids += len(state["asteroids"])
    assert checked_nodes > 10_000 and checked_asteroids > 1_000
