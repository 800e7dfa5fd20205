"""Human play over HTTP: sessions in the real Redis, stepped by any app instance; bad input; Redis down."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fastapi.testclient import TestClient
from prospector.engine import Engine
from prospector.spec import EnvConfig
from prospector_api.app import create_app
from prospector_api.routers.play import _plain_step
from prospector_api.sessions import SessionStore, ViewOptions
from prospector_common.settings import Settings

from .conftest import REDIS_URL, api_settings_for, free_port


def _create(client, **body):
    response = client.post("/api/play/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_session_plays_the_same_episode_as_the_engine(client):
    session = _create(client, seed=42, config={"pirates": False, "time_max": 500})
    engine = Engine(EnvConfig(pirates=False, time_max=500), seed=42)
    assert session["state"] == engine.render_state() and session["seed"] == 42
    assert session["config"]["pirates"] is False and session["config"]["time_max"] == 500
    assert session["action_mask"] == [bool(m) for m in engine.action_mask()]
    sid = session["session_id"]
    for action in (8, 0, 11, 6, 1, 9, 6):
        step = client.post(f"/api/play/sessions/{sid}/step", json={"action": action}).json()
        reward, terminated, truncated = engine.step(action)
        assert (step["reward"], step["terminated"], step["truncated"]) == (reward, terminated, truncated)
        assert step["state"] == engine.render_state() and step["t"] == engine.t
        assert step["info"]["events"] == engine.events() and step["info"]["episode"] is None
    slim = client.post(f"/api/play/sessions/{sid}/step",
                       json={"action": 6, "include_state": False, "include_observation": True}).json()
    engine.step(6)
    assert slim["state"] is None and slim["observation"] == [float(x) for x in engine.observation()]
    assert client.get(f"/api/play/sessions/{sid}").json()["t"] == engine.t


def test_reset_starts_a_new_episode_keeping_or_changing_config(client):
    sid = _create(client, seed=1, config={"time_max": 300})["session_id"]
    client.post(f"/api/play/sessions/{sid}/step", json={"action": 6})
    reset = client.post(f"/api/play/sessions/{sid}/reset", json={"seed": 9}).json()
    assert reset["seed"] == 9 and reset["t"] == 0 and reset["config"]["time_max"] == 300
    assert reset["state"] == Engine(EnvConfig(time_max=300), seed=9).render_state()
    changed = client.post(f"/api/play/sessions/{sid}/reset", json={"config": {"reward_mode": "sparse"}}).json()
    assert changed["config"]["reward_mode"] == "sparse" and changed["config"]["time_max"] == 300
    assert changed["seed"] == Engine(seed=9).next_seed


def test_episode_end_reports_metrics_in_info(client):
    sid = _create(client, seed=3)["session_id"]
    step = client.post(f"/api/play/sessions/{sid}/step", json={"action": 68}).json()  # CASH_OUT
    assert step["terminated"] is True and step["info"]["episode"]["episode_steps"] == 1.0
    again = client.post(f"/api/play/sessions/{sid}/step", json={"action": 6}).json()
    assert again["terminated"] is True  # an ended episode stays ended


@pytest.mark.parametrize("action", [69, -1, 1000, "3", 3.5, True, None, [1]])
def test_action_outside_0_to_68_is_422_saying_the_range(client, action):
    sid = _create(client)["session_id"]
    response = client.post(f"/api/play/sessions/{sid}/step", json={"action": action})
    assert response.status_code == 422
    assert "0..68" in response.text


def test_bad_bodies_and_session_ids(client):
    sid = _create(client)["session_id"]
    assert client.post(f"/api/play/sessions/{sid}/step", json={}).status_code == 422
    assert client.post(f"/api/play/sessions/{sid}/step", json={"action": 1, "extra": 1}).status_code == 422
    assert client.post("/api/play/sessions", json={"seed": -1}).status_code == 422
    assert client.post("/api/play/sessions", json={"seed": 2**64}).status_code == 422
    assert client.post("/api/play/sessions", json={"config": {"time_max": 0}}).status_code == 422
    assert client.post("/api/play/sessions", json={"config": {"warp_drive": True}}).status_code == 422
    assert client.post("/api/play/sessions", content=b"{not json", headers={"content-type": "application/json"}
                       ).status_code == 422
    for bad in ("../../etc", "ABCDEF" * 6, sid[:-1], sid + "0"):
        assert client.post(f"/api/play/sessions/{bad}/step", json={"action": 1}).status_code in (404, 422)


def test_oversized_body_is_413(client):
    big = {"action": 1, "pad": "x" * 70_000}
    response = client.post("/api/play/sessions", json=big)
    assert response.status_code == 413 and "at most 65536 bytes" in response.json()["detail"]

    def chunks():
        for _ in range(20):
            yield b" " * 5000

    response = client.post("/api/play/sessions", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_unknown_closed_and_expired_sessions(settings, prefix):
    with TestClient(create_app(settings, api_settings_for(prefix, session_ttl_s=0.3))) as client:
        unknown = "0" * 32
        response = client.post(f"/api/play/sessions/{unknown}/step", json={"action": 1})
        assert response.status_code == 404 and "does not exist" in response.json()["detail"]
        sid = _create(client)["session_id"]
        assert client.delete(f"/api/play/sessions/{sid}").json() == {"closed": True}
        response = client.post(f"/api/play/sessions/{sid}/step", json={"action": 1})
        assert response.status_code == 404 and "was closed" in response.json()["detail"]
        assert client.delete(f"/api/play/sessions/{sid}").status_code == 404
        sid = _create(client)["session_id"]
        time.sleep(0.45)
        for response in (client.post(f"/api/play/sessions/{sid}/step", json={"action": 1}),
                         client.get(f"/api/play/sessions/{sid}"),
                         client.post(f"/api/play/sessions/{sid}/reset", json={})):
            assert response.status_code == 410 and "expired" in response.json()["detail"]


def test_steps_renew_the_ttl(settings, prefix):
    with TestClient(create_app(settings, api_settings_for(prefix, session_ttl_s=0.4))) as client:
        sid = _create(client)["session_id"]
        for _ in range(5):
            time.sleep(0.15)
            assert client.post(f"/api/play/sessions/{sid}/step", json={"action": 6}).status_code == 200


def test_a_step_renews_the_expiry_once_it_would_move_a_tenth_of_the_ttl(settings, prefix, redis_client):
    """Quick steps keep the expiry Redis holds (no renewal writes); a step after a tenth of the TTL
    moves it, in the hash, the index, the key's own TTL and the reply alike. A TTL of 10 s renews
    in steps of 1 s, so the quick steps have a second to finish on a loaded machine."""
    with TestClient(create_app(settings, api_settings_for(prefix, session_ttl_s=10.0))) as client:
        sid = _create(client)["session_id"]
        session_key, index_key = f"{prefix}:play:s:{sid}", f"{prefix}:play:sessions"

        def step_expiry() -> float:
            response = client.post(f"/api/play/sessions/{sid}/step", json={"action": 6})
            assert response.status_code == 200, response.text
            return response.json()["expires_at"]

        def held_ms() -> tuple[int, int]:
            return int(redis_client.hget(session_key, "expires_ms")), int(redis_client.zscore(index_key, sid))

        time.sleep(1.05)  # past the renewal step (1 s): this step renews
        first = step_expiry()
        assert held_ms() == (round(first * 1000), round(first * 1000))
        renewed_at_ms = redis_client.pttl(session_key)
        assert step_expiry() == first and step_expiry() == first  # within 1 s of it: kept
        assert held_ms() == (round(first * 1000), round(first * 1000))
        assert redis_client.pttl(session_key) <= renewed_at_ms  # the key's TTL ran on, untouched
        time.sleep(1.05)
        later = step_expiry()
        assert later - first >= 1.0 and held_ms() == (round(later * 1000), round(later * 1000))
        assert redis_client.pttl(session_key) > 9000  # renewed to the full 10 s


def test_session_cap_is_429_and_frees_on_close(settings, prefix):
    with TestClient(create_app(settings, api_settings_for(prefix, max_sessions=2))) as client:
        first = _create(client)["session_id"]
        _create(client)
        response = client.post("/api/play/sessions", json={})
        assert response.status_code == 429 and "cap" in response.json()["detail"]
        client.delete(f"/api/play/sessions/{first}")
        _create(client)


def test_concurrent_steps_on_one_session_from_two_replicas_apply_each_action_once(settings, api_settings):
    with TestClient(create_app(settings, api_settings)) as a, TestClient(create_app(settings, api_settings)) as b:
        sid = _create(a, seed=5, config={"pirates": False, "hazards": False})["session_id"]
        errors = []

        def worker(client):
            for _ in range(25):
                r = client.post(f"/api/play/sessions/{sid}/step", json={"action": 6, "include_state": False})
                if r.status_code != 200:
                    errors.append(r.text)

        threads = [threading.Thread(target=worker, args=(c,)) for c in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        engine = Engine(EnvConfig(pirates=False, hazards=False), seed=5)
        for _ in range(100):
            engine.step(6)
        assert b.get(f"/api/play/sessions/{sid}").json()["state"] == engine.render_state()


def test_redis_down_play_and_events_503_catalog_still_works(recorded, prefix):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(Settings(data_dir=recorded.data_dir, redis_url=dead), api_settings_for(prefix))
    with TestClient(app) as client:
        response = client.post("/api/play/sessions", json={})
        assert response.status_code == 503 and "Redis" in response.json()["detail"]
        assert client.post(f"/api/play/sessions/{'a' * 32}/step", json={"action": 1}).status_code == 503
        response = client.get("/api/events")
        assert response.status_code == 503 and "Redis" in response.json()["detail"]
        assert client.get("/api/runs").status_code == 200
        assert client.get(f"/api/runs/{recorded.run_id}/replays").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["redis"] is False and ready.json()["catalog"] is True
        assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_per_route_template(client):
    sid = _create(client)["session_id"]
    client.post(f"/api/play/sessions/{sid}/step", json={"action": 6})
    client.get("/api/runs/20200101-000000-nogit-0000")
    text = client.get("/metrics").text
    assert 'route="/api/play/sessions/{session_id}/step"' in text
    assert 'route="/api/runs/{run_id}",status="404"' in text
    assert "prospector_api_active_sessions 1.0" in text
    assert 'prospector_api_play_steps_total{transport="http"} 1.0' in text
    assert "prospector_api_ws_clients" in text and "prospector_api_http_request_duration_seconds_bucket" in text


def test_fast_path_and_route_answer_a_step_alike(client):
    """A plain body takes the fast path; `6.0` (an integral float) is left to the route, which
    coerces it: both replies must be the same, byte for byte but for the session's own fields."""
    first = _create(client, seed=21)["session_id"]
    second = _create(client, seed=21)["session_id"]
    fast = client.post(f"/api/play/sessions/{first}/step", json={"action": 6, "include_observation": True})
    routed = client.post(f"/api/play/sessions/{second}/step", json={"action": 6.0, "include_observation": True})
    assert fast.status_code == routed.status_code == 200
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    a, b = fast.json(), routed.json()
    assert a.pop("session_id") == first and b.pop("session_id") == second
    a.pop("expires_at"), b.pop("expires_at")
    assert a == b and a["action"] == 6 and len(a["observation"]) == 260
    unknown = "0" * 32  # session errors come from the fast path itself, in the route's shape
    response = client.post(f"/api/play/sessions/{unknown}/step", json={"action": 1})
    assert response.status_code == 404 and response.json() == {"detail": f"session {unknown} does not exist"}
    text = client.post(f"/api/play/sessions/{first}/step", content=b'{"action": 1}',
                       headers={"content-type": "text/plain"})
    assert text.status_code == 422  # not JSON by its content type: the route's answer, as before


@pytest.mark.parametrize("body, taken", [
    (b'{"action": 6}', (6, ViewOptions())),
    (b'{"action":0,"include_state":false,"include_observation":true}', (0, ViewOptions(False, True))),
    (b'{"action": 68}', (68, ViewOptions())),
    (b'{"action": 69}', None), (b'{"action": -1}', None), (b'{"action": 6.0}', None),
    (b'{"action": true}', None), (b'{"action": "6"}', None), (b'{"action": 6, "x": 1}', None),
    (b'{"action": 6, "include_state": 1}', None), (b'{}', None), (b'[6]', None), (b'{"action": 6', None),
])
def test_fast_path_takes_only_bodies_the_route_would_take_as_they_are(body, taken):
    assert _plain_step(body) == taken


async def _steps_at_once(store, session_id: str, n: int) -> list:
    return await asyncio.gather(*(store.step(session_id, 6, ViewOptions(include_state=False)) for _ in range(n)))


def test_concurrent_steps_in_one_process_apply_each_action_once(settings, api_settings):
    """Steps on one session racing on one event loop: each checks the warm engine out or loads
    its own, and compare-and-set orders them; no step is lost or applied twice."""
    store = SessionStore.from_settings(settings, api_settings)

    async def play() -> tuple[list, dict]:
        try:
            view = await store.create(5, EnvConfig(pirates=False, hazards=False), ViewOptions(include_state=False))
            views = await _steps_at_once(store, view.session_id, 30)
            return views, (await store.get(view.session_id)).state_json
        finally:
            await store.aclose()

    views, state = asyncio.run(play())
    store.close()
    assert sorted(v.t for v in views) == list(range(1, 31))  # each step saw a different state
    engine = Engine(EnvConfig(pirates=False, hazards=False), seed=5)
    for _ in range(30):
        engine.step(6)
    assert state == engine.render_json()


def test_one_store_serves_successive_event_loops_on_one_thread(settings, api_settings):
    """The store remembers the caller of the loop it last ran on per thread; a later loop on the
    same thread (the first one closed, its connection with it) and a loop after aclose get
    their own connection, not the dead one."""
    store = SessionStore.from_settings(settings, api_settings)

    async def create_and_step(session_id: str | None) -> tuple[str, int, object]:
        if session_id is None:
            session_id = (await store.create(7, None, ViewOptions(include_state=False))).session_id
        view = await store.step(session_id, 6, ViewOptions(include_state=False))
        return session_id, view.t, store._pipe()

    async def step_close_step(session_id: str) -> tuple[int, int]:
        first = (await store.step(session_id, 6, ViewOptions(include_state=False))).t
        await store.aclose()
        second = (await store.step(session_id, 6, ViewOptions(include_state=False))).t
        await store.aclose()
        return first, second

    try:
        session_id, t1, pipe1 = asyncio.run(create_and_step(None))
        _, t2, pipe2 = asyncio.run(create_and_step(session_id))  # a new loop on this thread
        assert (t1, t2) == (1, 2) and pipe2 is not pipe1
        assert asyncio.run(step_close_step(session_id)) == (3, 4)
    finally:
        store.close()


@pytest.fixture
def raw_redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL)  # bytes, as the session hash holds them
    yield client
    client.close()


def test_steps_are_logged_after_the_saved_state_and_a_cold_replica_replays_them(settings, api_settings, raw_redis):
    """A step commits its action to the session's log, not the 14 kB state; every LOG_LIMIT steps
    (and at a reset) the state is saved again. A replica that never saw the session (another
    store, nothing warm) restores the state and replays the log to the very same game."""
    import random

    from prospector import spec
    from prospector.rollout import random_valid_action
    from prospector_api.sessions import LOG_LIMIT

    warm_store = SessionStore.from_settings(settings, api_settings)
    rng = random.Random(11)
    actions: list[int] = []

    async def play() -> tuple[list, list]:
        view = await warm_store.create(7, None, ViewOptions(include_state=False))
        sid = view.session_id
        key = warm_store.session_key(sid)
        created_state = raw_redis.hget(key, "state")
        mask, logs, cold_views = view.action_mask, [], []
        for n in range(1, 2 * LOG_LIMIT + 12):
            action = random_valid_action(rng, mask, exclude=(spec.A_CASH_OUT,))
            actions.append(action)
            mask = (await warm_store.step(sid, action, ViewOptions(include_state=False))).action_mask
            logs.append((raw_redis.hget(key, "log"), raw_redis.hget(key, "state") == created_state))
            if n in (5, LOG_LIMIT + 1, 2 * LOG_LIMIT + 11):  # a replica with nothing warm reads it
                cold = SessionStore.from_settings(settings, api_settings)
                cold_views.append((n, await cold.get(sid, ViewOptions(include_observation=True))))
                await cold.aclose()
                cold.close()
        await warm_store.aclose()
        return logs, cold_views

    logs, cold_views = asyncio.run(play())
    warm_store.close()
    # the first LOG_LIMIT steps append to the log; the state written at creation stays
    assert logs[LOG_LIMIT - 1] == (bytes(actions[:LOG_LIMIT]), True)
    # the next commit saves the state and empties the log; then the log grows again
    assert logs[LOG_LIMIT] == (b"", False)
    assert logs[LOG_LIMIT + 3][0] == bytes(actions[LOG_LIMIT + 1:LOG_LIMIT + 4])
    engine = Engine(seed=7)
    done = 0
    for n, view in cold_views:
        for action in actions[done:n]:
            engine.step(action)
        done = n
        assert view.t == engine.t
        assert view.state_json == engine.render_json()
        assert view.observation == [float(x) for x in engine.observation()]


def test_a_reset_saves_the_state_and_empties_the_log(settings, api_settings, raw_redis):
    store = SessionStore.from_settings(settings, api_settings)

    async def play() -> tuple[bytes, bytes, int]:
        sid = (await store.create(3, None, ViewOptions(include_state=False))).session_id
        for action in (6, 7, 8):
            await store.step(sid, action, ViewOptions(include_state=False))
        before = raw_redis.hget(store.session_key(sid), "log")
        await store.reset(sid, seed=99)
        after = raw_redis.hget(store.session_key(sid), "log")
        cold = SessionStore.from_settings(settings, api_settings)
        view = await cold.get(sid, ViewOptions(include_state=False))
        await cold.aclose()
        cold.close()
        await store.aclose()
        return before, after, view.seed, view.t

    before, after, seed, t = asyncio.run(play())
    store.close()
    assert (before, after, seed, t) == (bytes((6, 7, 8)), b"", 99, 0)


def test_a_reply_embeds_the_render_state_json_written_in_c_as_it_is(client):
    """A reply's state is Engine.render_json's bytes (written in C), copied into the body as they
    are; those are orjson's bytes of render_state()."""
    import orjson

    sid = _create(client, seed=4)["session_id"]
    engine = Engine(seed=4)
    for action in (8, 0, 11, 6, 20, 29, 29, 33, 1, 9, 6):
        response = client.post(f"/api/play/sessions/{sid}/step", json={"action": action})
        engine.step(action)
        assert b'"state":' + orjson.dumps(engine.render_state()) + b',"info":' in response.content


def test_the_bench_floor_answers_through_the_api_app_with_its_canned_reply(tmp_path):
    """prospector bench api's floor: the API's own app over a store that answers at once with a
    state serialized beforehand; the reply carries that state as it is."""
    import orjson
    from prospector_bench.api_floor import CANNED_SESSION_ID, canned_resources

    resources = canned_resources(tmp_path)
    with TestClient(create_app(resources=resources)) as client:
        created = client.post("/api/play/sessions", json={})
        stepped = client.post(f"/api/play/sessions/{CANNED_SESSION_ID}/step", json={"action": 6})
    assert created.status_code == 201 and stepped.status_code == 200, (created.text, stepped.text)
    assert stepped.json()["state"] == orjson.loads(orjson.dumps(Engine(seed=1).render_state()))
    assert stepped.json()["action"] == 6


@pytest.mark.parametrize("log", [bytes(65), bytes((6, 200)), bytes((69,))])
def test_a_forged_action_log_is_refused_not_replayed(settings, api_settings, raw_redis, log):
    """Sessions come back from Redis, a trust boundary: a log longer than the API ever writes, or
    with an action outside 0..68, makes the session unresumable (410-like SessionExpired) at once."""
    from prospector_api.sessions import SessionExpired

    store = SessionStore.from_settings(settings, api_settings)

    async def play() -> str:
        sid = (await store.create(3, None, ViewOptions(include_state=False))).session_id
        raw_redis.hset(store.session_key(sid), "log", log)
        cold = SessionStore.from_settings(settings, api_settings)
        try:
            with pytest.raises(SessionExpired, match="action log") as caught:
                await cold.get(sid)
            return str(caught.value)
        finally:
            await cold.aclose()
            cold.close()
            await store.aclose()

    message = asyncio.run(play())
    store.close()
    assert "cannot be resumed" in message
