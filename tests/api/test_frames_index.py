"""Frames from anywhere in a long replay: the API's keyframe index (prospector_api.frames) gives
exactly what prospector_common.replay reads, at every offset, and a page near the end of a
20,000-tick replay decodes no more than a keyframe gap beyond its own frames."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from prospector_api.app import create_app
from prospector_api.frames import KEYFRAME_EVERY, FrameCache
from prospector_bench.api import make_long_replay
from prospector_common.replay import ReplayFormatError, iter_frames, read_frames
from prospector_common.settings import Settings
from prospector_common.storage import RunPaths

from .conftest import REDIS_URL, api_settings_for


@pytest.fixture(scope="module")
def long_replay(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("long-replay") / "runs"
    data_dir.mkdir()
    run_id, replay_id, frames = make_long_replay(data_dir, 20_000)
    return data_dir, run_id, replay_id, frames


def test_pages_equal_the_replay_readers_at_every_offset(recorded, tmp_path):
    path = RunPaths(recorded.data_dir, recorded.run_id).replay(recorded.replay_ids[0])  # the evaluator's, with policy
    everything = read_frames(path)
    n = len(everything)
    cache = FrameCache(keyframe_every=7)
    for offset in list(range(0, n, 3)) + [n - 1, n, n + 5]:
        for limit in (1, 5, 100):
            assert cache.page(path, offset, limit) == everything[offset:offset + limit], (offset, limit)
    assert list(cache.iter(path, 10)) == list(iter_frames(path, 10))
    assert len(cache._index(path).keyframes) == 1 + (n // 7)  # the index grew as far as reading went


def test_a_long_replay_reads_the_same_from_keyframes_and_concurrently(long_replay):
    data_dir, run_id, replay_id, frames = long_replay
    path = RunPaths(data_dir, run_id).replay(replay_id)
    assert frames >= 15_000
    cache = FrameCache()
    offsets = [frames - 100, 0, frames // 2 + 33, 127, 128, 129, frames - 1]
    expected = {o: read_frames(path, o, 100) for o in offsets[:3]}
    errors = []

    def read(offset: int) -> None:
        try:
            if offset in expected:
                assert cache.page(path, offset, 100) == expected[offset], offset
            else:
                assert [f["index"] for f in cache.page(path, offset, 3)] == list(range(offset, min(offset + 3, frames)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(o,)) for o in offsets * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_page_near_the_end_decodes_at_most_a_keyframe_gap_more_than_the_first(long_replay):
    # counted, not timed (bench api times the first and the last page): once the index reaches
    # the end, a page anywhere decodes its own frames plus fewer than KEYFRAME_EVERY before them
    data_dir, run_id, replay_id, frames = long_replay
    path = RunPaths(data_dir, run_id).replay(replay_id)
    cache = FrameCache()
    last = frames - 100

    def lines_for(offset: int) -> int:
        before = cache.lines_decoded
        page = cache.page(path, offset, 100)
        assert [f["index"] for f in page] == list(range(offset, offset + 100))
        return cache.lines_decoded - before

    assert lines_for(last) == frames  # cold: the first read of the end decodes everything before it
    first, end = lines_for(0), lines_for(last)
    assert first == 100
    assert 100 <= end < 100 + KEYFRAME_EVERY
    assert lines_for(frames // 2 + 33) < 100 + KEYFRAME_EVERY


def test_the_frames_route_serves_pages_from_anywhere_in_a_long_replay(long_replay):
    data_dir, run_id, replay_id, frames = long_replay
    settings = Settings(data_dir=data_dir, redis_url=REDIS_URL, wandb_mode="disabled")
    url = f"/api/runs/{run_id}/replays/{replay_id}/frames"
    with TestClient(create_app(settings, api_settings_for("test:frames"))) as client:
        for offset in (0, frames - 100, frames // 3):
            page = client.get(url, params={"offset": offset, "limit": 100})
            assert page.status_code == 200
            assert [f["index"] for f in page.json()["frames"]] == list(range(offset, offset + 100))


def test_a_changed_or_broken_file_is_read_again_or_refused(recorded, tmp_path):
    source = RunPaths(recorded.data_dir, recorded.run_id).replay(recorded.replay_ids[0])
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(source.read_bytes())
    cache = FrameCache(keyframe_every=5)
    assert cache.page(path, 0, 2) == read_frames(path, 0, 2)
    other = RunPaths(recorded.data_dir, recorded.run_id).replay(recorded.replay_ids[1])
    tmp = tmp_path / "new.jsonl.gz"
    tmp.write_bytes(other.read_bytes())
    tmp.replace(path)  # replays are replaced atomically: a new file, a new index
    assert cache.page(path, 3, 4) == read_frames(path, 3, 4)
    path.write_bytes(other.read_bytes()[:-40])  # cut short
    fresh = FrameCache()
    with pytest.raises(ReplayFormatError):
        list(fresh.iter(path, 0))
