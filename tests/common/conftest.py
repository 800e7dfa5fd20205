"""Fixtures for the shared package: real SQLite, real PostgreSQL, real Redis.

Nothing is mocked. Each test gets its own SQLite file, its own PostgreSQL
schema (the `test` database is shared) and its own Redis key names, and
removes them afterwards, so the tests are safe under pytest-xdist.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from prospector_common.catalog import Catalog
from prospector_common.net import free_port  # the tests here import it from this conftest
from prospector_common.outbox import dedupe_key
from private_redis import PrivateRedis  # tests/private_redis.py, shared with tests/api

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


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
