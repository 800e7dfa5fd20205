"""`docker compose up` for real (`make test-compose`): the whole stack in containers, from nothing.

In order, on one compose project (the tests share it and run in this file's order):
    1. `up` from nothing: every container running and healthy (figure: seconds to healthy);
    2. the trainer's windows announced on Redis and cataloged, the evaluator's replays cataloged and
       re-simulated frame by frame inside a container, W&B working in both (figures: seconds from
       `up` to the first window and the first replay);
    3. the page and its script answer from the API container;
    4. a gRPC play session from the host, through the published port;
    5. Prometheus scrapes every target (every service and both exporters) up, loaded the alert
       rules and fires none;
    6. `prospector status` inside a container: a healthy row for Redis and every service;
    7. `--scale evaluator=2`: two evaluator rows, two live consumers, each window evaluated once;
    8. `docker kill` an evaluator holding a window, `docker restart` Redis: no window lost or doubled;
    9. `down` (each service stops in seconds) and `up` with the volumes kept: the catalog, the runs
       and their replays are intact, and the trainer starts a new run (README "Docker");
   10. the trainer as a user's `up` runs it, registering the shipped model as a run with replays.
"""

from __future__ import annotations

import collections
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from .conftest import REPO, ComposeStack, http, wait_for

EPISODES = 3  # the evaluator's episodes per window
SERVICES = {"redis", "postgres", "trainer", "evaluator", "api", "redis-exporter", "postgres-exporter", "prometheus"}
STARTED: dict[str, float] = {}


def all_windows(stack: ComposeStack, run_id: str) -> list[dict[str, Any]]:
    items, after = [], None
    while True:
        page = stack.get_json(f"/api/runs/{run_id}/metrics/windows?limit=500" + (f"&after={after}" if after is not None else ""))
        items += page["items"]
        after = page.get("next_after")
        if after is None:
            return items


def first_run(stack: ComposeStack) -> str:
    runs = stack.runs()
    assert runs, "no run in the catalog"
    return runs[-1]["run_id"] if len(runs) == 1 else sorted(runs, key=lambda r: r["created_at"])[0]["run_id"]


def evaluated(stack: ComposeStack, run_id: str) -> list[int]:
    return [w["window_id"] for w in all_windows(stack, run_id) if w["eval_status"] == "done"]


def redis_json(stack: ComposeStack, *argv: str) -> Any:
    return json.loads(stack.exec("redis", "redis-cli", "--json", *argv).stdout or "null")


def stream_entries(stack: ComposeStack, stream: str) -> list[dict[str, str]]:
    """XRANGE stream - + as a list of field dicts."""
    reply = redis_json(stack, "XRANGE", stream, "-", "+") or []
    entries = []
    for _entry_id, flat in reply:
        entries.append(dict(zip(flat[::2], flat[1::2], strict=True)))
    return entries


def evaluations(stack: ComposeStack, run_id: str) -> dict[str, collections.Counter]:
    """consumer -> Counter of the windows of run_id it evaluated (its progress lines in the logs of
    every evaluator container, killed and restarted ones included)."""
    pattern = re.compile(r"\[evaluator (\S+)\] " + re.escape(run_id) + r"/(\d+): \d+ replays")
    found: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in stack.logs("evaluator").splitlines():
        if m := pattern.search(line):
            found[m.group(1)][int(m.group(2))] += 1
    return found


def doubled_work(stack: ComposeStack, run_id: str) -> list[int]:
    """Windows evaluated by more than one evaluator, or twice by one. Their outcome stays exactly once
    (same replay ids, one catalog row each, announced once), but the work was done twice: an
    evaluator that starts catches up on the catalog's windows without a replay, the one another
    evaluator holds included (prospector_evaluator.service.Evaluator.catch_up)."""
    total = sum(evaluations(stack, run_id).values(), collections.Counter())
    return sorted(w for w, n in total.items() if n > 1)


def check_each_window_once(stack: ComposeStack, run_id: str) -> dict[str, int]:
    """Every window of the run evaluated so far has its replays exactly once: in the catalog, on disk
    and on the replays stream; the windows stream has each window once; nothing dead-lettered."""
    done = set(evaluated(stack, run_id))
    replays = stack.replays(run_id)
    per_window = collections.Counter(r["window_id"] for r in replays if r["window_id"] in done)
    assert per_window == {w: EPISODES for w in done}, f"replays per evaluated window: {per_window}"
    every = collections.Counter(r["window_id"] for r in replays if "every_window" in r["tags"] and r["window_id"] in done)
    assert every == {w: 1 for w in done}, f"every_window replays per window: {every}"
    announced = collections.Counter(e["replay_id"] for e in stream_entries(stack, "prospector:replays")
                                    if e.get("run_id") == run_id)
    doubled = {k: n for k, n in announced.items() if n != 1}
    assert not doubled, f"replays announced more than once: {doubled}"
    assert {r["replay_id"] for r in replays if r["window_id"] in done} <= set(announced), "a cataloged replay never announced"
    windows = [int(e["window_id"]) for e in stream_entries(stack, "prospector:windows") if e.get("run_id") == run_id]
    assert sorted(windows) == list(range(len(windows))), f"windows of {run_id} on the stream: {windows}"
    files = stack.exec("evaluator", "sh", "-c", f"ls /data/runs/{run_id}/replays").stdout.split()
    on_disk = {f.removesuffix(".jsonl.gz") for f in files if f.endswith(".jsonl.gz")}
    assert {r["replay_id"] for r in replays} <= on_disk, "a cataloged replay has no file"
    assert int(stack.redis("EXISTS", "prospector:windows:dead")) == 0 or \
        int(stack.redis("XLEN", "prospector:windows:dead")) == 0, "windows were dead-lettered"
    return {"windows_evaluated": len(done), "replays": len(replays)}


def test_up_from_nothing_every_service_healthy(stack: ComposeStack) -> None:
    STARTED["up"] = time.monotonic()
    stack.compose("up", "--detach", "--wait", "--wait-timeout", "600", timeout=700)
    stack.figure("up_to_healthy_s", round(time.monotonic() - STARTED["up"], 1))
    containers = stack.ps()
    assert {c["Service"] for c in containers} == SERVICES
    for c in containers:
        assert c["State"] == "running" and c["Health"] == "healthy", c
    # One image per service, each built once: three images for the app's three services.
    images = {c["Service"]: c["Image"] for c in containers if c["Service"] in ("trainer", "evaluator", "api")}
    assert len(set(images.values())) == 3, images
    assert stack.exec("api", "python", "-c", "import torch", check=False).returncode != 0, "the API image has torch"
    # The services run as the image's user, whose home is writable (W&B's cache and config).
    for service in ("trainer", "evaluator", "api"):
        out = stack.exec(service, "sh", "-c", "id -u; test -w \"$HOME\" && test -w /data/runs && echo writable").stdout.split()
        assert out == ["10001", "writable"], (service, out)


def test_windows_announced_and_replays_cataloged_and_verified(stack: ComposeStack) -> None:
    run = wait_for(lambda: [r for r in stack.runs() if r["latest_window"]], 600, "the first window in the catalog")[0]
    stack.figure("up_to_first_window_s", round(time.monotonic() - STARTED["up"], 1))
    run_id = run["run_id"]
    assert int(stack.redis("XLEN", "prospector:windows")) >= 1
    replays = wait_for(lambda: stack.replays(run_id), 600, "the first replay in the catalog")
    stack.figure("up_to_first_replay_s", round(time.monotonic() - STARTED["up"], 1))
    replay = replays[0]
    assert replay["length"] > 0
    path = f"/data/runs/{run_id}/replays/{replay['replay_id']}.jsonl.gz"
    verify = stack.exec("evaluator", "prospector", "replay", "verify", "--json", path, check=False)
    result = json.loads(verify.stdout.strip().splitlines()[-1])
    assert verify.returncode == 0 and result["ok"], verify.stdout + verify.stderr
    assert result["frames_checked"] == replay["length"] or result["frames_checked"] > 0, result
    # The frames are served, too.
    frames = stack.get_json(f"/api/runs/{run_id}/replays/{replay['replay_id']}/frames?offset=0&limit=5")
    assert frames["frames"] and frames["frames"][0]["index"] == 0
    # W&B (offline, in the data root) works in the containers: no warning from either service, and
    # the trainer's offline run holds its window logs.
    for service in ("trainer", "evaluator"):
        failures = [line for line in stack.logs(service).splitlines()
                    if "W&B" in line and re.search(r"failed|unavailable|not logged", line)]
        assert not failures, failures
    offline = stack.exec("trainer", "sh", "-c", f"ls -d /data/runs/{run_id}/wandb/offline-run-*").stdout.split()
    assert offline, "no offline W&B run in the data root"


def test_page_answers(stack: ComposeStack) -> None:
    status, body, headers = http(stack.base + "/")
    assert status == 200 and headers.get("content-type", "").startswith("text/html"), (status, headers)
    scripts = re.findall(rb'src="(/assets/[^"]+\.js)"', body)
    assert scripts, body[:500]
    status, js, headers = http(stack.base + scripts[0].decode())
    assert status == 200 and len(js) > 1000 and "javascript" in headers.get("content-type", ""), (status, headers)
    meta = stack.get_json("/api/meta")
    if (REPO / "models" / "ppo-pretrained" / "policy.npz").is_file():  # the shipped policy is in the image
        assert meta.get("pretrained"), meta.get("pretrained")


def test_grpc_play_session_from_the_host(stack: ComposeStack) -> None:
    import grpc
    from prospector_rpc.pb import pb2, pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{stack.grpc_port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        play = pb2_grpc.PlayServiceStub(channel)
        session = play.CreateSession(pb2.CreateSessionRequest(seed=7), timeout=10)
        ticks = [play.Step(pb2.StepRequest(session_id=session.session_id, action=6), timeout=10).t for _ in range(5)]
        assert ticks == list(range(ticks[0], ticks[0] + 5)) and ticks[0] >= 1, ticks
        with pytest.raises(grpc.RpcError) as bad:
            play.Step(pb2.StepRequest(session_id=session.session_id, action=69), timeout=10)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        play.CloseSession(pb2.CloseSessionRequest(session_id=session.session_id), timeout=10)


def prometheus(stack: ComposeStack, path: str) -> Any:
    status, body, _ = http(f"http://127.0.0.1:{stack.prometheus_port}{path}")
    assert status == 200, (path, status, body[:300])
    return json.loads(body)["data"]


def test_prometheus_scrapes_every_target_and_loads_the_alerts(stack: ComposeStack) -> None:
    jobs = {"trainer", "evaluator", "api", "redis", "postgres", "prometheus"}

    def all_up():
        active = prometheus(stack, "/api/v1/targets")["activeTargets"]
        seen = {t["labels"]["job"] for t in active}
        return active if seen == jobs and all(t["health"] == "up" for t in active) else None

    try:
        active = wait_for(all_up, 120, "every Prometheus target up", every=3)
    except AssertionError:
        targets = prometheus(stack, "/api/v1/targets")["activeTargets"]
        raise AssertionError([(t["labels"]["job"], t["health"], t.get("lastError")) for t in targets]) from None
    assert len(active) == len(jobs)  # one evaluator so far
    groups = {g["name"]: g for g in prometheus(stack, "/api/v1/rules")["groups"]}
    assert set(groups) == {"prospector-services", "prospector-infrastructure"}
    rules = [r for g in groups.values() for r in g["rules"]]
    assert len(rules) == 11 and all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    firing = [a for a in prometheus(stack, "/api/v1/alerts")["alerts"] if a["state"] == "firing"]
    assert not firing, firing

    def query(expr: str) -> list[dict[str, Any]]:
        return prometheus(stack, "/api/v1/query?query=" + urllib_quote(expr))["result"]

    # What the infrastructure alerts read is really there.
    assert [r["value"][1] for r in query("redis_up")] == ["1"]
    assert [r["value"][1] for r in query("pg_up")] == ["1"]
    # (scraped every 15 s: the first windows may be newer than the last scrape)
    wait_for(lambda: [r for r in query('redis_stream_length{stream="prospector:windows"}') if float(r["value"][1]) >= 1],
             90, "the windows stream's length in Prometheus", every=3)


def urllib_quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_status_inside_a_container(stack: ComposeStack) -> None:
    proc = stack.exec("api", "prospector", "status", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for service in ("redis", "trainer", "evaluator", "api"):
        assert re.search(rf"│ {service}\s+│ healthy", proc.stdout), proc.stdout
    rows = stack.status("trainer")  # the same from the trainer's image
    assert [r["service"] for r in rows] == ["redis", "trainer", "evaluator", "api"]
    assert all(r["health"] == "healthy" for r in rows), rows
    assert rows[2]["details"]["consumers"] == 1


def evaluator_rows(stack: ComposeStack) -> list[dict[str, Any]]:
    return [r for r in stack.status() if r["service"].startswith("evaluator")]


def test_two_evaluators_evaluate_each_window_once(stack: ComposeStack) -> None:
    stack.compose("up", "--detach", "--wait", "--wait-timeout", "300", "--no-recreate", "--scale", "evaluator=2",
                  timeout=400)
    assert len(stack.containers("evaluator")) == 2
    run_id = first_run(stack)
    start = len(evaluated(stack, run_id))

    def two_rows():  # two rows, healthy, and two live consumers (the new one joins the group at its first read)
        rows = evaluator_rows(stack)
        return rows if len(rows) == 2 and all(r["health"] == "healthy" for r in rows) \
            and all(r["details"].get("consumers") == 2 for r in rows) else None

    rows = wait_for(two_rows, 120, "two healthy evaluator rows and two live consumers in `prospector status`", every=3)
    assert len({r["details"]["consumer"] for r in rows}) == 2, rows
    wait_for(lambda: len(evaluated(stack, run_id)) >= start + 4, 600, "four more windows evaluated", every=3)
    # Each evaluator counts what it evaluated, and says so in its log: the two agree, and both
    # evaluators got windows from the group. The trainer keeps training, so a window may end
    # between the status and the log read: read both again until they describe the same moment.
    seen: list[Any] = []

    def agreeing():
        before = len(evaluated(stack, run_id))
        done = {r["details"]["consumer"]: r["details"]["windows_done"] for r in evaluator_rows(stack)}
        by_log = evaluations(stack, run_id)
        after = len(evaluated(stack, run_id))
        seen[:] = [by_log, done]
        agree = {c: sum(n.values()) for c, n in by_log.items() if c in done} == done
        return (before, done, by_log, after) if agree else None

    try:
        before, done, by_log, after = wait_for(agreeing, 60, "status and logs agreeing", every=1)
    except AssertionError:
        raise AssertionError(f"status and logs never agreed: {seen}") from None
    assert all(n >= 1 for n in done.values()), f"an evaluator got no window: {done}"
    # Together, each window once; the one window the new evaluator's catch-up may take while the
    # first still holds it is the only work allowed twice (see doubled_work).
    doubled = doubled_work(stack, run_id)
    assert len(doubled) <= 1 and before - 1 <= sum(done.values()) - len(doubled) <= after, (done, doubled, before, after)
    stack.figure("scale2_windows_done_per_evaluator", sorted(done.values()))
    stack.figure("scale2_windows_evaluated_twice", doubled)
    check_each_window_once(stack, run_id)


def test_evaluator_killed_mid_window_and_redis_restarted_lose_nothing(stack: ComposeStack) -> None:
    run_id = first_run(stack)

    def holder():  # a consumer holding a delivered, unacknowledged window: an evaluation in flight
        entries = redis_json(stack, "XPENDING", "prospector:windows", "evaluators", "-", "+", "10") or []
        return [(consumer, entry_id) for entry_id, consumer, _idle, _n in entries]

    consumer, entry_id = wait_for(holder, 300, "an evaluator in the middle of a window", every=0.3)[0]
    host = consumer.rsplit("-", 1)[0]
    victim = [c for c in stack.containers("evaluator") if c["ID"].startswith(host)]
    assert victim, (consumer, stack.containers("evaluator"))
    victim_id = victim[0]["ID"]
    stack.docker("kill", victim_id)
    (_, flat), = redis_json(stack, "XRANGE", "prospector:windows", entry_id, entry_id)
    held = int(dict(zip(flat[::2], flat[1::2], strict=True))["window_id"])
    windows_at_kill = len(all_windows(stack, run_id))
    doubled_before = doubled_work(stack, run_id)

    # Redis restarts (its append-only file keeps streams, the group and sessions).
    stack.docker("restart", stack.containers("redis")[0]["ID"])
    wait_for(lambda: stack.redis("PING").strip() == "PONG", 60, "Redis back")

    # `docker kill` is a stop by hand: no restart policy brings the container back. The window it
    # held is claimed by the other evaluator once idle 5 s (PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS).
    start = time.monotonic()
    wait_for(lambda: held in evaluated(stack, run_id), 300, f"window {held} (held by the killed evaluator) evaluated",
             every=1)
    stack.figure("killed_window_evaluated_after_s", round(time.monotonic() - start, 1))
    assert [c["State"] for c in stack.containers("evaluator") if c["ID"] == victim_id] == ["exited"]
    stack.docker("start", victim_id)  # back, as an operator (or `up --scale evaluator=2`) would

    # A crash inside a container (the service's process killed; init forwards nothing, it exits with
    # it) is what the restart policy is for.
    survivor = [c["ID"] for c in stack.containers("evaluator") if c["ID"] != victim_id][0]
    restarts = int(stack.docker("inspect", "-f", "{{.RestartCount}}", survivor).stdout)
    stack.docker("exec", survivor, "sh", "-c",
                 "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q 'bin/prospector[ ]evaluate'"
                 " && kill -9 ${p#/proc/}; done; true")
    wait_for(lambda: int(stack.docker("inspect", "-f", "{{.RestartCount}}", survivor).stdout) > restarts, 60,
             "the crashed evaluator restarted by its policy")

    wait_for(lambda: all(c["State"] == "running" for c in stack.containers("evaluator")), 60, "both evaluators running")
    wait_for(lambda: len(evaluated(stack, run_id)) >= windows_at_kill + 2, 600,
             "two windows past the faults evaluated", every=3)
    figures = check_each_window_once(stack, run_id)
    pending = redis_json(stack, "XPENDING", "prospector:windows", "evaluators")
    assert int(pending[0]) <= 2, pending  # at most the windows in flight right now
    # Work done twice: at most the windows in flight at a fault (a claimed window whose evaluator
    # comes back and catches up on it).
    doubled = [w for w in doubled_work(stack, run_id) if w not in doubled_before]
    assert len(doubled) <= 2, doubled
    stack.figure("after_faults", {**figures, "windows_evaluated_twice": doubled})


def test_down_then_up_keeps_the_catalog_and_runs(stack: ComposeStack) -> None:
    run_id = first_run(stack)
    windows_before = len(evaluated(stack, run_id))
    replays_before = {r["replay_id"] for r in stack.replays(run_id)}

    # `stop` first (the containers stay, to be asked how they ended), then `down`.
    start, wall = time.monotonic(), datetime.now(UTC)
    stack.compose("stop", timeout=180)
    stack.figure("stop_s", round(time.monotonic() - start, 1))
    stopped = {}
    for c in stack.ps():
        state = json.loads(stack.docker("inspect", "-f", "{{json .State}}", c["ID"]).stdout)
        finished = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", state["FinishedAt"]).replace("Z", "+00:00"))
        stopped[c["Service"]] = (state["ExitCode"], round((finished - wall).total_seconds(), 1))
    stack.figure("stopped_exit_code_and_s", stopped)
    # Each service ends on SIGTERM by itself (init forwards it), in seconds: none is SIGKILLed at
    # the end of its grace period (exit code 137).
    for service, (code, seconds) in stopped.items():
        assert code != 137, f"{service} was killed after its grace period ({seconds} s)"
        assert seconds < 20, (service, seconds)
    start = time.monotonic()
    stack.compose("down", timeout=180)
    stack.figure("down_after_stop_s", round(time.monotonic() - start, 1))
    assert stack.ps() == []
    volumes = stack.docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={stack.project}").stdout.split()
    assert len(volumes) == 4, volumes

    start = time.monotonic()
    stack.compose("up", "--detach", "--wait", "--wait-timeout", "600", timeout=700)
    stack.figure("up_again_to_healthy_s", round(time.monotonic() - start, 1))
    assert run_id in {r["run_id"] for r in stack.runs()}
    assert len(evaluated(stack, run_id)) >= windows_before
    assert replays_before <= {r["replay_id"] for r in stack.replays(run_id)}
    some = sorted(replays_before)[0]
    verify = stack.exec("evaluator", "prospector", "replay", "verify", f"/data/runs/{run_id}/replays/{some}.jsonl.gz",
                        check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # `prospector train --config X` starts a new run each time (README "Docker"): the old one stays.
    new = wait_for(lambda: [r for r in stack.runs() if r["run_id"] != run_id and r["latest_window"]], 600,
                   "the new run's first window")[0]
    wait_for(lambda: stack.replays(new["run_id"]), 600, "the new run's first replay")
    check_each_window_once(stack, run_id)


def test_the_trainer_registers_the_shipped_model_as_a_run_with_replays(stack: ComposeStack) -> None:
    """10. What a user's `docker compose up` does by default (PROSPECTOR_PRETRAINED unset): the
    shipped model (models/ppo-pretrained, in the images) becomes a finished run of its own,
    evaluated like any window, beside the fresh run; the API serves the same model's suggestions."""
    card = json.loads((REPO / "models" / "ppo-pretrained" / "card.json").read_text())
    stack.env["PROSPECTOR_PRETRAINED"] = "register"
    start = time.monotonic()
    stack.compose("up", "--detach", "--wait", "--wait-timeout", "600", "trainer", timeout=700)
    run = wait_for(lambda: [r for r in stack.runs() if r["run_id"] == card["run_id"]], 300,
                   "the pretrained run in the catalog")[0]
    assert run["status"] == "finished" and run["latest_window"]["window_id"] == card["window_id"]
    replays = wait_for(lambda: stack.replays(card["run_id"]), 900, "the pretrained run's replays")
    stack.figure("pretrained_run_to_first_replay_s", round(time.monotonic() - start, 1))
    assert {r["window_id"] for r in replays} == {card["window_id"]}
    assert stack.get_json("/api/meta")["pretrained"]["run_id"] == card["run_id"]
    # a second start registers nothing twice: one window, its replays once each
    stack.compose("restart", "trainer", timeout=180)
    time.sleep(10)
    assert [w["window_id"] for w in all_windows(stack, card["run_id"])] == [card["window_id"]]
    again = stack.replays(card["run_id"])
    assert len({r["replay_id"] for r in again}) == len(again) and len(again) >= len(replays)
