"""Property-based fuzz of the HTTP API from its own OpenAPI schema (schemathesis): no 500s,
every response in the documented status codes, content types and schemas.

Bounded (a few examples per operation) so it runs in seconds; the event stream is
left out (it never ends by design; tests/api/test_ws_events.py covers it). The
app runs on the real Redis (a private key prefix) and a real SQLite catalog
holding one run, built when the module is collected (schemathesis loads the
schema eagerly) and removed after its tests.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from prospector import spec
from prospector_api.app import create_app
from prospector_api.resources import build_resources
from prospector_common.catalog import Catalog
from prospector_common.policy.serving import random_policy
from prospector_common.settings import Settings

from .conftest import REDIS_URL, api_settings_for

_DIR = Path(tempfile.mkdtemp(prefix="prospector-api-fuzz-"))
_PREFIX = f"test:{uuid.uuid4().hex[:12]}"
_SETTINGS = Settings(data_dir=_DIR / "runs", redis_url=REDIS_URL, wandb_mode="disabled")
with Catalog(_SETTINGS.database_url) as _catalog:
    _catalog.create_all()
    _catalog.upsert_run("20250101-120000-nogit-abcd", config={"env": {}}, spec_version=spec.SPEC_VERSION,
                        git_sha="nogit")
    _catalog.add_window("20250101-120000-nogit-abcd", 0, env_steps_total=1, checkpoint_path="x", metrics={})
# a model for /suggest (untrained: the fuzz checks the contract, not the play); without one it is 503
_MODEL = random_policy(hidden_size=16, name="fuzz model").save(_DIR / "policy.npz")
_RESOURCES = build_resources(_SETTINGS, api_settings_for(_PREFIX, max_sessions=50, pretrained_model=_MODEL))
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(resources=_RESOURCES))


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    _RESOURCES.close()
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    shutil.rmtree(_DIR, ignore_errors=True)


@schema.exclude(path="/api/events").parametrize()
@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema_and_never_fails(case):
    case.call_and_validate()
