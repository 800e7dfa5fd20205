"""Settings: one env-driven class with working local defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from prospector_common.settings import Settings, get_settings

ALL_VARIABLES = (
    "PROSPECTOR_DATA_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "WANDB_API_KEY",
    "WANDB_MODE",
    "WANDB_PROJECT",
    "PROSPECTOR_GIT_SHA",
    "PROSPECTOR_TRAINER_GRPC_PORT",
    "PROSPECTOR_TRAINER_METRICS_PORT",
    "PROSPECTOR_EVALUATOR_GRPC_PORT",
    "PROSPECTOR_EVALUATOR_METRICS_PORT",
    "PROSPECTOR_API_HTTP_PORT",
    "PROSPECTOR_API_GRPC_PORT",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_point_at_local_services_and_a_sqlite_catalog_in_the_data_dir(tmp_path: Path) -> None:
    s = Settings()
    assert s.data_dir == tmp_path.resolve() / "runs"
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'runs' / 'catalog.sqlite'}"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.wandb_mode == "offline"
    assert s.wandb_project == "asteroid-belt-prospector"
    assert (s.trainer_grpc_port, s.trainer_metrics_port) == (50061, 9101)
    assert (s.evaluator_grpc_port, s.evaluator_metrics_port) == (50062, 9102)
    assert (s.api_http_port, s.api_grpc_port) == (8000, 50051)


def test_environment_variables_override_every_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    values = {
        "PROSPECTOR_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "REDIS_URL": "redis://redis:6379/1",
        "WANDB_PROJECT": "other",
        "PROSPECTOR_GIT_SHA": "abcdef0",
        "PROSPECTOR_TRAINER_GRPC_PORT": "1001",
        "PROSPECTOR_TRAINER_METRICS_PORT": "1002",
        "PROSPECTOR_EVALUATOR_GRPC_PORT": "1003",
        "PROSPECTOR_EVALUATOR_METRICS_PORT": "1004",
        "PROSPECTOR_API_HTTP_PORT": "1005",
        "PROSPECTOR_API_GRPC_PORT": "1006",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert s.data_dir == tmp_path / "data"
    assert s.database_url == values["DATABASE_URL"]
    assert s.redis_url == values["REDIS_URL"]
    assert s.wandb_project == "other"
    assert s.git_sha == "abcdef0"
    ports = [
        s.trainer_grpc_port,
        s.trainer_metrics_port,
        s.evaluator_grpc_port,
        s.evaluator_metrics_port,
        s.api_http_port,
        s.api_grpc_port,
    ]
    assert ports == [1001, 1002, 1003, 1004, 1005, 1006]


def test_wandb_stays_offline_without_an_api_key_even_when_online_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANDB_MODE", "online")
    assert Settings().wandb_mode == "offline"


def test_wandb_goes_online_by_default_with_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "secret")
    s = Settings()
    assert s.wandb_mode == "online"
    assert "secret" not in repr(s)  # the key never shows up in a printed config


def test_explicit_wandb_mode_is_kept_when_it_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "secret")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert Settings().wandb_mode == "disabled"


def test_keyword_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROSPECTOR_DATA_DIR", str(tmp_path / "from-env"))
    s = Settings(data_dir=tmp_path / "from-flag")
    assert s.data_dir == tmp_path / "from-flag"
    assert s.database_url.endswith("from-flag/catalog.sqlite")


def test_invalid_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROSPECTOR_API_HTTP_PORT", "70000")
    with pytest.raises(ValueError):
        Settings()


def test_get_settings_reads_the_environment_once_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("REDIS_URL", "redis://first:6379/0")
        assert get_settings() is get_settings()
        monkeypatch.setenv("REDIS_URL", "redis://second:6379/0")
        assert get_settings().redis_url == "redis://first:6379/0"
        get_settings.cache_clear()
        assert get_settings().redis_url == "redis://second:6379/0"
    finally:
        get_settings.cache_clear()


def test_an_exported_but_empty_wandb_mode_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # compose passes WANDB_MODE through from the host, empty when the host exports it empty
    monkeypatch.setenv("WANDB_MODE", "")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert Settings().wandb_mode == "offline"
    monkeypatch.setenv("WANDB_MODE", "sideways")
    with pytest.raises(ValueError):
        Settings()
