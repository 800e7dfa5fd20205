"""Redis stream names and the messages that travel on them.

A Redis stream entry is a flat map of strings, so each message says how to
flatten itself (`to_fields`: numbers as decimal text, nested values as JSON)
and how to come back (`from_fields`, which validates every ID, accepts bytes
from a client without decode_responses, and ignores fields it does not know,
such as the reason a dead-letter entry carries).

Every message has a `msg_id` that is the same each time the same fact is
announced; the announcer uses it to send each fact exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .ids import validate_replay_id, validate_run_id, validate_window_id
from .jsonsafe import dumps, json_safe

WINDOWS_STREAM = "prospector:windows"
WINDOWS_DEAD = "prospector:windows:dead"
REPLAYS_STREAM = "prospector:replays"
EVALUATOR_GROUP = "evaluators"

SCHEMA_VERSION = "1"  # field "v" of every entry; bump when the fields change meaning


def decode_fields(fields: Mapping[str | bytes, str | bytes]) -> dict[str, str]:
    """A stream entry's fields as str -> str, whatever the client returned."""

    def text(value: str | bytes) -> str:
        return value.decode("utf-8") if isinstance(value, bytes) else value

    return {text(k): text(v) for k, v in fields.items()}


class Announcement(BaseModel):
    """A message on a stream about one window of a run: its stream name, a
    stable msg_id, and flat fields."""

    model_config = ConfigDict(frozen=True)

    STREAM: ClassVar[str]
    _JSON_FIELDS: ClassVar[tuple[str, ...]] = ()

    run_id: str
    window_id: int

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        return validate_run_id(value)

    @field_validator("window_id", mode="before")
    @classmethod
    def _window_id(cls, value: object) -> int:
        return validate_window_id(value)

    @property
    def msg_id(self) -> str:
        raise NotImplementedError

    def to_fields(self) -> dict[str, str]:
        """Flat str -> str fields for XADD (with "v" and "msg_id")."""
        fields = {"v": SCHEMA_VERSION, "msg_id": self.msg_id}
        for name, value in self.model_dump().items():
            fields[name] = dumps(value) if name in self._JSON_FIELDS else str(value)
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[str | bytes, str | bytes]) -> Self:
        """Parse and validate an entry; ValueError if it is malformed or from another schema."""
        flat = decode_fields(fields)
        version = flat.get("v")
        if version != SCHEMA_VERSION:
            raise ValueError(f"{cls.__name__}: schema version {version!r}, expected {SCHEMA_VERSION!r}")
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            if name not in flat:
                raise ValueError(f"{cls.__name__}: field {name!r} is missing")
            raw = flat[name]
            if name in cls._JSON_FIELDS:
                try:
                    values[name] = json.loads(raw)
                except ValueError as exc:
                    raise ValueError(f"{cls.__name__}: field {name!r} is not JSON: {exc}") from None
            else:
                values[name] = raw
        message = cls(**values)
        if "msg_id" in flat and flat["msg_id"] != message.msg_id:
            raise ValueError(f"{cls.__name__}: msg_id {flat['msg_id']!r} does not match {message.msg_id!r}")
        return message


class WindowAnnouncement(Announcement):
    """The trainer finished a window: its checkpoint is on disk and in the catalog."""

    STREAM: ClassVar[str] = WINDOWS_STREAM
    _JSON_FIELDS: ClassVar[tuple[str, ...]] = ("metrics",)

    env_steps: int = Field(ge=0)
    # Relative to the data dir (RunPaths.relative); a consumer should rebuild
    # the path from run_id and window_id (RunPaths.checkpoint) rather than trust it.
    checkpoint_path: str
    metrics: dict[str, Any]

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: object) -> object:
        return json_safe(value)  # numpy scalars and NaN from the trainer

    @property
    def msg_id(self) -> str:
        return f"{self.run_id}:{self.window_id}"


class ReplayAnnouncement(Announcement):
    """The evaluator wrote and cataloged a replay."""

    STREAM: ClassVar[str] = REPLAYS_STREAM
    _JSON_FIELDS: ClassVar[tuple[str, ...]] = ("tags",)

    replay_id: str
    tags: list[str]

    @field_validator("replay_id")
    @classmethod
    def _replay_id(cls, value: str) -> str:
        return validate_replay_id(value)

    @property
    def msg_id(self) -> str:
        return f"{self.run_id}:{self.replay_id}"


def dead_letter_fields(
    fields: Mapping[str | bytes, str | bytes], reason: str, *, attempts: int, source_id: str | bytes = ""
) -> dict[str, str]:
    """The fields for WINDOWS_DEAD: the original entry plus why it was given up on."""
    flat = decode_fields(fields)
    flat.update(
        dead_reason=reason[:2000],
        dead_attempts=str(attempts),
        dead_at=datetime.now(UTC).isoformat(),
        dead_source_id=source_id.decode() if isinstance(source_id, bytes) else source_id,
    )
    return flat
