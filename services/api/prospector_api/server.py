"""`prospector api`: the HTTP API (uvicorn) and the gRPC PlayService, on one event loop per process.

Both share one set of resources (catalog, session store, metrics), so a
session made over gRPC can be stepped over HTTP in the same process or any
other replica. The gRPC server is a grpc.aio server on the loop uvicorn runs
(uvloop), so neither transport hands a call to a thread.

`--workers N` (N > 1) runs N such processes on the same two ports: the parent
checks that both ports are free, then starts the workers, which bind with
SO_REUSEPORT so that the kernel spreads connections over them. Play sessions
live in Redis, so any worker serves any session; a connection (an HTTP
keep-alive connection, a gRPC channel) stays with one worker, whose warm
engines then serve its steps. The parent restarts a worker that dies and
stops them all on SIGINT/SIGTERM; a worker whose parent dies stops too.
Each worker counts its own Prometheus metrics (/metrics answers with those of
the worker that took the request).

SIGINT/SIGTERM stop uvicorn (in-flight requests finish) and then the gRPC
server (health turns NOT_SERVING first).
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time

log = logging.getLogger("prospector.api")

WORKER_RESTART_PAUSE_S = 1.0  # a worker that keeps dying is not restarted in a tight loop
STOP_TIMEOUT_S = 15.0  # workers still running this long after SIGTERM are killed


def add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="0.0.0.0", help="address for HTTP and gRPC (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default PROSPECTOR_API_HTTP_PORT, 8000)")
    p.add_argument("--grpc-port", type=int, default=None,
                   help="gRPC PlayService port (default PROSPECTOR_API_GRPC_PORT, 50051; -1 disables)")
    p.add_argument("--workers", type=int, default=1,
                   help="API processes sharing both ports (SO_REUSEPORT); default 1, about one per core")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--access-log", action="store_true", help="log every HTTP request")
    # set by the parent of --workers on the processes it starts
    p.add_argument("--reuse-port-worker", action="store_true", help=argparse.SUPPRESS)


def api_main(args: argparse.Namespace) -> int:
    from prospector_common.settings import get_settings

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    http_port = settings.api_http_port if args.port is None else args.port
    grpc_port = settings.api_grpc_port if args.grpc_port is None else args.grpc_port
    if args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    if args.workers > 1 and not args.reuse_port_worker:
        return _supervise(args, http_port, grpc_port)
    if args.reuse_port_worker:
        stop_with_parent()
    import uvloop

    return uvloop.run(_serve(args, http_port, grpc_port, reuse_port=args.reuse_port_worker))


async def _serve(args: argparse.Namespace, http_port: int, grpc_port: int, *, reuse_port: bool) -> int:
    import uvicorn
    from prospector_common.settings import get_settings
    from prospector_rpc.server import serve_grpc_aio

    from .app import create_app
    from .grpc_play import PlayServicer
    from .resources import build_resources
    from .settings import get_api_settings

    settings, api = get_settings(), get_api_settings()
    resources = build_resources(settings, api)
    app = create_app(resources=resources)
    grpc_server = None
    try:
        if grpc_port >= 0:
            grpc_server = await serve_grpc_aio([PlayServicer(resources.store, resources.metrics)], port=grpc_port,
                                               host=args.host, max_receive_message_bytes=api.max_body_bytes,
                                               reuse_port=reuse_port)
            log.info("gRPC PlayService on %s:%d (pid %d)", args.host, grpc_server.port, os.getpid())
        sock = _http_socket(args.host, http_port, reuse_port=reuse_port)
        config = uvicorn.Config(app, log_level=args.log_level, access_log=args.access_log, lifespan="on",
                                ws_max_size=api.max_body_bytes, timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        log.info("HTTP API on http://%s:%d (pid %d)", args.host, sock.getsockname()[1], os.getpid())
        await server.serve(sockets=[sock])
    finally:
        if grpc_server is not None:
            await grpc_server.stop(grace=2.0)
        await resources.aclose()
    return 0


def _http_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


# ---- --workers N: the parent ------------------------------------------------------------------


def _check_free(host: str, port: int, what: str) -> None:
    """Fail now if someone listens on the port: SO_REUSEPORT would otherwise share it with them."""
    try:
        _http_socket(host, port, reuse_port=False).close()
    except OSError as exc:
        raise SystemExit(f"the {what} port {host}:{port} is taken: {exc}") from None


def _supervise(args: argparse.Namespace, http_port: int, grpc_port: int) -> int:
    if http_port == 0 or grpc_port == 0:
        raise SystemExit("--workers needs fixed ports (port 0 would give each worker its own)")
    _check_free(args.host, http_port, "HTTP")
    if grpc_port >= 0:
        _check_free(args.host, grpc_port, "gRPC")
    command = [sys.executable, "-m", "prospector.cli", "api", "--host", args.host, "--port", str(http_port),
               "--grpc-port", str(grpc_port), "--log-level", args.log_level, "--reuse-port-worker",
               *(["--access-log"] if args.access_log else [])]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers = [subprocess.Popen(command) for _ in range(args.workers)]
    log.info("%d API workers: %s", len(workers), ", ".join(str(w.pid) for w in workers))
    try:
        while not stopping:
            time.sleep(0.2)
            for i, worker in enumerate(workers):
                if worker.poll() is not None and not stopping:
                    log.warning("API worker %d exited with code %s; starting another", worker.pid, worker.returncode)
                    time.sleep(WORKER_RESTART_PAUSE_S)
                    workers[i] = subprocess.Popen(command)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in workers:
            try:
                worker.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    return 0


def stop_with_parent() -> None:
    """SIGTERM this worker when its parent dies (even by SIGKILL), so no orphan keeps the ports."""
    PR_SET_PDEATHSIG = 1
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's own shutdown still stops the workers
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
