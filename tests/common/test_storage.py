"""Run files: the documented layout, no escape from the data dir, no half-written file."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prospector_common.ids import InvalidId
from prospector_common.storage import (
    RunPaths,
    UnsafePath,
    append_jsonl,
    atomic_open,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    inside_data_dir,
    read_jsonl,
    remove_temp_files,
)

RUN_ID = "20250102-030405-1a2b3c4-9f0e"
REPLAY_ID = "w000003-s912-5be0c1d2"


def test_run_paths_follow_the_documented_layout(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path, RUN_ID)
    run = tmp_path.resolve() / RUN_ID
    assert paths.run_dir == run
    assert paths.run_json == run / "run.json"
    assert paths.checkpoint(3) == run / "checkpoints" / "ckpt_3.pt"
    assert paths.checkpoint("12") == run / "checkpoints" / "ckpt_12.pt"
    assert paths.metrics_file == run / "metrics" / "windows.jsonl"
    assert paths.replay(REPLAY_ID) == run / "replays" / f"{REPLAY_ID}.jsonl.gz"
    assert paths.outbox_file == run / "outbox.sqlite"
    assert paths.relative(paths.checkpoint(3)) == f"{RUN_ID}/checkpoints/ckpt_3.pt"


@pytest.mark.parametrize("run_id", ["..", "../x", "/etc", "%2e%2e", "20250102-030405-1a2b3c4-9f0e/.."])
def test_run_paths_refuse_a_run_id_that_could_leave_the_data_dir(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(InvalidId):
        RunPaths(tmp_path, run_id)


@pytest.mark.parametrize("window_id", ["../1", "-1", "1/..", "01"])
def test_checkpoint_path_refuses_a_bad_window_id(tmp_path: Path, window_id: str) -> None:
    with pytest.raises(InvalidId):
        RunPaths(tmp_path, RUN_ID).checkpoint(window_id)


@pytest.mark.parametrize("replay_id", ["../../run.json", "..%2f..%2fx", REPLAY_ID + "\x00", "/etc/passwd"])
def test_replay_path_refuses_a_bad_replay_id(tmp_path: Path, replay_id: str) -> None:
    with pytest.raises(InvalidId):
        RunPaths(tmp_path, RUN_ID).replay(replay_id)


def test_a_run_dir_symlinked_out_of_the_data_dir_is_refused(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    (data / RUN_ID).symlink_to(elsewhere)
    with pytest.raises(UnsafePath):
        _ = RunPaths(data, RUN_ID).checkpoint(0)


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x"])
def test_inside_data_dir_refuses_parent_and_absolute_paths(tmp_path: Path, path: str) -> None:
    with pytest.raises(UnsafePath):
        inside_data_dir(tmp_path, path)
    assert inside_data_dir(tmp_path, "a/../b") == tmp_path.resolve() / "b"


def test_atomic_write_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(target, b"first version, longer")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]
    assert target.stat().st_mode & 0o777 == 0o644  # readable by the other services' users


def test_a_crash_inside_an_atomic_write_leaves_no_target_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "ckpt_0.pt"
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write(b"half a checkpoint")
        raise RuntimeError("simulated crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_a_crash_inside_an_atomic_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    atomic_write_json(target, {"status": "old"})
    with pytest.raises(KeyboardInterrupt), atomic_open(target, "w") as f:
        f.write('{"status": "ne')
        raise KeyboardInterrupt
    assert read_json(target) == {"status": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def read_json(path: Path) -> object:
    import json

    return json.loads(path.read_text())


def test_a_file_being_written_is_invisible_under_its_real_name(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path, RUN_ID)
    paths.make_dirs()
    atomic_write_bytes(paths.checkpoint(0), b"done")
    with atomic_open(paths.checkpoint(1)) as f:
        f.write(b"in progress")
        f.flush()
        assert not paths.checkpoint(1).exists()
        assert paths.checkpoint_window_ids() == [0]
        assert len(list(paths.checkpoints_dir.iterdir())) == 2  # the hidden temp file
    assert paths.checkpoint_window_ids() == [0, 1]


def test_a_killed_writer_process_leaves_the_old_file_and_a_removable_temp(tmp_path: Path) -> None:
    target = tmp_path / "ckpt_0.pt"
    atomic_write_bytes(target, b"old checkpoint")
    child = (
        "import os, sys\n"
        "from prospector_common.storage import atomic_open\n"
        "with atomic_open(sys.argv[1]) as f:\n"
        "    f.write(b'new but only half'); f.flush()\n"
        "    os._exit(9)  # dies like SIGKILL: no cleanup runs\n"
    )
    result = subprocess.run([sys.executable, "-c", child, str(target)], timeout=30)
    assert result.returncode == 9
    assert target.read_bytes() == b"old checkpoint"
    assert remove_temp_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_0.pt"]


def test_atomic_open_streams_into_a_gzip_replay(tmp_path: Path) -> None:
    target = RunPaths(tmp_path, RUN_ID).replay(REPLAY_ID)
    with atomic_open(target) as raw, gzip.GzipFile(fileobj=raw, mode="wb") as gz:
        gz.write(b'{"t":0}\n')
    assert gzip.decompress(target.read_bytes()) == b'{"t":0}\n'


def test_atomic_write_json_and_text_write_strict_json(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a.json", {"loss": float("nan"), "path": tmp_path, "t": (1, 2)})
    assert read_json(tmp_path / "a.json") == {"loss": None, "path": str(tmp_path), "t": [1, 2]}
    atomic_write_text(tmp_path / "b.txt", "héllo")
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo"


def test_atomic_open_refuses_append_and_read_modes(tmp_path: Path) -> None:
    for mode in ("ab", "r", "r+b"):
        with pytest.raises(ValueError), atomic_open(tmp_path / "x", mode):
            pass


def test_appended_rows_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "metrics" / "windows.jsonl"
    for window in range(3):
        append_jsonl(path, {"window_id": window, "loss": float("inf")})
    assert read_jsonl(path) == [{"window_id": w, "loss": None} for w in range(3)]


def test_a_torn_last_line_is_ignored_by_readers(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    append_jsonl(path, {"window_id": 0})
    with open(path, "ab") as f:
        f.write(b'{"window_id": 1, "ret')  # a writer died mid-line
    assert read_jsonl(path) == [{"window_id": 0}]


def test_appending_after_a_torn_line_cuts_the_fragment_first(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    append_jsonl(path, {"window_id": 0})
    with open(path, "ab") as f:
        f.write(b'{"window_id": 1, "ret')
    append_jsonl(path, {"window_id": 1})
    assert read_jsonl(path) == [{"window_id": 0}, {"window_id": 1}]
    assert path.read_bytes().count(b"\n") == 2


def test_a_file_that_is_only_a_torn_line_is_emptied_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b'{"window_id": 0, "ret' + b"x" * 70000)  # longer than one backward read
    assert read_jsonl(path) == []
    append_jsonl(path, {"window_id": 0})
    assert path.read_bytes() == b'{"window_id":0}\n'


def test_reading_a_missing_jsonl_file_gives_no_rows(tmp_path: Path) -> None:
    assert read_jsonl(tmp_path / "nope.jsonl") == []


def test_a_corrupt_complete_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b'{"window_id": 0}\nnot json\n{"window_id": 2}\n')
    with pytest.raises(ValueError, match=r"windows.jsonl:2"):
        read_jsonl(path)


def test_checkpoint_listing_ignores_temp_and_foreign_files(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path, RUN_ID)
    paths.make_dirs()
    for name in ["ckpt_10.pt", "ckpt_2.pt", "ckpt_01.pt", ".ckpt_3.pt.abc.tmp", "ckpt_4.pt.bak", "notes.txt"]:
        (paths.checkpoints_dir / name).write_bytes(b"")
    assert paths.checkpoint_window_ids() == [2, 10]
    assert os.path.isdir(paths.replays_dir) and os.path.isdir(paths.metrics_dir)
