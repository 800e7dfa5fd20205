"""A redis-server of a test's own, on a free port, that the test can stop, hang and restart:
shared by the tests of the common package and the API (tests/ is on sys.path through
tests/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import redis
from prospector_common.net import free_port
from redis.backoff import NoBackoff
from redis.retry import Retry


class PrivateRedis:
    """A redis-server of the test's own, on a free port, that the test can stop, hang and restart."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        # No retries: after SHUTDOWN the client would otherwise retry with backoff for seconds.
        return redis.Redis(
            port=self.port, socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )

    def start(self) -> None:
        # No periodic snapshots and no AOF; `stop` saves explicitly so a
        # restart finds what was there, like a Redis that was restarted cleanly.
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while True:
            try:
                with self.client() as c:
                    c.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"private redis-server on port {self.port} did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """SHUTDOWN SAVE: the data is written to the test's dir and read back by start()."""
        assert self.process is not None
        # The server may drop the connection before it answers.
        with self.client() as c, contextlib.suppress(redis.ConnectionError):
            c.shutdown(save=True)
        self.process.wait(timeout=5)
        self.process = None

    def pause(self) -> None:
        """Freeze the server: connections are accepted by the kernel but never answered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()  # SIGKILL also ends a stopped process
            self.process.wait(timeout=5)
            self.process = None
