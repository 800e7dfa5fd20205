"""Request and response models: what the OpenAPI schema documents.

IDs in paths and queries are typed with the shared validators
(prospector_common.ids), so a malformed one is a 422 before any handler runs,
and carry their pattern in the schema.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from fastapi import Path, Query
from prospector import spec
from prospector_common.catalog import MAX_PAGE, validate_tag
from prospector_common.ids import InvalidId, validate_replay_id, validate_run_id
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .sessions import MAX_SEED, SESSION_ID_PATTERN, validate_session_id

# ---- IDs (validated before they touch a path or a query) --------------------------------

RUN_ID_PATTERN = (r"^\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])-(?:[01]\d|2[0-3])[0-5]\d[0-5]\d"
                  r"-(?:[0-9a-f]{7}|nogit)-[0-9a-f]{4}$")
REPLAY_ID_PATTERN = r"^w\d{6}-s(?:0|[1-9]\d{0,19})-[0-9a-f]{8}$"
TAG_PATTERN = r"^[a-z0-9_]{1,32}(?::[a-z0-9_.]{1,31})?$"

class UnknownId(Exception):
    """An ID of the right shape that cannot exist (Feb 30, a seed over 2**64-1): 404, not 422."""


def shape_then(validate, pattern: str):
    """`validate`, except that a value matching the documented pattern is never a 422:
    if the pattern matches but the strict check fails, nothing by that ID exists."""
    shape = re.compile(pattern)

    def check(value: str) -> str:
        try:
            return validate(value)
        except InvalidId as exc:
            if shape.fullmatch(value) and "\n" not in value:
                raise UnknownId(str(exc)) from None
            raise

    return check


RunIdPath = Annotated[
    str,
    Path(description="run id: YYYYMMDD-HHMMSS-<7 hex sha or nogit>-<4 hex>", pattern=RUN_ID_PATTERN,
         max_length=64),
    AfterValidator(shape_then(validate_run_id, RUN_ID_PATTERN)),
]
ReplayIdPath = Annotated[
    str,
    Path(description="replay id: w<6-digit window>-s<seed>-<8 hex>", pattern=REPLAY_ID_PATTERN, max_length=64),
    AfterValidator(shape_then(validate_replay_id, REPLAY_ID_PATTERN)),
]
SessionIdPath = Annotated[
    str,
    Path(description="play session id: 32 lowercase hex", pattern=SESSION_ID_PATTERN, max_length=32),
    AfterValidator(validate_session_id),
]
TagQuery = Annotated[
    str | None,
    Query(description="only replays with this tag (every_window, best_so_far, milestone:...)",
          pattern=TAG_PATTERN, max_length=64),
    AfterValidator(lambda v: None if v is None else validate_tag(v)),
]
CursorQuery = Annotated[
    str | None,
    Query(description="next_cursor of the previous page", pattern=REPLAY_ID_PATTERN, max_length=64),
    AfterValidator(lambda v: None if v is None else shape_then(validate_replay_id, REPLAY_ID_PATTERN)(v)),
]
WindowIdQuery = Annotated[int | None, Query(ge=0, le=999_999, description="only this window")]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, 1..{MAX_PAGE}")]


def _integral(value: object) -> object:
    """JSON has one number type: 22.0 is the integer 22 (JSON Schema agrees); 22.5 stays a float."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Seeds are JSON numbers in 0..2**53-1, the largest integer JSON readers that use doubles
# (browsers, JSON Schema tools) all read exactly: the one range of play seeds on every
# transport (gRPC refuses larger ones too) and of the seeds the server hands out (random
# ones, and the engine's next seed on a reset without one).
MAX_HTTP_SEED = MAX_SEED
SEED_RANGE = (f"0..2**53-1 ({MAX_SEED}), on every transport; seeds the server picks (random, or the engine's "
              "next seed) are in the same range")


class _JsonNumbers(BaseModel):
    """Integral floats become ints in the fields listed in _INT_FIELDS, before strict checks."""

    _INT_FIELDS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _integral_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in cls._INT_FIELDS):
            data = {k: _integral(v) if k in cls._INT_FIELDS else v for k, v in data.items()}
        return data


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorOut(BaseModel):
    """Every error other than a request validation error (422)."""

    detail: str = Field(description="what went wrong, for people")


# ---- runs, windows, replays ------------------------------------------------------------


class WindowOut(BaseModel):
    run_id: str
    window_id: int
    env_steps_total: int
    checkpoint_path: str
    metrics: dict[str, Any]
    created_at: datetime
    eval_status: str | None
    eval_error: str | None


class RunOut(BaseModel):
    run_id: str
    created_at: datetime
    config: dict[str, Any]
    status: str
    wandb_url: str | None = Field(description="the W&B run page when the run logs online")
    spec_version: int
    git_sha: str
    latest_window: WindowOut | None


class RunList(BaseModel):
    items: list[RunOut]


class WindowPage(BaseModel):
    run_id: str
    items: list[WindowOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null at the end")


class ReplayOut(BaseModel):
    replay_id: str
    run_id: str
    window_id: int
    seed: int
    return_: float = Field(alias="return", serialization_alias="return")
    net_profit: float
    survival: bool
    length: int
    tags: list[str]
    created_at: datetime

    model_config = ConfigDict(populate_by_name=True)


class ReplayPageOut(BaseModel):
    items: list[ReplayOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null at the end")


class ReplayDetail(BaseModel):
    replay: ReplayOut
    header: dict[str, Any] = Field(
        description="the replay file's header: config, seed, policy, summary, static graph, initial state "
                    "(the action list only with include_actions=true)")


class FrameOut(_Out):
    index: int
    t: int
    action: int
    action_name: str | None
    reward: float
    dt: int
    events: dict[str, Any]
    state: dict[str, Any]


class FramePage(BaseModel):
    replay_id: str
    offset: int
    length: int = Field(description="frames in the replay")
    frames: list[FrameOut]


# ---- meta ------------------------------------------------------------------------------


class ActionOut(BaseModel):
    index: int
    name: str
    group: str


class PretrainedOut(BaseModel):
    name: str = Field(description="the model's name, as its file names it (e.g. a run and window)")


class Meta(BaseModel):
    spec_version: int
    n_actions: int
    obs_dim: int
    actions: list[ActionOut]
    action_groups: dict[str, list[int]]
    observation_layout: dict[str, Any]
    commodities: list[str]
    node_types: list[str]
    event_names: list[str]
    metric_names: list[str]
    env_config_default: dict[str, Any]
    pretrained: PretrainedOut | None = Field(
        default=None, description="the model that answers /api/play/sessions/{id}/suggest; null when none is served")


# ---- play ------------------------------------------------------------------------------


class EnvConfigIn(_JsonNumbers):
    """Env configuration; every field optional (unset: the full game, shaped reward, 20000 ticks)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    _INT_FIELDS: ClassVar[tuple[str, ...]] = ("time_max",)

    time_max: int | None = Field(default=None, ge=1, le=2**31 - 1)
    reward_mode: Literal["shaped", "sparse"] | None = None
    pirates: bool | None = None
    hazards: bool | None = None
    scan_noise: bool | None = None
    fractures: bool | None = None
    price_impact: bool | None = None
    shocks: bool | None = None

    def to_config(self, base: spec.EnvConfig | None = None) -> spec.EnvConfig:
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return (base or spec.EnvConfig()).replace(**given)


class _ViewIn(_JsonNumbers):
    model_config = ConfigDict(extra="forbid")
    _INT_FIELDS: ClassVar[tuple[str, ...]] = ("seed",)

    include_state: bool = Field(default=True, strict=True, description="send the render state")
    include_observation: bool = Field(default=False, strict=True, description="send the 260 floats")


class CreateSessionIn(_ViewIn):
    seed: int | None = Field(default=None, ge=0, le=MAX_HTTP_SEED, strict=True,
                             description=f"seed of the first episode, {SEED_RANGE}; random when omitted")
    config: EnvConfigIn | None = None


class ResetIn(_ViewIn):
    seed: int | None = Field(default=None, ge=0, le=MAX_HTTP_SEED, strict=True,
                             description=f"seed of the new episode, {SEED_RANGE}; the engine's next seed "
                                         "when omitted")
    config: EnvConfigIn | None = Field(default=None, description="new config; the session's when omitted")


class StepIn(_ViewIn):
    action: int = Field(description=f"the action index, 0..{spec.N_ACTIONS - 1} (see /api/meta)",
                        json_schema_extra={"minimum": 0, "maximum": spec.N_ACTIONS - 1})

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: object) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has no separate integer type: 22.0 is the integer 22
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < spec.N_ACTIONS:
            raise ValueError(f"action must be an integer in 0..{spec.N_ACTIONS - 1}, got {value!r}")
        return value


class SessionOut(BaseModel):
    session_id: str
    seed: int = Field(ge=0, le=MAX_SEED, description=f"the episode's seed, {SEED_RANGE}")
    config: dict[str, Any]
    expires_at: float = Field(description="unix seconds when the session expires if idle; a step or reset "
                                          "renews it once that moves it by a tenth of the TTL (at most 1 s)")
    t: int
    terminated: bool
    truncated: bool
    state: dict[str, Any] | None
    action_mask: list[bool]
    observation: list[float] | None


class StepOut(BaseModel):
    session_id: str
    action: int
    reward: float
    terminated: bool
    truncated: bool
    t: int
    expires_at: float
    state: dict[str, Any] | None
    info: dict[str, Any] | None = Field(description="events of the step; episode metrics once it ended")
    action_mask: list[bool]
    observation: list[float] | None


class CloseOut(BaseModel):
    closed: bool


class SuggestionOut(BaseModel):
    """What the pretrained model would do in the session's current state (the session is unchanged)."""

    model: str = Field(description="the model's name (as /api/meta's pretrained.name)")
    action: int = Field(ge=0, lt=spec.N_ACTIONS, description="the model's likeliest action (what it plays greedily)")
    top: list[tuple[int, float]] = Field(
        max_length=5, description="up to 5 [action, probability] pairs, likeliest first; probabilities after the "
                                  "engine's mask (for a policy trained with it) and the policy's forbidden actions, "
                                  "rounded to 4 decimals")
    value: float = Field(description="the model's value estimate of the state (4 significant digits)")
    entropy: float = Field(ge=0, description="entropy of the model's action distribution, nats (4 decimals)")
