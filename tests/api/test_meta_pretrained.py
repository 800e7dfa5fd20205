"""/api/meta's "pretrained": the served model's name and the run and window it was trained in
(from its file's header), so the page can tell the pretrained agent's run from the others
(issue 16: the page shows the pretrained run on first start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prospector_api.app import create_app
from prospector_common.policy import checkpoint as ckpt
from prospector_common.policy.serving import NumpyPolicy, export_numpy

from .conftest import api_settings_for


@pytest.fixture(scope="module")
def exported(recorded, tmp_path_factory) -> tuple[Path, dict]:
    """The recorded run's window-1 checkpoint exported for serving (default name), and the checkpoint."""
    checkpoint = recorded.data_dir / recorded.run_id / "checkpoints" / "ckpt_1.pt"
    _, data = ckpt.load_policy(checkpoint)
    return export_numpy(checkpoint, tmp_path_factory.mktemp("model") / "policy.npz"), data


def _meta(settings, api) -> dict:
    with TestClient(create_app(settings, api)) as client:
        response = client.get("/api/meta")
        assert response.status_code == 200
        return response.json()


def test_meta_names_the_models_run_and_window(settings, prefix, exported, recorded):
    model_file, data = exported
    pretrained = _meta(settings, api_settings_for(prefix, pretrained_model=model_file))["pretrained"]
    assert pretrained == {"name": f"{recorded.run_id} window 1", "run_id": recorded.run_id, "window_id": 1,
                          "env_steps": int(data["env_steps"])}
    # the run it names is a run of the catalog, as the page looks it up
    with TestClient(create_app(settings, api_settings_for(prefix))) as client:
        assert recorded.run_id in [r["run_id"] for r in client.get("/api/runs").json()["items"]]


def test_a_model_without_its_origin_still_has_a_name(settings, prefix, exported, tmp_path):
    model_file, _ = exported
    policy = NumpyPolicy.load(model_file)
    header = {k: v for k, v in policy.header.items() if k not in ("run_id", "window_id", "env_steps")}
    header["name"] = "hand-made"
    bare = NumpyPolicy(header, policy.w).save(tmp_path / "bare.npz")
    pretrained = _meta(settings, api_settings_for(prefix, pretrained_model=bare))["pretrained"]
    assert pretrained == {"name": "hand-made", "run_id": None, "window_id": None, "env_steps": None}


def test_no_model_no_pretrained(settings, prefix, tmp_path):
    assert _meta(settings, api_settings_for(prefix, pretrained_model=tmp_path / "missing.npz"))["pretrained"] is None
