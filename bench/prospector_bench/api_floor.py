"""The floor of `prospector bench api`: the API's own HTTP app and gRPC PlayService over a session
store that does no work.

    python -m prospector_bench.api_floor --http-port 8001 --port 50061 --workers 2

`CannedStore` answers every play call at once with a canned session of a real
reply's size (the render state of a fresh game, pre-serialized; a full action
mask): no engine, no Redis, no JSON of a state. Everything else is the API's:
the FastAPI app of `prospector_api.app.create_app` (its middleware, the step's
fast path, metrics, the per-client limits, off as in the benchmark) and the
PlayServicer of `prospector_api.grpc_play` (its own request decoding, status
mapping, metrics), served the way `prospector api` serves them (uvicorn and a
grpc.aio server on one uvloop loop per process, `--workers` processes sharing
both ports with SO_REUSEPORT). Driven by the same load generators, it shows
what a play step costs before any play happens: the server, the framework and
the transport. The play path's figures are measured against it.

The services load when it serves (only the standard library and the engine at
module level, as every prospector_bench module).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from prospector.engine import Engine

CANNED_SESSION_ID = "0" * 32


class CannedStore:
    """prospector_api.sessions.SessionStore's play calls, answered with one canned session (module doc)."""

    def __init__(self) -> None:
        import orjson
        from prospector_api.sessions import SessionView

        engine = Engine(seed=1)
        state = engine.render_state()
        self._state_json = engine.render_json()  # serialized once: replies copy its bytes
        self._template = dict(
            session_id=CANNED_SESSION_ID, seed=1, config=engine.config.to_dict(), expires_at=time.time() + 3600,
            t=engine.t, action_mask=engine.action_mask().astype(bool).tolist(),
            observation=None, info_json=orjson.dumps({"events": state["events"], "episode": None}))
        self._view_class = SessionView
        self._observation, self._mask = engine.observation().copy(), engine.action_mask().copy()

    def _view(self, options: Any, action: int = -1) -> Any:
        view = self._view_class(state_json=self._state_json if options.include_state else None, **self._template)
        view.action = action
        return view

    async def create(self, seed: Any = None, config: Any = None, options: Any = None, client: str = "") -> Any:
        from prospector_api.sessions import ViewOptions

        return self._view(options or ViewOptions())

    async def get(self, session_id: str, options: Any = None) -> Any:
        from prospector_api.sessions import ViewOptions

        return self._view(options or ViewOptions())

    async def step(self, session_id: str, action: Any, options: Any = None) -> Any:
        from prospector_api.sessions import ViewOptions

        return self._view(options or ViewOptions(), int(action))

    async def reset(self, session_id: str, seed: Any = None, config: Any = None, options: Any = None) -> Any:
        from prospector_api.sessions import ViewOptions

        return self._view(options or ViewOptions())

    async def observe(self, session_id: str) -> tuple[Any, Any]:
        return self._observation, self._mask

    async def close_session(self, session_id: str) -> None:
        return None

    def ping(self) -> None:
        return None

    async def aping(self) -> None:
        return None

    def active_count(self) -> int:
        return 0

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        return None


def canned_resources(data_dir: Path) -> Any:
    """The API's Resources with the canned store, no per-client limits (as the benchmark runs the API)."""
    import redis.asyncio as aioredis
    from prospector_api.limits import ClientLimits
    from prospector_api.metrics import ApiMetrics
    from prospector_api.resources import Resources
    from prospector_api.settings import ApiSettings
    from prospector_common.catalog import Catalog
    from prospector_common.settings import Settings

    settings = Settings(data_dir=data_dir, database_url="")
    api = ApiSettings(max_sessions_per_client=0, creates_per_s=0, steps_per_s=0,
                      web_dist=Path("/nonexistent/web/dist"))
    return Resources(settings=settings, api=api, catalog=Catalog(settings.database_url), store=CannedStore(),
                     events_redis=aioredis.Redis.from_url("redis://127.0.0.1:1/0"), metrics=ApiMetrics(),
                     limits=ClientLimits.from_settings(api))


async def _serve(http_port: int, grpc_port: int, reuse_port: bool) -> None:
    import uvicorn
    from prospector_api.app import create_app
    from prospector_api.grpc_play import PlayServicer
    from prospector_api.server import _http_socket, http_config, tune_gc
    from prospector_rpc.server import serve_grpc_aio

    with tempfile.TemporaryDirectory(prefix="prospector-floor-") as tmp:
        resources = canned_resources(Path(tmp))
        grpc_server = None
        if grpc_port >= 0:
            grpc_server = await serve_grpc_aio(
                [PlayServicer(resources.store, resources.metrics, resources.limits, resources.pretrained)],
                grpc_port, "127.0.0.1", max_receive_message_bytes=resources.api.max_body_bytes,
                reuse_port=reuse_port)
        try:
            if http_port >= 0:
                sock = _http_socket("127.0.0.1", http_port, reuse_port=reuse_port)
                server = uvicorn.Server(http_config(create_app(resources=resources), resources.api,
                                                    log_level="warning"))
                tune_gc()  # as prospector api does
                await server.serve(sockets=[sock])  # until SIGINT/SIGTERM (uvicorn's handlers)
            else:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                tune_gc()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                await stop.wait()
        finally:
            if grpc_server is not None:
                await grpc_server.stop(0)
            resources.close()


def _worker(http_port: int, grpc_port: int, reuse_port: bool) -> None:
    import uvloop

    from prospector_api.server import stop_with_parent

    stop_with_parent()
    uvloop.run(_serve(http_port, grpc_port, reuse_port))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m prospector_bench.api_floor", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=-1, help="gRPC port (-1: none)")
    p.add_argument("--http-port", type=int, default=-1, help="HTTP port (-1: none)")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    if args.port < 0 and args.http_port < 0:
        p.error("give --port (gRPC), --http-port, or both")
    if args.workers <= 1:
        import uvloop

        uvloop.run(_serve(args.http_port, args.port, False))
        return 0
    # the workers share the ports as `prospector api --workers` does; this process waits for
    # SIGINT/SIGTERM, then stops them (and they stop by themselves if it dies)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    workers = [multiprocessing.get_context("spawn").Process(target=_worker, args=(args.http_port, args.port, True))
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
