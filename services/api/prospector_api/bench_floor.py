"""The floor of `prospector bench api`'s gRPC figures: a PlayService that does no work.

    python -m prospector_api.bench_floor --port 50061 --workers 2

Every call answers at once with a canned reply of a real reply's size (a
render state of a fresh game, a full action mask): no engine, no Redis. Served
the way `prospector api` serves gRPC (serve_grpc_aio on uvloop, `--workers`
processes sharing the port with SO_REUSEPORT), and driven by the same load
generator, it shows what the gRPC layer alone costs on this machine: when
even this misses a latency goal, no play logic behind the same server can
meet it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import threading
from collections.abc import AsyncIterator
from typing import Any

import grpc
import orjson
from prospector import spec
from prospector.engine import Engine
from prospector_rpc.pb import pb2, pb2_grpc

CANNED_SESSION_ID = "0" * 32


class CannedPlayServicer(pb2_grpc.PlayServiceServicer):
    """Answers every PlayService call with the same session and transition."""

    def __init__(self) -> None:
        engine = Engine(seed=1)
        state = orjson.dumps(engine.render_state()).decode()
        mask = engine.action_mask().astype(bool).tolist()
        self.session = pb2.Session(session_id=CANNED_SESSION_ID, state_json=state, action_mask=mask, seed=1)
        self.transition = pb2.Transition(session_id=CANNED_SESSION_ID, state_json=state, action_mask=mask,
                                         info_json='{"events": {}}')

    async def CreateSession(self, request: Any, context: Any) -> pb2.Session:
        return self.session

    async def Reset(self, request: Any, context: Any) -> pb2.Session:
        return self.session

    async def Step(self, request: Any, context: Any) -> pb2.Transition:
        return self.transition

    async def CloseSession(self, request: Any, context: Any) -> pb2.CloseSessionReply:
        return pb2.CloseSessionReply(closed=True)

    async def ListActions(self, request: Any, context: Any) -> pb2.ActionList:
        return pb2.ActionList(spec_version=spec.SPEC_VERSION)

    async def Play(self, request_iterator: AsyncIterator[Any], context: Any) -> AsyncIterator[pb2.Transition]:
        async for _ in request_iterator:
            yield self.transition


async def _serve(port: int, reuse_port: bool) -> None:
    from prospector_rpc.server import serve_grpc_aio

    server = await serve_grpc_aio([CannedPlayServicer()], port, "127.0.0.1", reuse_port=reuse_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0)


def _worker(port: int, reuse_port: bool) -> None:
    import uvloop

    from .server import stop_with_parent

    stop_with_parent()
    uvloop.run(_serve(port, reuse_port))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m prospector_api.bench_floor", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    if args.workers <= 1:
        import uvloop

        uvloop.run(_serve(args.port, False))
        return 0
    # the workers share the port as `prospector api --workers` does; this process waits for
    # SIGINT/SIGTERM, then stops them (and they stop by themselves if it dies)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    workers = [multiprocessing.get_context("spawn").Process(target=_worker, args=(args.port, True))
               for _ in range(args.workers)]
    for w in workers:
        w.start()
    while not stopping.wait(0.5) and all(w.is_alive() for w in workers):
        pass
    for w in workers:
        w.terminate()
    for w in workers:
        w.join(timeout=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
