"""Configuration shared by every service: the one documented place for it.

Every value comes from an environment variable (or a keyword argument, for a
command-line override). Unset variables take the defaults below, which make a
plain local run work with no configuration at all:

| variable                             | default                                   |
|--------------------------------------|-------------------------------------------|
| PROSPECTOR_DATA_DIR                  | ./runs (made absolute at load time)       |
| DATABASE_URL                         | sqlite:///{data_dir}/catalog.sqlite       |
| REDIS_URL                            | redis://127.0.0.1:6379/0                  |
| WANDB_API_KEY                        | unset                                     |
| WANDB_MODE                           | offline, or online when WANDB_API_KEY set |
| WANDB_PROJECT                        | asteroid-belt-prospector                  |
| PROSPECTOR_GIT_SHA                   | unset: asked from git (containers set it) |
| PROSPECTOR_TRAINER_GRPC_PORT         | 50061                                     |
| PROSPECTOR_TRAINER_METRICS_PORT      | 9101                                      |
| PROSPECTOR_EVALUATOR_GRPC_PORT       | 50062                                     |
| PROSPECTOR_EVALUATOR_METRICS_PORT    | 9102                                      |
| PROSPECTOR_API_HTTP_PORT             | 8000 (also serves the API's /metrics)     |
| PROSPECTOR_API_GRPC_PORT             | 50051                                     |
| PROSPECTOR_TRAINER_HOST              | 127.0.0.1 (read by `prospector status`)   |
| PROSPECTOR_EVALUATOR_HOST            | 127.0.0.1 (read by `prospector status`)   |
| PROSPECTOR_API_HOST                  | 127.0.0.1 (read by `prospector status`)   |
| PROSPECTOR_BIND_HOST                 | 127.0.0.1 (where every service listens)   |
| PROSPECTOR_OPERATOR_TOKEN            | unset: operator calls are open (see below) |

The whole stack (docker-compose.yml and `prospector up`, which runs the same
commands as local processes) also reads these, in the services' commands and
port mappings rather than in this class:

| variable                             | default                                   |
|--------------------------------------|-------------------------------------------|
| PROSPECTOR_TRAIN_CONFIG              | demo (a trainer config name or TOML path) |
| PROSPECTOR_PRETRAINED                | register (skip: no pretrained run beside) |
| PROSPECTOR_EVALUATOR_CLAIM_IDLE_MS   | 60000 (claim a silent evaluator's window) |
| PROSPECTOR_IMAGE_TAG                 | latest (compose only)                     |
| POSTGRES_PASSWORD                    | prospector (compose only)                 |
| PROSPECTOR_PROMETHEUS_PORT           | 9090 (compose only)                       |

The pretrained model package (models/ppo-pretrained; policy/pretrained.py) is found
through PROSPECTOR_MODEL_DIR (a path that does not exist, e.g. `none`: no model).

`prospector up` runs its own Redis unless REDIS_URL is set, and keeps the
SQLite catalog unless DATABASE_URL is set (see prospector_stack).

Listening: every service (the API's HTTP and gRPC, the trainer's and the
evaluators' gRPC and /metrics) binds PROSPECTOR_BIND_HOST, loopback unless told
otherwise; the containers set 0.0.0.0 (docker-compose.yml), inside their own
network, and publish only the ports the compose file maps.

Operator calls that change things (on-demand evaluation over gRPC) need
PROSPECTOR_OPERATOR_TOKEN when it is set: `authorization: Bearer <token>` in
the call's metadata (HTTP: the same header). `prospector up` sets one and
prints it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WandbMode = Literal["online", "offline", "disabled"]

CATALOG_FILENAME = "catalog.sqlite"


def _env(name: str, field: str) -> AliasChoices:
    # The environment variable, or the field name for keyword overrides
    # (Settings(data_dir=...) from a command-line flag).
    return AliasChoices(name, field)


class Settings(BaseSettings):
    """Environment-driven settings; see the module docstring for the table."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    data_dir: Path = Field(default=Path("runs"), validation_alias=_env("PROSPECTOR_DATA_DIR", "data_dir"))
    # Empty means "the SQLite catalog in data_dir"; filled in by _fill_defaults.
    database_url: str = Field(default="", validation_alias=_env("DATABASE_URL", "database_url"))
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", validation_alias=_env("REDIS_URL", "redis_url")
    )

    wandb_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("WANDB_API_KEY", "wandb_api_key")
    )
    # Unset means: online with a key, offline without. W&B must never be required.
    wandb_mode: WandbMode | None = Field(default=None, validation_alias=_env("WANDB_MODE", "wandb_mode"))
    wandb_project: str = Field(
        default="asteroid-belt-prospector", validation_alias=_env("WANDB_PROJECT", "wandb_project")
    )

    # Containers have no .git; the image build passes the sha in instead.
    git_sha: str | None = Field(default=None, validation_alias=_env("PROSPECTOR_GIT_SHA", "git_sha"))

    trainer_grpc_port: int = Field(
        default=50061,
        ge=1,
        le=65535,
        validation_alias=_env("PROSPECTOR_TRAINER_GRPC_PORT", "trainer_grpc_port"),
    )
    trainer_metrics_port: int = Field(
        default=9101,
        ge=1,
        le=65535,
        validation_alias=_env("PROSPECTOR_TRAINER_METRICS_PORT", "trainer_metrics_port"),
    )
    evaluator_grpc_port: int = Field(
        default=50062,
        ge=1,
        le=65535,
        validation_alias=_env("PROSPECTOR_EVALUATOR_GRPC_PORT", "evaluator_grpc_port"),
    )
    evaluator_metrics_port: int = Field(
        default=9102,
        ge=1,
        le=65535,
        validation_alias=_env("PROSPECTOR_EVALUATOR_METRICS_PORT", "evaluator_metrics_port"),
    )
    # The API's Prometheus metrics are served on this port at /metrics.
    api_http_port: int = Field(
        default=8000, ge=1, le=65535, validation_alias=_env("PROSPECTOR_API_HTTP_PORT", "api_http_port")
    )
    api_grpc_port: int = Field(
        default=50051, ge=1, le=65535, validation_alias=_env("PROSPECTOR_API_GRPC_PORT", "api_grpc_port")
    )

    # Where `prospector status` finds each service: compose sets the service names.
    trainer_host: str = Field(default="127.0.0.1", validation_alias=_env("PROSPECTOR_TRAINER_HOST", "trainer_host"))
    evaluator_host: str = Field(
        default="127.0.0.1", validation_alias=_env("PROSPECTOR_EVALUATOR_HOST", "evaluator_host")
    )
    api_host: str = Field(default="127.0.0.1", validation_alias=_env("PROSPECTOR_API_HOST", "api_host"))
    # Where the services listen: loopback unless told otherwise (containers: 0.0.0.0).
    bind_host: str = Field(default="127.0.0.1", min_length=1,
                           validation_alias=_env("PROSPECTOR_BIND_HOST", "bind_host"))
    # The bearer token of operator calls that change things; None: they are open (a local run).
    operator_token: SecretStr | None = Field(
        default=None, validation_alias=_env("PROSPECTOR_OPERATOR_TOKEN", "operator_token")
    )

    @field_validator("wandb_mode", mode="before")
    @classmethod
    def _empty_wandb_mode_is_unset(cls, value: object) -> object:
        # compose passes WANDB_MODE through from the host: exported but empty means unset
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        # Absolute, so a later chdir (or a subprocess elsewhere) means the same place.
        object.__setattr__(self, "data_dir", self.data_dir.expanduser().resolve())
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / CATALOG_FILENAME}")
        if self.operator_token is not None and not self.operator_token.get_secret_value().strip():
            object.__setattr__(self, "operator_token", None)  # set but empty: none
        if self.wandb_mode is None or (self.wandb_mode == "online" and self.wandb_api_key is None):
            # Online without a key would prompt or fail; offline always works.
            mode: WandbMode = "online" if self.wandb_api_key is not None else "offline"
            object.__setattr__(self, "wandb_mode", mode)
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once.

    Services inject this (e.g. a FastAPI dependency) rather than reading the
    environment themselves; tests that change the environment call
    `get_settings.cache_clear()`.
    """
    return Settings()
