"""Runs, windows, replays and frames over HTTP, on replays recorded by the real evaluator."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prospector import spec
from prospector_api.app import create_app
from prospector_common.catalog import Catalog
from prospector_common.settings import Settings
from prospector_common.storage import RunPaths
from prospector_common.replay import read_frames, read_header

from .conftest import REDIS_URL


def test_runs_list_and_detail_show_config_status_and_latest_window(client, recorded):
    runs = client.get("/api/runs").json()["items"]
    assert {r["run_id"] for r in runs} == {recorded.run_id, recorded.other_run_id}
    run = client.get(f"/api/runs/{recorded.run_id}").json()
    assert run["status"] == "running" and run["spec_version"] == spec.SPEC_VERSION
    assert run["latest_window"]["window_id"] == 1 and run["latest_window"]["eval_status"] == "done"
    assert run["config"]["env"]["time_max"] == 120
    assert "wandb_url" in run
    assert client.get("/api/runs?limit=1").json()["items"][0]["run_id"] in {recorded.run_id, recorded.other_run_id}


def test_window_metrics_page_with_after_and_limit(client, recorded):
    page = client.get(f"/api/runs/{recorded.run_id}/metrics/windows?limit=1").json()
    assert [w["window_id"] for w in page["items"]] == [0] and page["next_after"] == 0
    page = client.get(f"/api/runs/{recorded.run_id}/metrics/windows?limit=1&after=0").json()
    assert [w["window_id"] for w in page["items"]] == [1] and page["next_after"] is None
    assert page["items"][0]["metrics"]["net_profit_mean"] == 1.0
    # the largest page the schema allows is served (it once asked the catalog for one too many)
    page = client.get(f"/api/runs/{recorded.run_id}/metrics/windows?limit=1000")
    assert page.status_code == 200 and [w["window_id"] for w in page.json()["items"]] == [0, 1]
    assert client.get(f"/api/runs/{recorded.run_id}/metrics/windows?limit=1001").status_code == 422


def test_replays_page_through_with_cursor_tag_and_window_filters(client, recorded):
    base = f"/api/runs/{recorded.run_id}/replays"
    seen, cursor = [], None
    while True:
        page = client.get(base, params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [r["replay_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == recorded.replay_ids
    every = client.get(base, params={"tag": "every_window"}).json()["items"]
    assert sorted(r["window_id"] for r in every) == [0, 1]
    window1 = client.get(base, params={"window_id": 1}).json()["items"]
    assert len(window1) == 2 and all(r["window_id"] == 1 for r in window1)
    item = window1[0]
    assert set(item) >= {"replay_id", "seed", "return", "net_profit", "survival", "length", "tags"}
    assert "path" not in item


def test_replay_detail_and_frames_match_the_file(client, recorded):
    replay_id = recorded.replay_ids[0]
    path = RunPaths(recorded.data_dir, recorded.run_id).replay(replay_id)
    detail = client.get(f"/api/runs/{recorded.run_id}/replays/{replay_id}").json()
    header = read_header(path)
    assert detail["replay"]["replay_id"] == replay_id
    assert detail["header"]["initial_state"] == header["initial_state"] and "actions" not in detail["header"]
    with_actions = client.get(f"/api/runs/{recorded.run_id}/replays/{replay_id}?include_actions=true").json()
    assert with_actions["header"]["actions"] == header["actions"]
    page = client.get(f"/api/runs/{recorded.run_id}/replays/{replay_id}/frames?offset=5&limit=7").json()
    assert page["length"] == header["length"] and page["offset"] == 5
    assert page["frames"] == read_frames(path, 5, 7)
    past = client.get(f"/api/runs/{recorded.run_id}/replays/{replay_id}/frames?offset=100000").json()
    assert past["frames"] == []


@pytest.mark.parametrize("bad", [
    "..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "20250101-120000-nogit-abc%00", "20251301-120000-nogit-abcd",
    "20250101-120000-NOGIT-abcd", "x" * 100,
])
def test_malformed_run_ids_are_refused_before_any_lookup(client, bad):
    for url in (f"/api/runs/{bad}", f"/api/runs/{bad}/metrics/windows", f"/api/runs/{bad}/replays"):
        response = client.get(url)
        assert response.status_code in (404, 422), (url, response.status_code)
        assert "root:" not in response.text


def test_malformed_replay_ids_and_queries_are_422_with_reason(client, recorded):
    run = f"/api/runs/{recorded.run_id}"
    for bad in ("w000000-s1-zzzzzzzz", "w1-s1-0000000a", "w000000-s1-0000000a%00"):
        response = client.get(f"{run}/replays/{bad}")
        assert response.status_code == 422, bad
    # the documented shape, but a seed over 2**64-1: no such replay can exist
    assert client.get(f"{run}/replays/w000000-s99999999999999999999-0000000a").status_code == 404
    assert client.get("/api/runs/20250230-120000-nogit-abcd").status_code == 404  # Feb 30
    assert client.get(f"{run}/replays?cursor=../../x").status_code == 422
    assert client.get(f"{run}/replays?tag=Every Window").status_code == 422
    assert client.get(f"{run}/replays?limit=0").status_code == 422
    assert client.get(f"{run}/replays?limit=1001").status_code == 422
    assert client.get(f"{run}/replays/{recorded.replay_ids[0]}/frames?limit=501").status_code == 422
    detail = client.get("/api/runs/2025-bad").json()["detail"][0]
    assert "run_id" in detail["msg"] or "pattern" in detail["msg"]


def test_unknown_run_replay_or_replay_of_another_run_is_404(client, recorded):
    unknown_run = "20200101-000000-nogit-0000"
    assert client.get(f"/api/runs/{unknown_run}").status_code == 404
    assert client.get(f"/api/runs/{unknown_run}/replays").status_code == 404
    assert client.get(f"/api/runs/{unknown_run}/metrics/windows").status_code == 404
    replay_id = recorded.replay_ids[0]
    response = client.get(f"/api/runs/{recorded.other_run_id}/replays/{replay_id}")
    assert response.status_code == 404 and "not in the catalog" in response.json()["detail"]
    assert client.get(f"/api/runs/{recorded.run_id}/replays/w000000-s1-00000000").status_code == 404


def test_cataloged_replay_whose_file_is_gone_is_410(settings, api_settings, recorded, tmp_path):
    import shutil

    data_dir = tmp_path / "runs"
    shutil.copytree(recorded.data_dir, data_dir)
    replay_id = recorded.replay_ids[1]
    RunPaths(data_dir, recorded.run_id).replay(replay_id).unlink()
    app = create_app(Settings(data_dir=data_dir, redis_url=REDIS_URL), api_settings)
    with TestClient(app) as c:
        response = c.get(f"/api/runs/{recorded.run_id}/replays/{replay_id}/frames")
        assert response.status_code == 410 and "file is gone" in response.json()["detail"]


def test_meta_lists_actions_groups_layout_and_commodities(client):
    meta = client.get("/api/meta").json()
    assert meta["spec_version"] == spec.SPEC_VERSION and meta["n_actions"] == 69 and meta["obs_dim"] == 260
    assert [a["name"] for a in meta["actions"]] == list(spec.ACTION_NAMES)
    assert meta["actions"][68] == {"index": 68, "name": "CASH_OUT", "group": "episode"}
    assert sorted(i for g in meta["action_groups"].values() for i in g) == list(range(69))
    assert meta["commodities"] == list(spec.COMMODITIES)
    assert meta["observation_layout"]["sections"]["market"] == [244, 260]


def test_catalog_endpoints_work_on_postgresql(recorded, api_settings, postgres_url):
    with Catalog(f"sqlite:///{recorded.data_dir / 'catalog.sqlite'}") as source, Catalog(postgres_url) as target:
        target.create_all()
        for run in source.list_runs():
            target.upsert_run(run.run_id, config=run.config, spec_version=run.spec_version, git_sha=run.git_sha,
                              status=run.status, created_at=run.created_at)
            for w in source.list_windows(run.run_id):
                target.add_window(run.run_id, w.window_id, env_steps_total=w.env_steps_total,
                                  checkpoint_path=w.checkpoint_path, metrics=w.metrics)
            for r in source.list_replays(run.run_id, limit=100).items:
                target.add_replay(**r.model_dump(exclude={"created_at"}))
    app = create_app(Settings(data_dir=recorded.data_dir, database_url=postgres_url, redis_url=REDIS_URL),
                     api_settings)
    with TestClient(app) as c:
        assert {r["run_id"] for r in c.get("/api/runs").json()["items"]} == {recorded.run_id, recorded.other_run_id}
        page = c.get(f"/api/runs/{recorded.run_id}/replays", params={"limit": 2}).json()
        assert [r["replay_id"] for r in page["items"]] == recorded.replay_ids[:2]
        assert page["next_cursor"] == recorded.replay_ids[1]
        tagged = c.get(f"/api/runs/{recorded.run_id}/replays", params={"tag": "every_window"}).json()["items"]
        assert len(tagged) == 2
        frames = c.get(f"/api/runs/{recorded.run_id}/replays/{recorded.replay_ids[0]}/frames?limit=2").json()
        assert len(frames["frames"]) == 2
        assert c.get("/readyz").json()["catalog"] is True


def test_web_note_at_root_until_the_page_is_built(client, settings, prefix, tmp_path):
    response = client.get("/")
    assert response.status_code == 200 and "not built yet" in response.text
    from .conftest import api_settings_for

    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<html>the viewer</html>")
    with TestClient(create_app(settings, api_settings_for(prefix, web_dist=dist))) as c:
        assert c.get("/").text == "<html>the viewer</html>"
        assert c.get("/api/meta").status_code == 200
