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
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from prospector_common.streams import REPLAYS_STREAM, WINDOWS_STREAM
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"


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
    ws_default_fps: float = Field(default=30.0, gt=0)
    ws_max_fps: float = Field(default=1000.0, gt=0)


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    """The process-wide API settings, read from the environment once."""
    return ApiSettings()
