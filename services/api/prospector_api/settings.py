"""The API's own settings, in one pydantic-settings class.

Shared configuration (data dir, DATABASE_URL, REDIS_URL, the API's HTTP and
gRPC ports) lives in prospector_common.settings; what only the API needs is
here, read from PROSPECTOR_API_* environment variables:

| variable                               | default                  |
|----------------------------------------|--------------------------|
| PROSPECTOR_API_SESSION_TTL_S           | 1800 (idle seconds)      |
| PROSPECTOR_API_MAX_SESSIONS            | 1000                     |
| PROSPECTOR_API_SESSION_PREFIX          | prospector:play          |
| PROSPECTOR_API_MAX_BODY_BYTES          | 65536                    |
| PROSPECTOR_API_EVENTS_BLOCK_MS         | 5000 (keep-alive period) |
| PROSPECTOR_API_WINDOWS_STREAM          | prospector:windows       |
| PROSPECTOR_API_REPLAYS_STREAM          | prospector:replays       |
| PROSPECTOR_API_WEB_DIST                | services/web/dist        |
| PROSPECTOR_API_REDIS_TIMEOUT_S         | 0.5                      |
| PROSPECTOR_API_HEALTH_CHECK_S          | 1.0 (gRPC health follows Redis) |
| PROSPECTOR_API_MAX_SESSIONS_PER_CLIENT | 20 live sessions per client address (0: no cap) |
| PROSPECTOR_API_CREATES_PER_S           | 1.0 new sessions a second per client (0: no limit) |
| PROSPECTOR_API_CREATE_BURST            | 10                       |
| PROSPECTOR_API_STEPS_PER_S             | 50.0 steps a second per client (0: no limit) |
| PROSPECTOR_API_STEP_BURST              | 100                      |
| PROSPECTOR_API_CORS_ORIGINS            | empty: no cross-origin access (JSON list or comma-separated) |
| PROSPECTOR_PRETRAINED_MODEL            | the model of /suggest: a numpy policy file (prospector_common.policy.serving); default the shipped package's `policy.npz` ($PROSPECTOR_MODEL_DIR, else `models/ppo-pretrained`) when it exists, else none |

Per client means per client address (an IPv6 client: its /64). The live-session
cap per client holds across every replica (it is counted in Redis); the rates
are per process. A refusal is 429 with Retry-After (gRPC: RESOURCE_EXHAUSTED
with retry-after metadata).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from prospector_common.streams import REPLAYS_STREAM, WINDOWS_STREAM
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ORIGIN_RE = re.compile(r"\Ahttps?://[A-Za-z0-9.\-\[\]:]+\Z")  # scheme://host[:port], no path

DEFAULT_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
# the shipped model, in a checkout (services/api/prospector_api/settings.py -> the repository root)


class ApiSettings(BaseSettings):
    """Environment-driven API settings; see the module docstring for the table."""

    model_config = SettingsConfigDict(env_prefix="PROSPECTOR_API_", extra="ignore", frozen=True)

    session_ttl_s: float = Field(default=1800.0, gt=0, le=7 * 86400)
    max_sessions: int = Field(default=1000, ge=1)
    session_prefix: str = Field(default="prospector:play", min_length=1, max_length=100)
    # How long a session's id is remembered after it expired or was closed, so
    # that a late request gets "expired" (410) rather than "unknown" (404).
    tombstone_s: float = Field(default=86400.0, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    events_block_ms: int = Field(default=5000, ge=10, le=60_000)
    windows_stream: str = WINDOWS_STREAM
    replays_stream: str = REPLAYS_STREAM
    web_dist: Path = DEFAULT_WEB_DIST
    redis_timeout_s: float = Field(default=0.5, gt=0)
    # How often the gRPC server's health (PlayService, "") is checked against Redis.
    health_check_s: float = Field(default=1.0, gt=0, le=60)
    # what one client may do (see the module doc)
    max_sessions_per_client: int = Field(default=20, ge=0)
    creates_per_s: float = Field(default=1.0, ge=0)
    create_burst: float = Field(default=10.0, ge=1)
    steps_per_s: float = Field(default=50.0, ge=0)
    step_burst: float = Field(default=100.0, ge=1)
    # Origins whose pages may call the API from a browser (CORS); empty: none but the API's own
    # (the page it serves). "*" allows any origin, and only if given explicitly.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment: a JSON list, or comma-separated
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [o for o in text.split(",") if o.strip()]
        if isinstance(value, list):
            value = [o.strip().rstrip("/") if isinstance(o, str) else o for o in value]
            for origin in value:
                if not isinstance(origin, str) or not (origin == "*" or ORIGIN_RE.match(origin)):
                    raise ValueError(f"a CORS origin is scheme://host[:port] (or *), got {origin!r}")
        return value
    ws_default_fps: float = Field(default=30.0, gt=0)
    ws_max_fps: float = Field(default=1000.0, gt=0)
    # the model of the play page's suggestions (PROSPECTOR_PRETRAINED_MODEL, no API_ in the name: the
    # stack and the images set it for the API); None: the shipped package's policy.npz if there is one
    pretrained_model: Path | None = Field(
        default=None, validation_alias=AliasChoices("PROSPECTOR_PRETRAINED_MODEL", "pretrained_model"))

    @field_validator("pretrained_model", mode="before")
    @classmethod
    def _model_path(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def pretrained_model_path(self) -> Path | None:
        """The model file to serve: the one set, else the shipped package's (prospector_common.policy.
        pretrained.default_model_dir: $PROSPECTOR_MODEL_DIR, the repository's or the image's
        models/ppo-pretrained) when it exists, else None."""
        from prospector_common.policy.pretrained import default_model_dir

        if self.pretrained_model is not None:
            return self.pretrained_model
        model_dir = default_model_dir()
        return model_dir / "policy.npz" if model_dir is not None and (model_dir / "policy.npz").is_file() else None


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    """The process-wide API settings, read from the environment once."""
    return ApiSettings()
