"""The floor of `prospector bench api`'s gRPC figures: a PlayService that does no work.

    python -m prospector_bench.api_floor --port 50061 --workers 2

Every call answers at once with a canned reply of a real reply's size (a
render state of a fresh game, a full action mask): no engine, no Redis. Served
the way `prospector api` serves gRPC (serve_grpc_aio on uvloop, `--workers`
processes sharing the port with SO_REUSEPORT), and driven by the same load
generator, it shows what the gRPC layer alone costs on this machine: when
even this misses a latency goal, no play logic behind the same server can
meet it. The gRPC stubs, orjson and uvloop load when it serves (only the
standard library and the engine at module level, as every prospector_bench module).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import threading
from collections.abc import AsyncIterator
from typing import Any

from prospector import spec
from prospector.engine import Engine

CANNED_SESSION_ID = "0" * 32


class CannedPlayServicer:
    """Answers every PlayService call with the same session and transition. Registered by
    registration() rather than by subclassing the generated servicer, so that this module
    imports no service at module level."""

    def __init__(self) -> None:
        import orjson
        from prospector_rpc.pb import pb2

        self.pb2 = pb2
        engine = Engine(seed=1)
        state = orjson.dumps(engine.render_state()).decode()
        mask = engine.action_mask().astype(bool).tolist()
        self.session = pb2.Session(session_id=CANNED_SESSION_ID, state_json=state, action_mask=mask, seed=1)
        self.transition = pb2.Transition(session_id=CANNED_SESSION_ID, state_json=state, action_mask=mask,
                                         info_json='{"events": {}}')

    async def CreateSession(self, request: Any, context: Any) -> Any:
        return self.session

    async def Reset(self, request: Any, context: Any) -> Any:
        return self.session

    async def Step(self, request: Any, context: Any) -> Any:
        return self.transition

    async def CloseSession(self, request: Any, context: Any) -> Any:
        return self.pb2.CloseSessionReply(closed=True)

    async def ListActions(self, request: Any, context: Any) -> Any:
        return self.pb2.ActionList(spec_version=spec.SPEC_VERSION)

    async def Play(self, request_iterator: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
        async for _ in request_iterator:
            yield self.transition

    def registration(self) -> tuple:
        """(add function, servicer, full service name), as serve_grpc_aio takes a servicer
        that is no subclass of a generated one."""
        from prospector_rpc.pb import pb2_grpc

        name = self.pb2.DESCRIPTOR.services_by_name["PlayService"].full_name
        return pb2_grpc.add_PlayServiceServicer_to_server, self, name


async def _serve(port: int, reuse_port: bool) -> None:
    from prospector_rpc.server import serve_grpc_aio

    server = await serve_grpc_aio([CannedPlayServicer().registration()], port, "127.0.0.1", reuse_port=reuse_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0)


def _worker(port: int, reuse_port: bool) -> None:
    import uvloop

    from prospector_api.server import stop_with_parent

    stop_with_parent()
    uvloop.run(_serve(port, reuse_port))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m prospector_bench.api_floor", description=__doc__.split("\n")[0])
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
