"""A 3-window trainer run (the tiny config), then the evaluator: 3 every_window replays that verify."""

from __future__ import annotations

import pytest
from prospector.cli import main as prospector_main
from prospector_common.catalog import TAG_EVERY_WINDOW
from prospector_common.ids import new_run_id

from .conftest import add_run, add_window, announce, run_until_idle, train_config


@pytest.fixture
def trained_run(settings, catalog):
    from prospector_trainer.loop import train

    cfg = train_config(time_max=400)
    cfg.run.data_dir = str(settings.data_dir)
    run_id = new_run_id(git_sha="nogit")
    train(cfg, run_id=run_id)
    paths = add_run(catalog, settings.data_dir, cfg, run_id)
    # the trainer's catalog duty, as the trainer records each window before announcing it
    messages = [add_window(catalog, paths, w) for w in range(cfg.n_windows)]
    assert len(messages) == 3 and all(paths.checkpoint(w).is_file() for w in range(3))
    return paths, messages


def test_three_trained_windows_give_three_verified_every_window_replays(
        trained_run, settings, catalog, streams, redis_client, capsys):
    paths, messages = trained_run
    for m in messages:
        announce(redis_client, streams.windows, m)
    run_until_idle(settings, streams, catalog, catch_up=False)
    every = catalog.list_replays(paths.run_id, tag=TAG_EVERY_WINDOW, limit=100).items
    assert [r.window_id for r in every] == [0, 1, 2]
    for r in every:
        assert prospector_main(["replay", "verify", str(settings.data_dir / r.path)]) == 0
    assert capsys.readouterr().out.count("every frame matches") == 3
    assert redis_client.xpending(streams.windows, streams.group)["pending"] == 0


def test_trainer_service_announces_and_evaluator_replays_every_window(settings, catalog, streams, redis_client, capsys):
    """No hand-made windows: the trainer's own catalog and announce duties feed the evaluator."""
    from prospector_trainer.service import ServiceOptions, TrainerService

    cfg = train_config(time_max=400)
    cfg.run.data_dir = str(settings.data_dir)
    run_id = new_run_id(git_sha="nogit")
    TrainerService(cfg, ServiceOptions(grpc_port=None, metrics_port=None, wandb=False,
                                       database_url=settings.database_url, redis_url=settings.redis_url,
                                       stream=streams.windows)).train(run_id=run_id)
    assert redis_client.xlen(streams.windows) == 3
    run_until_idle(settings, streams, catalog, catch_up=False)
    every = catalog.list_replays(run_id, tag=TAG_EVERY_WINDOW, limit=100).items
    assert [r.window_id for r in every] == [0, 1, 2]
    for r in every:
        assert prospector_main(["replay", "verify", str(settings.data_dir / r.path)]) == 0
    assert redis_client.xlen(streams.replays) >= 3
    assert redis_client.xpending(streams.windows, streams.group)["pending"] == 0
