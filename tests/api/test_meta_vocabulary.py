"""/api/meta's action vocabulary: the labels every part of the page shows, with slots
counted from 1 as the page's number keys do (issue 15: key 1 read "Travel 0")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prospector import spec
from prospector_api.app import create_app
from prospector_api.routers.meta import action_label
from prospector_common.settings import Settings

from .conftest import REDIS_URL


@pytest.fixture
def meta(tmp_path, api_settings) -> Iterator[dict]:
    settings = Settings(data_dir=tmp_path, redis_url=REDIS_URL, wandb_mode="disabled")
    with TestClient(create_app(settings, api_settings)) as c:
        response = c.get("/api/meta")
        assert response.status_code == 200
        yield response.json()


def test_meta_labels_every_action_once_with_slots_counted_from_one(meta):
    labels = meta["action_labels"]
    assert len(labels) == spec.N_ACTIONS == len(set(labels))  # one label per action, no two alike
    assert labels[spec.A_TRAVEL0] == "Travel 1"  # neighbor slot 0, key 1
    assert labels[spec.A_TRAVEL0 + spec.MAX_NEIGHBORS - 1] == "Travel 6"
    assert labels[spec.A_SELECT0] == "Select asteroid 1"
    assert labels[spec.A_SELECT0 + spec.MAX_ASTEROIDS - 1] == "Select asteroid 16"
    assert not any(label.endswith(" 0") for label in labels)  # no slot 0 anywhere


def test_meta_labels_are_words_not_codes(meta):
    labels = meta["action_labels"]
    assert labels[spec.A_MINE_CONSERVATIVE] == "Mine conservative"
    assert labels[spec.sell_action(spec.COMMODITIES.index("pge"), 0)] == "Sell PGE 25%"
    assert labels[spec.sell_action(spec.COMMODITIES.index("water_ice"), 2)] == "Sell water ice 100%"
    assert labels[spec.A_JETTISON0] == "Jettison iron"
    assert labels[spec.A_HOLD] == "Hold drift"
    assert labels[spec.A_CASH_OUT] == "Cash out"
    for label in labels:
        assert "_" not in label and label[0].isupper(), label
    # the names stay the contract's, beside the labels
    assert [a["name"] for a in meta["actions"]] == list(spec.ACTION_NAMES)
    assert [action_label(i) for i in range(spec.N_ACTIONS)] == labels
