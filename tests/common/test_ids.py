"""IDs: made in one documented shape, and anything else refused before it reaches a path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from prospector_common.ids import (
    MAX_WINDOW_ID,
    RUN_ID_RE,
    InvalidId,
    new_replay_id,
    new_run_id,
    parse_replay_id,
    short_git_sha,
    validate_replay_id,
    validate_run_id,
    validate_window_id,
)

GOOD_RUN_ID = "20250102-030405-1a2b3c4-9f0e"
GOOD_REPLAY_ID = "w000003-s912-5be0c1d2"

PATH_TRICKS = [
    "",
    "..",
    "../etc/passwd",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "%2f",
    "%2F",
    "..%2f..",
    "\x00",
    GOOD_RUN_ID + "\x00",
    GOOD_RUN_ID + "/..",
    "../" + GOOD_RUN_ID,
    GOOD_RUN_ID + "\n",
    " " + GOOD_RUN_ID,
    "x" * 65,
    GOOD_RUN_ID.upper(),
]


def test_new_run_id_is_utc_time_git_sha_and_random_suffix() -> None:
    when = datetime(2025, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    run_id = new_run_id(now=when, git_sha="1a2b3c4")
    assert run_id.startswith("20250102-030405-1a2b3c4-")
    assert validate_run_id(run_id) == run_id


def test_new_run_id_uses_this_checkouts_git_sha_or_nogit() -> None:
    match = RUN_ID_RE.match(new_run_id())
    assert match is not None
    assert match["sha"] == short_git_sha()
    assert new_run_id(git_sha="nogit").split("-")[2] == "nogit"


def test_run_ids_made_in_the_same_second_differ() -> None:
    when = datetime(2025, 1, 2, tzinfo=UTC)
    assert len({new_run_id(now=when, git_sha="nogit") for _ in range(20)}) > 1


def test_new_run_id_refuses_a_malformed_git_sha() -> None:
    with pytest.raises(InvalidId):
        new_run_id(git_sha="../../x")


@pytest.mark.parametrize("value", PATH_TRICKS)
def test_run_id_rejects_path_tricks_and_malformed_text(value: str) -> None:
    with pytest.raises(InvalidId):
        validate_run_id(value)


def test_run_id_rejects_an_impossible_date() -> None:
    with pytest.raises(InvalidId, match="real date"):
        validate_run_id("20251341-030405-1a2b3c4-9f0e")


@pytest.mark.parametrize("value", [None, 3, b"20250102-030405-1a2b3c4-9f0e"])
def test_run_id_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidId, match="must be a string"):
        validate_run_id(value)


def test_invalid_id_is_a_value_error_that_names_the_trick() -> None:
    with pytest.raises(ValueError, match=r"run_id .* contains '/'"):
        validate_run_id("20250102-030405-1a2b3c4-9f0e/x")
    with pytest.raises(InvalidId, match="too long"):
        validate_run_id("1" * 1000)


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 0), (7, 7), ("0", 0), ("12", 12), (MAX_WINDOW_ID, MAX_WINDOW_ID)]
)
def test_window_id_accepts_ints_and_canonical_text(value: object, expected: int) -> None:
    assert validate_window_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [-1, MAX_WINDOW_ID + 1, "-1", "01", "+1", " 1", "1 ", "1e3", "0x1", "1/..", "..", "", True, 1.0, None],
)
def test_window_id_rejects_everything_else(value: object) -> None:
    with pytest.raises(InvalidId):
        validate_window_id(value)


def test_replay_id_encodes_window_and_seed() -> None:
    replay_id = new_replay_id(3, 2**64 - 1)
    assert validate_replay_id(replay_id) == replay_id
    assert parse_replay_id(replay_id) == (3, 2**64 - 1)
    assert replay_id.startswith("w000003-s18446744073709551615-")


def test_replay_id_from_the_same_key_is_the_same_and_random_otherwise() -> None:
    assert new_replay_id(1, 5, key="run:1:5:argmax") == new_replay_id(1, 5, key="run:1:5:argmax")
    assert new_replay_id(1, 5, key="run:1:5:argmax") != new_replay_id(1, 5, key="run:1:5:sample")
    assert len({new_replay_id(1, 5) for _ in range(20)}) > 1


@pytest.mark.parametrize(
    "value",
    [
        *PATH_TRICKS,
        "w3-s912-5be0c1d2",
        "w000003-s0912-5be0c1d2",
        "w000003-s912-5BE0C1D2",
        "w000003-s18446744073709551616-5be0c1d2",
        GOOD_REPLAY_ID + ".jsonl.gz",
        GOOD_REPLAY_ID + "/",
    ],
)
def test_replay_id_rejects_path_tricks_and_malformed_text(value: str) -> None:
    with pytest.raises(InvalidId):
        validate_replay_id(value)


def test_new_replay_id_refuses_out_of_range_inputs() -> None:
    with pytest.raises(InvalidId):
        new_replay_id(-1, 0)
    with pytest.raises(InvalidId):
        new_replay_id(0, 2**64)
