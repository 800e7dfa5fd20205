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
Prometheus: the workers count into one directory (prometheus_client's
multiprocess mode), so /metrics, whichever worker answers, shows the sums. The
directory (`prospector-api-metrics-<parent pid>-*` in the temp dir) goes with
its parent: removed when the parent stops; when the parent is killed outright
(SIGKILL), by its workers as they stop (they see they were orphaned), and any
left over after all (the whole process group killed at once) by the next
`prospector api --workers N`, which removes the directories of parents that no
longer run before it makes its own.

SIGINT/SIGTERM stop uvicorn (in-flight requests finish) and then the gRPC
server (health turns NOT_SERVING first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

log = logging.getLogger("prospector.api")

WORKER_RESTART_PAUSE_S = 1.0  # a worker that keeps dying is not restarted in a tight loop
# Python's cyclic GC, tuned for serving play (tune_gc). A step allocates a render state of
# hundreds of containers, so at the default young threshold (700) collections ran every score
# of steps, and each full one walked every long-lived object (~0.1 s): 3.9 s of GC CPU per
# worker in one `bench api` run. Tuned, side by side with the default (3 alternating pairs),
# HTTP play saturated at 3,993 steps/s against 3,346, at 17 % less server CPU a step.
GC_THRESHOLDS = (10_000, 10, 10)
STOP_TIMEOUT_S = 15.0  # workers still running this long after SIGTERM are killed


def add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None,
                   help="address for HTTP and gRPC (default PROSPECTOR_BIND_HOST, 127.0.0.1: this machine only; "
                        "0.0.0.0 for every interface)")
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
    stop = StopSignals()  # first: a Ctrl-C from here on stops the API cleanly, never with a traceback
    from prospector_common.settings import get_settings

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    if args.host is None:
        args.host = settings.bind_host
    http_port = settings.api_http_port if args.port is None else args.port
    grpc_port = settings.api_grpc_port if args.grpc_port is None else args.grpc_port
    if args.workers < 1:
        raise SystemExit("--workers must be at least 1")
    if args.workers > 1 and not args.reuse_port_worker:
        stop.release()
        return _supervise(args, http_port, grpc_port)
    import uvloop

    if not args.reuse_port_worker:
        return uvloop.run(_serve(args, http_port, grpc_port, reuse_port=False, stop=stop))
    parent = os.getppid()
    stop_with_parent()
    try:
        return uvloop.run(_serve(args, http_port, grpc_port, reuse_port=True, stop=stop))
    finally:
        remove_metrics_dir_if_orphaned(parent)


class StopSignals:
    """SIGINT and SIGTERM for the life of an API process: the first stops it gracefully (uvicorn
    lets in-flight requests finish, live-event streams end, then the gRPC server stops and the
    resources close), a second hurries uvicorn. Neither raises KeyboardInterrupt, so Ctrl-C on
    `make up` prints no traceback and cuts no shutdown step short (uvicorn's own handling
    raises the signal again once it has stopped, which interrupted the rest)."""

    def __init__(self) -> None:
        self.requested = False
        self._listeners: list = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        for listener in list(self._listeners):
            listener(signum, frame)

    def on_stop(self, listener) -> None:
        """listener(signum, frame) on every signal from now on (and at once if one came already)."""
        self._listeners.append(listener)
        if self.requested:
            listener(signal.SIGINT, None)

    def release(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)


async def _serve(args: argparse.Namespace, http_port: int, grpc_port: int, *, reuse_port: bool,
                 stop: StopSignals) -> int:
    import uvicorn
    from prospector_common.settings import get_settings
    from prospector_rpc.server import serve_grpc_aio

    from .app import create_app
    from .grpc_play import PlayServicer, watch_store_health
    from .resources import build_resources
    from .settings import get_api_settings

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the signals are StopSignals' (which passes them to handle_exit), and never raised again

    loop = asyncio.get_running_loop()
    settings, api = get_settings(), get_api_settings()
    resources = build_resources(settings, api)
    stop.on_stop(lambda *_: loop.call_soon_threadsafe(resources.stopping.set))  # live-event streams end
    app = create_app(resources=resources)
    grpc_server = health_watch = None
    try:
        if grpc_port >= 0:
            grpc_server = await serve_grpc_aio([PlayServicer(resources.store, resources.metrics, resources.limits,
                                                             resources.pretrained)],
                                               port=grpc_port,
                                               host=args.host, max_receive_message_bytes=api.max_body_bytes,
                                               reuse_port=reuse_port)
            log.info("gRPC PlayService on %s:%d (pid %d)", args.host, grpc_server.port, os.getpid())
            health_watch = asyncio.create_task(watch_store_health(grpc_server, resources.store, api.health_check_s))
        sock = _http_socket(args.host, http_port, reuse_port=reuse_port)
        server = Server(http_config(app, api, log_level=args.log_level, access_log=args.access_log))
        tune_gc()
        stop.on_stop(server.handle_exit)  # at once if a signal came while starting: uvicorn then stops at once
        log.info("HTTP API on http://%s:%d (pid %d)", args.host, sock.getsockname()[1], os.getpid())
        await server.serve(sockets=[sock])
    finally:
        if health_watch is not None:
            health_watch.cancel()
        if grpc_server is not None:
            await grpc_server.stop(grace=2.0)
        await resources.aclose()
    log.info("API stopped (pid %d)", os.getpid())
    return 0


def tune_gc() -> None:
    """Once the process is built: what exists now is frozen out of every later collection (it
    lives as long as the process), and collections run at GC_THRESHOLDS."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def http_config(app: object, api: object, *, log_level: str = "info", access_log: bool = False) -> object:
    """uvicorn's configuration of the API's HTTP server (also what the tests serve the app with)."""
    import uvicorn

    return uvicorn.Config(app, log_level=log_level, access_log=access_log, lifespan="on",
                          ws=guarded_websocket_protocol(), ws_max_size=api.max_body_bytes,
                          timeout_graceful_shutdown=5)


MAX_UPGRADE_TARGET = 8 * 1024  # bytes of a WebSocket upgrade's request target (path and query)


def guarded_websocket_protocol() -> type:
    """uvicorn's WebSocket protocol, behind a check of the upgrade's request target.

    uvicorn hands an upgrade request to the WebSocket library, which refuses a request
    line over 8 kB; depending on the versions of the two, that refusal is a 414 on the
    wire or only a log line, with the connection left open and the client waiting. Here a
    target over MAX_UPGRADE_TARGET gets a 414 and the connection is closed, before the
    library sees it, whatever its version."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    class GuardedWebSocketProtocol(AutoWebSocketsProtocol):  # type: ignore[misc, valid-type]
        _target_checked = False

        def data_received(self, data: bytes) -> None:
            if not self._target_checked:
                self._target_checked = True  # uvicorn passes the whole upgrade request at once
                line = data.split(b"\r\n", 1)[0]
                parts = line.split(b" ")
                target = parts[1] if len(parts) == 3 else line
                if len(target) > MAX_UPGRADE_TARGET:
                    detail = (f'{{"detail": "request target too long ({len(target)} bytes): '
                              f'at most {MAX_UPGRADE_TARGET} bytes"}}').encode()
                    self.transport.write(b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"
                                         b"content-length: " + str(len(detail)).encode() +
                                         b"\r\nconnection: close\r\n\r\n" + detail)
                    self.transport.close()
                    return
            super().data_received(data)

    return GuardedWebSocketProtocol


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
    # Prometheus: the workers count into files of one fresh directory, and any of them answers a
    # scrape with the sum of all (prometheus_client's multiprocess mode; see prospector_api.metrics)
    from prometheus_client import multiprocess

    from .metrics import MULTIPROC_ENV

    sweep_metrics_dirs()
    metrics_dir = make_metrics_dir()
    env = {**os.environ, MULTIPROC_ENV: metrics_dir}
    workers = [subprocess.Popen(command, env=env) for _ in range(args.workers)]
    log.info("%d API workers: %s", len(workers), ", ".join(str(w.pid) for w in workers))
    try:
        while not stopping:
            time.sleep(0.2)
            for i, worker in enumerate(workers):
                if worker.poll() is not None and not stopping:
                    log.warning("API worker %d exited with code %s; starting another", worker.pid, worker.returncode)
                    multiprocess.mark_process_dead(worker.pid, metrics_dir)  # its live gauges no longer count
                    time.sleep(WORKER_RESTART_PAUSE_S)
                    workers[i] = subprocess.Popen(command, env=env)
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
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


METRICS_DIR_PREFIX = "prospector-api-metrics-"
_OWNER_FILE = "owner"  # "<pid> <start time>" of the parent that made the directory


def _start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or None when it
    does not run (or is a zombie): with the pid, it names one process even after pid reuse."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def make_metrics_dir(base: str | None = None) -> str:
    """A fresh multiprocess metrics directory for this process's workers, marked with its owner."""
    directory = tempfile.mkdtemp(prefix=f"{METRICS_DIR_PREFIX}{os.getpid()}-", dir=base)
    with open(os.path.join(directory, _OWNER_FILE), "w") as f:
        f.write(f"{os.getpid()} {_start_time(os.getpid()) or ''}")
    return directory


def _owner_alive(directory: str) -> bool:
    try:
        with open(os.path.join(directory, _OWNER_FILE)) as f:
            pid_text, _, started = f.read().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):  # no mark (a parent killed between mkdtemp and the write): by its name
        try:
            pid, started = int(os.path.basename(directory)[len(METRICS_DIR_PREFIX):].split("-", 1)[0]), ""
        except ValueError:
            return True  # not ours to judge
    now = _start_time(pid)
    return now is not None and (not started or now == started)


def sweep_metrics_dirs(base: str | None = None) -> list[str]:
    """Remove the metrics directories whose parent no longer runs (left by a SIGKILL); returns them."""
    base = base or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(base, name)
        if name.startswith(METRICS_DIR_PREFIX) and os.path.isdir(path) and not os.path.islink(path) \
                and not _owner_alive(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.info("removed %d metrics director%s of API parents that no longer run: %s", len(removed),
                 "y" if len(removed) == 1 else "ies", ", ".join(removed))
    return removed


def remove_metrics_dir_if_orphaned(parent: int) -> None:
    """In a worker that is stopping: when its parent died (it was re-parented), nobody else will
    remove the workers' metrics directory, so the worker does (each one tries; the first wins)."""
    from .metrics import multiprocess_dir

    directory = multiprocess_dir()
    if directory and os.getppid() != parent and os.path.basename(directory).startswith(METRICS_DIR_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)


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
