"""Fixtures for the shared package: real SQLite, real PostgreSQL, real Redis.

Nothing is mocked. Each test gets its own SQLite file, its own PostgreSQL
schema (the `test` database is shared) and its own Redis key names, and
removes them afterwards, so the tests are safe under pytest-xdist.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prospector_common.catalog import Catalog
from prospector_common.net import free_port  # the tests here import it from this conftest
from prospector_common.outbox import dedupe_key
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_URL = os.environ.get("PROSPECTOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    else:
        yield request.getfixturevalue("postgres_url")  # tests/conftest.py: a schema of its own


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    with Catalog(catalog_url) as cat:
        cat.create_all()
        yield cat


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def stream_name(redis_client: redis.Redis) -> Iterator[str]:
    """A stream name no other test uses; the stream and its dedupe set are deleted after."""
    name = f"test:{uuid.uuid4().hex}:prospector:windows"
    yield name
    redis_client.delete(name, dedupe_key(name))


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


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
