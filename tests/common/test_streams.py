"""Stream messages: flat string fields for XADD, validated on the way back."""

from __future__ import annotations

import pytest
from prospector_common.streams import (
    EVALUATOR_GROUP,
    REPLAYS_STREAM,
    WINDOWS_DEAD,
    WINDOWS_STREAM,
    ReplayAnnouncement,
    WindowAnnouncement,
    dead_letter_fields,
)

RUN_ID = "20250102-030405-1a2b3c4-9f0e"
REPLAY_ID = "w000003-s912-5be0c1d2"


def window(**overrides: object) -> WindowAnnouncement:
    values: dict[str, object] = {
        "run_id": RUN_ID,
        "window_id": 3,
        "env_steps": 30000,
        "checkpoint_path": f"{RUN_ID}/checkpoints/ckpt_3.pt",
        "metrics": {"return_mean": 1.5, "loss": float("nan"), "nested": {"a": [1, 2]}},
    }
    return WindowAnnouncement(**{**values, **overrides})


def test_stream_names_are_the_documented_ones() -> None:
    assert (WINDOWS_STREAM, WINDOWS_DEAD, REPLAYS_STREAM, EVALUATOR_GROUP) == (
        "prospector:windows",
        "prospector:windows:dead",
        "prospector:replays",
        "evaluators",
    )
    assert WindowAnnouncement.STREAM == WINDOWS_STREAM and ReplayAnnouncement.STREAM == REPLAYS_STREAM


def test_a_window_announcement_flattens_to_strings_and_comes_back_equal() -> None:
    message = window()
    fields = message.to_fields()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    assert fields["msg_id"] == f"{RUN_ID}:3"
    assert fields["window_id"] == "3" and fields["env_steps"] == "30000"
    assert fields["metrics"] == '{"return_mean":1.5,"loss":null,"nested":{"a":[1,2]}}'
    assert WindowAnnouncement.from_fields(fields) == message
    # As a client without decode_responses hands them back:
    as_bytes = {k.encode(): v.encode() for k, v in fields.items()}
    assert WindowAnnouncement.from_fields(as_bytes) == message


def test_a_replay_announcement_round_trips_with_its_tags() -> None:
    message = ReplayAnnouncement(
        run_id=RUN_ID, window_id=3, replay_id=REPLAY_ID, tags=["every_window", "milestone:first_profit"]
    )
    fields = message.to_fields()
    assert fields["msg_id"] == f"{RUN_ID}:{REPLAY_ID}"
    assert fields["tags"] == '["every_window","milestone:first_profit"]'
    assert ReplayAnnouncement.from_fields(fields) == message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("run_id", "../../etc"),
        ("window_id", "01"),
        ("window_id", "-1"),
        ("env_steps", "-5"),
        ("metrics", "{not json"),
        ("metrics", "[1, 2]"),
        ("v", "2"),
        ("msg_id", "someone-else:3"),
    ],
)
def test_a_malformed_or_tampered_entry_is_refused(field: str, value: str) -> None:
    fields = window().to_fields()
    fields[field] = value
    with pytest.raises(ValueError):
        WindowAnnouncement.from_fields(fields)


def test_an_entry_missing_a_field_is_refused() -> None:
    fields = window().to_fields()
    del fields["checkpoint_path"]
    with pytest.raises(ValueError, match="checkpoint_path"):
        WindowAnnouncement.from_fields(fields)


def test_a_dead_letter_entry_still_parses_as_the_original_window() -> None:
    original = window().to_fields()
    dead = dead_letter_fields(original, "checkpoint is corrupt", attempts=3, source_id=b"1-0")
    assert dead["dead_reason"] == "checkpoint is corrupt" and dead["dead_attempts"] == "3"
    assert dead["dead_source_id"] == "1-0"
    assert WindowAnnouncement.from_fields(dead) == window()


def test_a_replay_announcement_refuses_a_bad_replay_id() -> None:
    with pytest.raises(ValueError):
        ReplayAnnouncement(run_id=RUN_ID, window_id=3, replay_id="../x", tags=[])
