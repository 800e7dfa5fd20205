"""`prospector bench api`: the API under load, on loopback, against a real `prospector api` process.

    (a) play latency: S sessions each stepping R times a second for T seconds
        (default 200 x 10/s x 30 s = 2,000 steps/s offered), over HTTP, over
        gRPC (unary Step calls) and over gRPC's Play stream (one per session,
        as bots play): p50 / p90 / p99 / max step latency, errors, steps done
    (b) saturation: closed-loop stepping with growing concurrency; the most
        steps per second each transport sustains with zero errors
    (c) replay frames per second delivered over the WebSocket to N clients
        (unpaced, fps at the server's maximum), and at 30 fps, with the
        slowest and fastest client's share and Jain's fairness index
    (d) the floor, per transport (HTTP, gRPC unary, gRPC stream): the API's own
        app and PlayService over a session store that answers at once with a
        canned reply of the same size (prospector_bench.api_floor: no engine, no
        Redis, no JSON of a state). Side by side in the same run: the floor's
        saturation (as (b)), then both servers paced at half of it, for the p99
        and the server CPU per step of each; `vs_floor` gives the ratios (goals:
        CPU per step within 2x of the floor's, saturation at least half of it)
    (f) suggestions of the pretrained model (POST .../suggest, gRPC Suggest):
        closed loop, the server CPU per suggestion and its latency, and the
        model's forward pass alone in this process (the bench serves the model
        of PROSPECTOR_PRETRAINED_MODEL, else the shipped one, else an untrained
        one of the default shape, which costs the same)
    (e) frames of a long replay (20,000 ticks): the median time of a page at
        its start and at its end through GET .../frames (the API's keyframe
        index keeps the last within about twice the first)
    and the saved state per session: the engine's bytes, and Redis's memory
    for the whole session hash.

The server is `prospector api --workers W` in a subprocess (default one worker
per core, as deployed). HTTP load comes from here, on uvloop, with a minimal
HTTP/1.1 keep-alive client (one connection per session, as each player's page
has its own), parsing replies with orjson. gRPC load comes by default from
build/grpc_loadgen (bench/loadgen, `make loadgen`): a C++ client on one
thread that uses a quarter to a third of the CPU per step that grpc.aio here
does (`--client python` for that one), with one channel, so one connection,
per `--sessions-per-channel` sessions. Every step asks for the full render
state, as a human player's page does. The server, Redis and the load generator
share this machine's cores: each part reports the CPU seconds the client, the
server processes and Redis used, so the split is visible.

Only the standard library and the engine are imported at module level (so
`prospector bench --help` loads no service); the API's client libraries
(orjson, uvloop, grpc, httpx, redis, websockets) and the services load when a
part runs. Random play is prospector.rollout's: uniform among the valid
actions, never CASH_OUT (it would end every episode at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prospector import spec
from prospector.rollout import random_valid_action

from .machine import CpuMeter, self_cpu_s, tree_cpu_s
from .machine import child_pids as _children  # noqa: F401 - tests/api/test_workers.py counts workers with it

GOALS_MS = {"grpc": 10.0, "grpc-stream": 10.0, "http": 15.0}
# the issue's two transports, and bots' way of playing over gRPC: one Play stream per session
TRANSPORTS = ("http", "grpc", "grpc-stream")


def add_bench_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object with every figure")
    p.add_argument("--quick", action="store_true", help="small sizes, a few seconds (for tests)")
    p.add_argument("--sessions", type=int, default=None, help="play sessions in (a) (default 200; quick 20)")
    p.add_argument("--rate", type=float, default=10.0, help="steps per second per session in (a) (default 10)")
    p.add_argument("--seconds", type=float, default=None, help="duration of (a) per transport (default 30; quick 1)")
    p.add_argument("--ws-clients", type=int, default=None, help="WebSocket clients in (c) (default 50; quick 4)")
    p.add_argument("--transports", default=",".join(TRANSPORTS),
                   help=f"comma-separated transports for (a) and (b) (default {','.join(TRANSPORTS)})")
    p.add_argument("--skip", default="",
                   help="comma-separated parts to skip: latency, saturation, ws, floor, frames, suggest")
    p.add_argument("--workers", type=int, default=None,
                   help="API worker processes (prospector api --workers; default one per core)")
    p.add_argument("--client", choices=("native", "python"), default="native",
                   help="gRPC load generator: native (build/grpc_loadgen, `make loadgen`; default) or "
                        "python (grpc.aio in this process)")
    p.add_argument("--sessions-per-channel", type=int, default=10,
                   help="gRPC sessions sharing one channel (one TCP connection); default 10")


# ---- a tiny HTTP/1.1 keep-alive client ---------------------------------------------------


class RawHttp:
    """One keep-alive connection; requests one at a time. Enough for a load generator."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def connect(cls, host: str, port: int) -> RawHttp:
        reader, writer = await asyncio.open_connection(host, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, f"{host}:{port}")

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        import orjson

        data = b"" if body is None else orjson.dumps(body)
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        self.writer.write(head + data)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class RandomPlayer:
    """The load's player, a rollout Agent: uniform among the valid actions, never CASH_OUT,
    from its own random.Random(seed), one stream of actions across episodes as a session plays."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def reset(self, seed: int) -> None:
        pass

    def act(self, observation: Any, mask: Sequence) -> int:
        return random_valid_action(self.rng, mask, exclude=(spec.A_CASH_OUT,))


def _percentiles(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 3),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 3)}


# ---- transports: create, step, reset, close ----------------------------------------------


class HttpPlayer:
    transport = "http"

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def open(self) -> None:
        import orjson

        self.conn = await RawHttp.connect(self.host, self.port)
        status, body = await self.conn.request("POST", "/api/play/sessions", {})
        if status != 201:
            raise RuntimeError(f"create session: HTTP {status} {body[:200]!r}")
        reply = orjson.loads(body)
        self.session_id, self.mask, self.done = reply["session_id"], reply["action_mask"], False

    async def step(self, action: int) -> None:
        import orjson

        status, body = await self.conn.request("POST", f"/api/play/sessions/{self.session_id}/step",
                                               {"action": action})
        if status != 200:
            raise RuntimeError(f"step: HTTP {status} {body[:200]!r}")
        reply = orjson.loads(body)
        self.mask, self.done = reply["action_mask"], reply["terminated"] or reply["truncated"]

    async def reset(self) -> None:
        import orjson

        status, body = await self.conn.request("POST", f"/api/play/sessions/{self.session_id}/reset", {})
        if status != 200:
            raise RuntimeError(f"reset: HTTP {status}")
        reply = orjson.loads(body)
        self.mask, self.done = reply["action_mask"], False

    async def close(self) -> None:
        try:
            await self.conn.request("DELETE", f"/api/play/sessions/{self.session_id}")
        finally:
            self.conn.close()


class HttpSuggester(HttpPlayer):
    """Asks for suggestions instead of stepping (part (f)); the session stays where it is."""

    async def step(self, action: int) -> None:
        import orjson

        status, body = await self.conn.request("POST", f"/api/play/sessions/{self.session_id}/suggest")
        if status != 200:
            raise RuntimeError(f"suggest: HTTP {status} {body[:200]!r}")
        orjson.loads(body)


class GrpcPlayer:
    transport = "grpc"

    def __init__(self, stub: Any) -> None:
        self.stub = stub

    async def open(self) -> None:
        from prospector_rpc.pb import pb2

        self.pb2 = pb2
        reply = await self.stub.CreateSession(pb2.CreateSessionRequest())
        self.session_id, self.mask, self.done = reply.session_id, list(reply.action_mask), False

    async def step(self, action: int) -> None:
        import orjson

        reply = await self.stub.Step(self.pb2.StepRequest(session_id=self.session_id, action=action))
        orjson.loads(reply.state_json)  # what a client does with it; keeps the two transports comparable
        self.mask, self.done = list(reply.action_mask), reply.terminated or reply.truncated

    async def reset(self) -> None:
        reply = await self.stub.Reset(self.pb2.ResetRequest(session_id=self.session_id))
        self.mask, self.done = list(reply.action_mask), False

    async def close(self) -> None:
        await self.stub.CloseSession(self.pb2.CloseSessionRequest(session_id=self.session_id))


class GrpcSuggester(GrpcPlayer):
    """gRPC Suggest calls instead of steps (part (f))."""

    async def step(self, action: int) -> None:
        await self.stub.Suggest(self.pb2.SuggestRequest(session_id=self.session_id))


class GrpcStreamPlayer(GrpcPlayer):
    """A bot's way: one bidirectional Play stream per session, one message per step."""

    transport = "grpc-stream"

    async def open(self) -> None:
        from prospector_rpc.pb import pb2

        self.pb2 = pb2
        self.call = self.stub.Play()
        await self.call.write(pb2.PlayRequest(create=pb2.CreateSessionRequest(), close_on_end=True))
        reply = await self.call.read()
        self.session_id, self.mask, self.done = reply.session_id, list(reply.action_mask), False

    async def _send(self, request: Any) -> Any:
        await self.call.write(request)
        reply = await self.call.read()
        if reply is None or not isinstance(reply, self.pb2.Transition):
            raise RuntimeError(f"Play stream ended: {await self.call.code()} {await self.call.details()}")
        return reply

    async def step(self, action: int) -> None:
        import orjson

        reply = await self._send(self.pb2.PlayRequest(action=action))
        orjson.loads(reply.state_json)
        self.mask, self.done = list(reply.action_mask), reply.terminated or reply.truncated

    async def reset(self) -> None:
        reply = await self._send(self.pb2.PlayRequest(reset=self.pb2.ResetRequest()))
        self.mask, self.done = list(reply.action_mask), False

    async def close(self) -> None:
        await self.call.done_writing()  # close_on_end: the server closes the session
        await self.call


async def _players(transport: str, n: int, host: str, ports: dict[str, int],
                   per_channel: int = 10) -> tuple[list[Any], list[Any]]:
    channels: list[Any] = []
    if transport in ("http", "http-suggest"):
        kind = HttpSuggester if transport == "http-suggest" else HttpPlayer
        players: list[Any] = [kind(host, ports["http"]) for _ in range(n)]
    else:
        import grpc
        from prospector_rpc.pb import pb2_grpc

        # a local subchannel pool: each channel its own TCP connection (by default channels to
        # one address share one), so the server's workers share the load as with many clients
        channels = [grpc.aio.insecure_channel(f"{host}:{ports['grpc']}",
                                              options=[("grpc.use_local_subchannel_pool", 1)])
                    for _ in range(max(1, -(-n // max(1, per_channel))))]
        stubs = [pb2_grpc.PlayServiceStub(c) for c in channels]
        kind = {"grpc-stream": GrpcStreamPlayer, "grpc-suggest": GrpcSuggester}.get(transport, GrpcPlayer)
        players = [kind(stubs[i % len(stubs)]) for i in range(n)]
    for i in range(0, n, 20):  # not all at once: session creation is not what is measured
        await asyncio.gather(*(p.open() for p in players[i:i + 20]))
    return players, channels


async def _close_players(players: list[Any], channels: list[Any]) -> None:
    await asyncio.gather(*(p.close() for p in players), return_exceptions=True)
    for channel in channels:
        await channel.close()


# ---- (a) latency at a fixed offered rate ---------------------------------------------------


async def _paced(transport: str, sessions: int, rate: float, seconds: float, host: str,
                 ports: dict[str, int], per_channel: int, cpu: CpuMeter) -> dict[str, Any]:
    players, channels = await _players(transport, sessions, host, ports, per_channel)
    latencies: list[float] = []
    errors: list[str] = []
    late = 0
    start = time.monotonic() + 0.2
    end = start + seconds

    async def run(i: int, player: Any) -> None:
        nonlocal late
        policy = RandomPlayer(i)
        due = start + (i / sessions) / rate  # spread the sessions over one period
        while due < end:
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 0.1 / rate:
                late += 1
            if player.done:
                await player.reset()
            t0 = time.perf_counter()
            try:
                await player.step(policy.act(None, player.mask))
                latencies.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - every failure counts as an error
                errors.append(f"{type(exc).__name__}: {exc}")
            due += 1.0 / rate

    began = time.monotonic()
    cpu.start()
    await asyncio.gather(*(run(i, p) for i, p in enumerate(players)))
    elapsed = time.monotonic() - began
    used = cpu.stop()
    await _close_players(players, channels)
    return {"transport": transport, "sessions": sessions, "rate_per_session": rate, "seconds": seconds,
            "offered_steps_per_s": sessions * rate, "steps": len(latencies),
            "achieved_steps_per_s": round(len(latencies) / elapsed, 1), "errors": len(errors),
            "error_examples": errors[:3], "late_sends": late, **_percentiles(latencies),
            "goal_p99_ms": GOALS_MS.get(transport), "cpu": used,
            "cpu_ms_per_step": {k: round(v * 1000 / max(1, len(latencies)), 3) for k, v in used.items()
                                if k != "wall_s"}}


# ---- gRPC load from the native client (bench/loadgen) ----------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]  # bench/prospector_bench/api.py


def loadgen_binary() -> Path:
    """build/grpc_loadgen, or PROSPECTOR_GRPC_LOADGEN."""
    return Path(os.environ.get("PROSPECTOR_GRPC_LOADGEN", REPO_ROOT / "build" / "grpc_loadgen"))


def _native(transport: str, sessions: int, rate: float, seconds: float, host: str, ports: dict[str, int],
            per_channel: int, cpu: CpuMeter) -> dict[str, Any]:
    """(a) or, with rate 0, (b) for one gRPC transport, driven by build/grpc_loadgen. The client's
    CPU is the load generator's own (it reports it); the server's and Redis's are read while it
    steps (it marks the phase on stderr)."""
    binary = loadgen_binary()
    if not binary.is_file():
        raise SystemExit(f"the native gRPC load generator {binary} is not built: run `make loadgen`, "
                         "or pass --client python")
    command = [str(binary), "--target", f"{host}:{ports['grpc']}",
               "--mode", "stream" if transport == "grpc-stream" else "unary", "--sessions", str(sessions),
               "--rate", f"{rate:g}", "--seconds", f"{seconds:g}", "--sessions-per-channel", str(per_channel)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    used: dict[str, float] | None = None
    log: list[str] = []
    assert process.stderr is not None and process.stdout is not None
    for line in process.stderr:
        if line.strip() == "loadgen: stepping":
            cpu.start()
        elif line.strip() == "loadgen: stepped":
            used = cpu.stop()
        else:
            log.append(line)
    out = process.stdout.read()
    if process.wait() != 0 or used is None:
        raise RuntimeError(f"{' '.join(command)} failed (exit {process.returncode}): {''.join(log)[-2000:]}")
    figures = json.loads(out)
    used["client_s"] = figures["client_cpu_s"]
    steps = figures["steps"]
    return {"transport": transport, "client": "native", "sessions": sessions, "rate_per_session": rate,
            "seconds": seconds, "offered_steps_per_s": sessions * rate, "steps": steps,
            "achieved_steps_per_s": figures["achieved_steps_per_s"], "errors": figures["errors"],
            "error_examples": figures["error_examples"], "late_sends": figures["late_sends"],
            **{k: figures[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")},
            "goal_p99_ms": GOALS_MS[transport], "cpu": used,
            "cpu_ms_per_step": {k: round(v * 1000 / max(1, steps), 3) for k, v in used.items() if k != "wall_s"}}


def _latency_run(transport: str, client: str, sessions: int, rate: float, seconds: float, host: str,
                 ports: dict[str, int], per_channel: int, cpu: CpuMeter) -> dict[str, Any]:
    """(a) for one transport with the chosen client (HTTP is always driven from here)."""
    if client == "native" and transport.startswith("grpc"):
        return _native(transport, sessions, rate, seconds, host, ports, per_channel, cpu)
    import uvloop

    result = uvloop.run(_paced(transport, sessions, rate, seconds, host, ports, per_channel, cpu))
    return {**result, "client": "python"}


def _saturation_run(transport: str, client: str, concurrency: int, seconds: float, host: str,
                    ports: dict[str, int], per_channel: int, cpu: CpuMeter) -> dict[str, Any]:
    """One closed-loop level of (b)."""
    if client == "native" and transport.startswith("grpc"):
        r = _native(transport, concurrency, 0.0, seconds, host, ports, per_channel, cpu)
        return {"concurrency": concurrency, "client": "native", "steps_per_s": r["achieved_steps_per_s"],
                "errors": r["errors"], **{k: r[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")},
                "cpu": r["cpu"], "cpu_ms_per_step": r["cpu_ms_per_step"]}
    import uvloop

    result = uvloop.run(_closed_loop(transport, concurrency, seconds, host, ports, per_channel, cpu))
    return {**result, "client": "python"}


# ---- (b) saturation ---------------------------------------------------------------------------


async def _closed_loop(transport: str, concurrency: int, seconds: float, host: str,
                       ports: dict[str, int], per_channel: int, cpu: CpuMeter) -> dict[str, Any]:
    players, channels = await _players(transport, concurrency, host, ports, per_channel)
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + seconds

    async def run(i: int, player: Any) -> None:
        nonlocal errors
        policy = RandomPlayer(i)
        while time.monotonic() < end:
            if player.done:
                await player.reset()
            t0 = time.perf_counter()
            try:
                await player.step(policy.act(None, player.mask))
                latencies.append(time.perf_counter() - t0)
            except Exception:  # noqa: BLE001
                errors += 1

    began = time.monotonic()
    cpu.start()
    await asyncio.gather(*(run(i, p) for i, p in enumerate(players)))
    elapsed = time.monotonic() - began
    used = cpu.stop()
    await _close_players(players, channels)
    return {"concurrency": concurrency, "steps_per_s": round(len(latencies) / elapsed, 1), "errors": errors,
            **_percentiles(latencies), "cpu": used,
            "cpu_ms_per_step": {k: round(v * 1000 / max(1, len(latencies)), 3) for k, v in used.items()
                                if k != "wall_s"}}


# ---- (c) WebSocket replay frames -------------------------------------------------------------


async def _ws_clients(n: int, fps: float, seconds: float, host: str, port: int, run_id: str,
                      replay_id: str, cpu: CpuMeter) -> dict[str, Any]:
    import orjson
    import websockets

    url = f"ws://{host}:{port}/ws/runs/{run_id}/replays/{replay_id}?fps={fps:g}"
    counts = [0] * n
    errors: list[str] = []
    end = time.monotonic() + seconds

    async def client(i: int) -> None:
        try:
            async with websockets.connect(url, max_size=2**22) as ws:
                while time.monotonic() < end:
                    try:
                        text = await asyncio.wait_for(ws.recv(), timeout=max(0.01, end - time.monotonic()))
                    except TimeoutError:
                        break
                    kind = orjson.loads(text)["type"]
                    if kind == "frame":
                        counts[i] += 1
                    elif kind == "done":
                        await ws.send(json.dumps({"type": "seek", "frame": 0}))  # loop the replay
                    elif kind == "error":
                        errors.append(text[:200])
                        return
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")

    began = time.monotonic()
    cpu.start()
    await asyncio.gather(*(client(i) for i in range(n)))
    elapsed = time.monotonic() - began
    used = cpu.stop()
    total = sum(counts)
    # Jain's index: 1.0 when every client got the same number of frames, 1/n when one got them all
    fairness = total * total / (n * sum(c * c for c in counts)) if total else 0.0
    return {"clients": n, "fps_asked": fps, "seconds": round(elapsed, 2), "frames": total,
            "frames_per_s": round(total / elapsed, 1),
            "frames_per_s_per_client_min": round(min(counts) / elapsed, 1) if counts else 0.0,
            "frames_per_s_per_client_max": round(max(counts) / elapsed, 1) if counts else 0.0,
            "fairness_jain": round(fairness, 4), "errors": len(errors), "error_examples": errors[:3], "cpu": used}


# ---- CPU: the client (this process), the server processes, Redis ---------------------------------


def _cpu_meter(server_pid: int, redis_client: Any) -> CpuMeter:
    """CPU seconds of the client (this process), the server (parent and workers) and Redis
    (its INFO cpu) over a run: who spent the machine's cores on it."""

    def redis_s() -> float:
        info = redis_client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    return CpuMeter(client_s=self_cpu_s, server_s=lambda: tree_cpu_s(server_pid), redis_s=redis_s)


# ---- set-up: a replay, the server ------------------------------------------------------------


def _make_replay(data_dir: Path, frames: int) -> tuple[str, str]:
    """A run with one replay of about `frames` steps, played by the load's player and recorded
    with the evaluator's Recorder."""
    from prospector.engine import Engine
    from prospector.rollout import run_episode
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_replay_id, new_run_id
    from prospector_common.settings import Settings
    from prospector_common.storage import RunPaths
    from prospector_common.replay import Recorder, write_replay

    settings = Settings(data_dir=data_dir)
    run_id = new_run_id(git_sha="nogit")
    config = spec.EnvConfig(time_max=frames, pirates=False, hazards=False)
    engine = Engine(config, seed=1)
    recorder = Recorder(engine.render_state())

    def record(engine: Engine, action: int, reward: float) -> None:
        recorder.add(action, reward, engine.events(), engine.render_state())

    run_episode(RandomPlayer(1), engine, on_step=record)
    paths = RunPaths(data_dir, run_id)
    paths.make_dirs()
    replay_id = new_replay_id(0, 1)
    write_replay(paths.replay(replay_id), recorder.to_bytes(run_id=run_id, window_id=0, replay_id=replay_id,
                                                             seed=1, env_config=config.to_dict()))
    with Catalog(settings.database_url) as catalog:
        catalog.create_all()
        catalog.upsert_run(run_id, config={"env": config.to_dict()}, spec_version=spec.SPEC_VERSION,
                           git_sha="nogit")
        catalog.add_window(run_id, 0, env_steps_total=0, checkpoint_path="none", metrics={})
        m = engine.metrics()
        catalog.add_replay(replay_id=replay_id, run_id=run_id, window_id=0, seed=1, return_=m["episode_return"],
                           net_profit=m["net_profit"], survival=m["survival"] >= 1, length=len(recorder),
                           tags=["every_window"], path=paths.relative(paths.replay(replay_id)))
    return run_id, replay_id


def make_long_replay(data_dir: Path, ticks: int, seed: int = 2) -> tuple[str, str, int]:
    """(run_id, replay_id, frames): a cataloged replay that plays all `ticks` of its time budget,
    about one frame a tick: a player that stays at the station (so it is never stranded) and
    mostly holds, now and then listening, docking, cooling down or buying."""
    from prospector.engine import Engine
    from prospector_common.catalog import Catalog
    from prospector_common.ids import new_replay_id, new_run_id
    from prospector_common.settings import Settings
    from prospector_common.storage import RunPaths
    from prospector_common.replay import Recorder, write_replay

    rng = random.Random(seed)
    others = (spec.A_LISTEN, spec.A_DOCK, spec.A_COOLDOWN, spec.A_BUY_FUEL0, spec.A_BUY_KIT)
    config = spec.EnvConfig(time_max=ticks, pirates=False, hazards=False)
    engine = Engine(config, seed=seed)
    recorder = Recorder(engine.render_state())
    while not engine.done:
        mask = engine.action_mask()
        action = spec.A_HOLD
        if rng.random() < 0.2:
            action = rng.choice([a for a in others if mask[a]] or [spec.A_HOLD])
        reward, _, _ = engine.step(action)
        recorder.add(action, reward, engine.events(), engine.render_state())
    settings = Settings(data_dir=data_dir)
    run_id = new_run_id(git_sha="nogit")
    paths = RunPaths(data_dir, run_id)
    paths.make_dirs()
    replay_id = new_replay_id(0, seed)
    write_replay(paths.replay(replay_id), recorder.to_bytes(run_id=run_id, window_id=0, replay_id=replay_id,
                                                             seed=seed, env_config=config.to_dict()))
    with Catalog(settings.database_url) as catalog:
        catalog.create_all()
        catalog.upsert_run(run_id, config={"env": config.to_dict()}, spec_version=spec.SPEC_VERSION,
                           git_sha="nogit")
        catalog.add_window(run_id, 0, env_steps_total=0, checkpoint_path="none", metrics={})
        m = engine.metrics()
        catalog.add_replay(replay_id=replay_id, run_id=run_id, window_id=0, seed=seed, return_=m["episode_return"],
                           net_profit=m["net_profit"], survival=m["survival"] >= 1, length=len(recorder),
                           tags=["every_window"], path=paths.relative(paths.replay(replay_id)))
    return run_id, replay_id, len(recorder)


def frame_page_times(base_url: str, run_id: str, replay_id: str, frames: int, *, limit: int = 100,
                     repeats: int = 5) -> dict[str, Any]:
    """(e) GET .../frames: the median time of the first page and of the last, each asked once
    before (the first read of a replay builds its keyframe index as it goes)."""
    import httpx

    url = f"{base_url}/api/runs/{run_id}/replays/{replay_id}/frames"
    last = max(0, frames - limit)
    out: dict[str, Any] = {"frames": frames, "limit": limit}
    with httpx.Client(timeout=120) as client:
        for name, offset in (("first", 0), ("last", last)):
            started = time.perf_counter()
            client.get(url, params={"offset": offset, "limit": limit}).raise_for_status()
            out[f"{name}_page_cold_ms"] = round((time.perf_counter() - started) * 1000, 2)
        for name, offset in (("first", 0), ("last", last)):
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                page = client.get(url, params={"offset": offset, "limit": limit})
                times.append(time.perf_counter() - started)
                page.raise_for_status()
            out[f"{name}_page_ms"] = round(statistics.median(times) * 1000, 2)
    out["last_over_first"] = round(out["last_page_ms"] / max(out["first_page_ms"], 1e-9), 2)
    return out


def _listeners(port: int) -> int:
    """Sockets listening on a TCP port of this machine (Linux /proc/net/tcp{,6})."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        count += sum(1 for row in rows if row.split()[1].rsplit(":", 1)[1] == f"{port:04X}"
                     and row.split()[3] == "0A")  # state 0A: LISTEN
    return count


# A load generator is one client on one address: the API's per-client limits (live sessions,
# new sessions and steps a second) are off for it unless `env` sets them.
NO_CLIENT_LIMITS = {"PROSPECTOR_API_MAX_SESSIONS_PER_CLIENT": "0", "PROSPECTOR_API_CREATES_PER_S": "0",
                    "PROSPECTOR_API_STEPS_PER_S": "0"}


def start_server(env: dict[str, str], http_port: int, grpc_port: int, *, log_path: Path | None = None,
                 timeout_s: float = 30.0, workers: int = 1) -> subprocess.Popen:
    """`prospector api [--workers N]` in a subprocess on loopback, without per-client limits unless
    env sets them (NO_CLIENT_LIMITS); returns once /readyz answers 200 and every worker listens on
    both ports."""
    import httpx

    out = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    env = {**NO_CLIENT_LIMITS, **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "prospector.cli", "api", "--host", "127.0.0.1", "--port", str(http_port),
         "--grpc-port", str(grpc_port), "--log-level", "warning", "--workers", str(workers)],
        env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prospector api exited with code {process.returncode}")
        try:
            ready = httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=1.0).status_code == 200
            if ready and _listeners(http_port) >= workers and _listeners(grpc_port) >= workers:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("prospector api did not become ready")
        time.sleep(0.05)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_floor_server(port: int, workers: int, log_path: Path, timeout_s: float = 60.0,
                       http_port: int = -1) -> subprocess.Popen:
    """prospector_bench.api_floor (the API's app and PlayService over canned replies) on loopback,
    gRPC on port (and HTTP on http_port unless -1), ready once every worker listens."""
    out = open(log_path, "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen([sys.executable, "-m", "prospector_bench.api_floor", "--port", str(port),
                                "--http-port", str(http_port), "--workers", str(workers)],
                               stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while _listeners(port) < workers or (http_port >= 0 and _listeners(http_port) < workers):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the gRPC floor server did not start (see {log_path})")
        time.sleep(0.05)
    return process


def _state_sizes(redis_url: str, prefix: str, host: str, port: int) -> dict[str, Any]:
    import httpx
    import redis

    from prospector.engine import Engine

    reply = httpx.post(f"http://{host}:{port}/api/play/sessions", json={"include_state": False}).json()
    client = redis.Redis.from_url(redis_url)
    try:
        key = f"{prefix}:s:{reply['session_id']}"
        memory = client.memory_usage(key)
        known = client.memory_usage(f"{prefix}:known:{reply['session_id']}")
        state = len(client.hget(key, "state"))
    finally:
        client.close()
    httpx.delete(f"http://{host}:{port}/api/play/sessions/{reply['session_id']}")
    return {"engine_save_bytes": len(Engine().save()), "state_field_bytes": state,
            "redis_session_hash_bytes": memory, "redis_tombstone_bytes": known}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import redis
    import uvloop
    from prospector_common.net import free_port

    quick = args.quick
    sessions = args.sessions or (20 if quick else 200)
    seconds = args.seconds or (1.0 if quick else 30.0)
    ws_clients = args.ws_clients or (4 if quick else 50)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    unknown = set(transports) - set(TRANSPORTS)
    if unknown:
        raise SystemExit(f"unknown transport(s) {sorted(unknown)}; choose from {', '.join(TRANSPORTS)}")
    host = "127.0.0.1"
    prefix = f"bench:{uuid.uuid4().hex[:10]}:play"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    workers = args.workers or os.cpu_count() or 1
    per_channel = args.sessions_per_channel
    results: dict[str, Any] = {"quick": quick, "cpus": os.cpu_count(), "workers": workers,
                               "grpc_sessions_per_channel": per_channel, "grpc_client": args.client}
    with tempfile.TemporaryDirectory(prefix="prospector-bench-api-") as tmp:
        data_dir = Path(tmp) / "runs"
        data_dir.mkdir()
        run_id, replay_id = _make_replay(data_dir, 300 if quick else 2000)
        ports = {"http": free_port(), "grpc": free_port()}
        model_path, model_name = _bench_model(Path(tmp))
        results["model"] = {"path": str(model_path), "name": model_name}
        env = {"PROSPECTOR_DATA_DIR": str(data_dir), "REDIS_URL": redis_url, "DATABASE_URL": "",
               "PROSPECTOR_API_SESSION_PREFIX": prefix, "PROSPECTOR_API_MAX_SESSIONS": "100000",
               "PROSPECTOR_API_SESSION_TTL_S": "600", "PROSPECTOR_PRETRAINED_MODEL": str(model_path)}
        server = start_server(env, ports["http"], ports["grpc"], log_path=Path(tmp) / "server.log",
                              workers=workers)
        redis_client = redis.Redis.from_url(redis_url, socket_timeout=30, retry_on_timeout=True)  # a busy shared Redis
        cpu = _cpu_meter(server.pid, redis_client)
        try:
            results["state_size"] = _state_sizes(redis_url, prefix, host, ports["http"])
            if "latency" not in skip:
                results["latency"] = {
                    t: _latency_run(t, args.client, sessions, args.rate, seconds, host, ports, per_channel, cpu)
                    for t in transports}
            levels = (8,) if quick else (16, 64, 128)
            sat_seconds = 0.8 if quick else 6.0
            floor = floor_ports = floor_cpu = None
            if "floor" not in skip:
                floor_ports = {"http": free_port(), "grpc": free_port()}
                floor = start_floor_server(floor_ports["grpc"], workers, Path(tmp) / "floor.log",
                                           http_port=floor_ports["http"])
                floor_cpu = _cpu_meter(floor.pid, redis_client)
            try:
                if "saturation" not in skip:
                    results["saturation"] = {}
                    for t in transports:
                        results["saturation"][t] = _saturation(t, args.client, levels, sat_seconds, host, ports,
                                                               per_channel, cpu)
                if floor is not None:
                    # (d) the floor, side by side: its saturation, then both servers at half of it
                    results["floor_saturation"], results["floor"], results["vs_floor"] = {}, {}, {}
                    results["play_at_half_floor"] = {}
                    for t in transports:
                        floor_sat = _saturation(t, args.client, levels, sat_seconds, host, floor_ports,
                                                per_channel, floor_cpu)
                        results["floor_saturation"][t] = floor_sat
                        half = max(1.0, floor_sat["max_steps_per_s_zero_errors"] / 2)
                        n = max(1, round(half / args.rate))
                        results["floor"][t] = _latency_run(t, args.client, n, args.rate, seconds, host, floor_ports,
                                                           per_channel, floor_cpu)
                        results["play_at_half_floor"][t] = _latency_run(t, args.client, n, args.rate, seconds, host,
                                                                        ports, per_channel, cpu)
                        results["vs_floor"][t] = _versus(results["play_at_half_floor"][t], results["floor"][t],
                                                         results.get("saturation", {}).get(t), floor_sat)
            finally:
                if floor is not None:
                    stop_server(floor)
            if "suggest" not in skip:
                results["suggest"] = _suggest_part(args.client, sat_seconds, host, ports, per_channel, cpu,
                                                   model_path, model_name, quick)
            if "frames" not in skip:
                # (e) a page of frames at the start and at the end of a long replay (a keyframe index)
                long_run, long_replay, frames = make_long_replay(data_dir, 2000 if quick else 20_000)
                results["frames"] = frame_page_times(f"http://{host}:{ports['http']}", long_run, long_replay,
                                                     frames, repeats=3 if quick else 7)
            if "ws" not in skip:
                ws_seconds = 1.0 if quick else 10.0
                results["websocket"] = {
                    "unpaced": uvloop.run(_ws_clients(ws_clients, 1000, ws_seconds, host, ports["http"],
                                                      run_id, replay_id, cpu)),
                    "fps30": uvloop.run(_ws_clients(ws_clients, 30, ws_seconds, host, ports["http"],
                                                    run_id, replay_id, cpu)),
                }
        finally:
            stop_server(server)
            keys = list(redis_client.scan_iter(f"{prefix}:*", count=1000))
            for i in range(0, len(keys), 500):
                redis_client.delete(*keys[i:i + 500])
            redis_client.close()
    return results


def _saturation(transport: str, client: str, levels: Sequence[int], seconds: float, host: str,
                ports: dict[str, int], per_channel: int, cpu: CpuMeter) -> dict[str, Any]:
    """(b) for one transport on one server: closed loop at each level; the most steps/s with zero errors."""
    runs = [_saturation_run(transport, client, c, seconds, host, ports, per_channel, cpu) for c in levels]
    clean = [r for r in runs if r["errors"] == 0]
    return {"max_steps_per_s_zero_errors": max((r["steps_per_s"] for r in clean), default=0.0), "runs": runs}


def _versus(play: dict[str, Any], floor: dict[str, Any], play_sat: dict[str, Any] | None,
            floor_sat: dict[str, Any]) -> dict[str, Any]:
    """The play path against the floor for one transport: CPU per step (API processes; Redis apart),
    saturation, p99 at half the floor's saturation."""
    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    play_ms, floor_ms = play["cpu_ms_per_step"]["server_s"], floor["cpu_ms_per_step"]["server_s"]
    out = {"offered_steps_per_s": play["offered_steps_per_s"],
           "server_cpu_ms_per_step": play_ms, "floor_server_cpu_ms_per_step": floor_ms,
           "server_cpu_ratio": ratio(play_ms, floor_ms),
           "redis_cpu_ms_per_step": play["cpu_ms_per_step"]["redis_s"],
           "server_and_redis_cpu_ratio": ratio(play_ms + play["cpu_ms_per_step"]["redis_s"], floor_ms),
           "p99_ms": play["p99_ms"], "floor_p99_ms": floor["p99_ms"], "p50_ms": play["p50_ms"],
           "floor_p50_ms": floor["p50_ms"], "errors": play["errors"], "floor_errors": floor["errors"],
           "floor_saturation_steps_per_s": floor_sat["max_steps_per_s_zero_errors"]}
    if play_sat is not None:
        out["saturation_steps_per_s"] = play_sat["max_steps_per_s_zero_errors"]
        out["saturation_ratio"] = ratio(play_sat["max_steps_per_s_zero_errors"],
                                        floor_sat["max_steps_per_s_zero_errors"])
        out["goal_saturation_at_least_half"] = (out["saturation_ratio"] or 0) >= 0.5
    out["goal_cpu_within_2x"] = out["server_cpu_ratio"] is not None and out["server_cpu_ratio"] <= 2.0
    return out


def _bench_model(tmp: Path) -> tuple[Path, str]:
    """The model the benchmarked API serves: PROSPECTOR_PRETRAINED_MODEL, else the shipped one, else
    an untrained one of the default shape (a forward pass costs the same)."""
    from prospector_api.settings import ApiSettings
    from prospector_common.policy.serving import NumpyPolicy, random_policy

    path = ApiSettings().pretrained_model_path()
    if path is not None and Path(path).is_file():
        return Path(path), NumpyPolicy.load(path).name
    out = random_policy(hidden_size=128, action_masking=True, forbid_cash_out=True,
                        name="untrained (bench)").save(tmp / "policy.npz")
    return out, "untrained (bench)"


def _suggest_part(client: str, seconds: float, host: str, ports: dict[str, int], per_channel: int,
                  cpu: CpuMeter, model_path: Path, model_name: str, quick: bool) -> dict[str, Any]:
    """(f) suggestions: closed loop over HTTP and gRPC (Python clients), and the forward pass alone."""
    import numpy as np
    import uvloop
    from prospector.engine import Engine
    from prospector_common.policy.serving import NumpyPolicy

    policy = NumpyPolicy.load(model_path)
    engine = Engine(seed=3)
    obs, mask = engine.observation(), engine.action_mask()
    for _ in range(50):
        policy.suggest(obs, mask)
    times = []
    for _ in range(200 if quick else 2000):
        started = time.perf_counter()
        policy.suggest(obs, mask)
        times.append(time.perf_counter() - started)
    out: dict[str, Any] = {"model": model_name, "kind": policy.kind, "hidden_size": policy.hidden_size,
                           "forward_pass_ms_median": round(float(np.median(times)) * 1000, 4)}
    concurrency = 8 if quick else 16
    for name in ("http-suggest", "grpc-suggest"):
        r = uvloop.run(_closed_loop(name, concurrency, seconds, host, ports, per_channel, cpu))
        out[name.split("-")[0]] = {**r, "client": "python"}
    return out


def _cpu_text(cpu: dict[str, float]) -> str:
    wall = max(cpu["wall_s"], 1e-9)
    return (f"cores busy: client {cpu['client_s'] / wall:.2f}, server {cpu['server_s'] / wall:.2f}, "
            f"redis {cpu['redis_s'] / wall:.2f}")


def _print(results: dict[str, Any]) -> None:
    print(f"{results['workers']} API worker(s) on {results['cpus']} cores; gRPC load from the "
          f"{results['grpc_client']} client")
    sizes = results["state_size"]
    print(f"saved state per session: {sizes['engine_save_bytes']:,} B engine bytes; "
          f"{sizes['redis_session_hash_bytes']:,} B in Redis for the session hash "
          f"(+{sizes['redis_tombstone_bytes']} B tombstone)")
    for t, r in results.get("latency", {}).items():
        mark = "ok" if r["errors"] == 0 and r["p99_ms"] is not None and r["p99_ms"] < r["goal_p99_ms"] else "MISS"
        print(f"(a) {t:11s}: {r['sessions']} sessions x {r['rate_per_session']:g}/s = {r['offered_steps_per_s']:g} "
              f"offered, {r['achieved_steps_per_s']:g} done/s; p50 {r['p50_ms']} ms, p90 {r['p90_ms']} ms, "
              f"p99 {r['p99_ms']} ms (goal < {r['goal_p99_ms']:g}) max {r['max_ms']} ms; "
              f"errors {r['errors']}  [{mark}]; {_cpu_text(r['cpu'])}")
    for t, v in results.get("vs_floor", {}).items():
        sat = (f"saturation {v.get('saturation_steps_per_s', '?')} vs floor {v['floor_saturation_steps_per_s']:g} "
               f"steps/s ({v.get('saturation_ratio')}x; goal >= 0.5)")
        print(f"(d) {t:11s} vs the floor (same app, canned replies): server CPU/step {v['server_cpu_ms_per_step']} vs "
              f"{v['floor_server_cpu_ms_per_step']} ms ({v['server_cpu_ratio']}x; goal <= 2; +Redis "
              f"{v['redis_cpu_ms_per_step']} ms); {sat}; at {v['offered_steps_per_s']:g} steps/s (half the floor's "
              f"saturation): p99 {v['p99_ms']} vs {v['floor_p99_ms']} ms, errors {v['errors']} / {v['floor_errors']}")
    if "suggest" in results:
        r = results["suggest"]
        for t in ("http", "grpc"):
            x = r[t]
            print(f"(f) suggest {t:5s}: {x['steps_per_s']:g}/s closed loop (c={x['concurrency']}), p50 {x['p50_ms']} "
                  f"ms, p99 {x['p99_ms']} ms, server CPU {x['cpu_ms_per_step']['server_s']} ms/suggestion, errors "
                  f"{x['errors']}")
        print(f"(f) model {r['model']!r} ({r['kind']}, hidden {r['hidden_size']}): forward pass alone "
              f"{r['forward_pass_ms_median']} ms")
    for t, r in results.get("saturation", {}).items():
        runs = ", ".join(f"c={x['concurrency']}: {x['steps_per_s']:g}/s p99 {x['p99_ms']} ms err {x['errors']} "
                         f"[{_cpu_text(x['cpu'])}]" for x in r["runs"])
        print(f"(b) {t:11s}: max {r['max_steps_per_s_zero_errors']:g} steps/s with zero errors ({runs})")
    if "frames" in results:
        r = results["frames"]
        print(f"(e) frames: {r['limit']} of a {r['frames']}-frame replay: first page {r['first_page_ms']} ms, "
              f"last page {r['last_page_ms']} ms ({r['last_over_first']}x; cold: {r['first_page_cold_ms']} / "
              f"{r['last_page_cold_ms']} ms)")
    for name, r in results.get("websocket", {}).items():
        print(f"(c) ws {name}: {r['clients']} clients, {r['frames_per_s']:g} frames/s in all "
              f"(per client {r['frames_per_s_per_client_min']:g}..{r['frames_per_s_per_client_max']:g}/s, "
              f"Jain fairness {r['fairness_jain']:.3f}), errors {r['errors']}; {_cpu_text(r['cpu'])}")


def bench_api_main(args: argparse.Namespace) -> int:
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)
    return 0
