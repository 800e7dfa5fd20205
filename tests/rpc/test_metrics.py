"""The trainer's Prometheus metrics, read over real HTTP from the metrics endpoint."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from prospector_common.prometheus import new_registry, start_metrics_server
from prospector_trainer.metrics import TrainerMetrics


def _scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name
            if sample.labels:
                key += "{" + ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items())) + "}"
            samples[key] = sample.value
    return samples


@pytest.fixture
def served_metrics():
    registry = new_registry()
    metrics = TrainerMetrics(registry)
    server = start_metrics_server(0, registry, host="127.0.0.1")
    yield metrics, server
    server.stop()


def test_endpoint_serves_the_trainer_metrics(served_metrics, trainer_status):
    metrics, server = served_metrics
    metrics.update({**trainer_status, "episodes": 321, "windows_done": 3})
    samples = _scrape(server.url)
    assert samples["prospector_trainer_env_steps_total"] == 1_234_567
    assert samples["prospector_trainer_episodes_total"] == 321
    assert samples["prospector_trainer_windows_total"] == 3
    assert samples["prospector_trainer_sps"] == pytest.approx(98_765.5)
    assert samples["prospector_trainer_current_window"] == 3
    assert samples["prospector_trainer_last_checkpoint_timestamp_seconds"] == pytest.approx(1_735_732_800.25)
    assert samples["prospector_trainer_run_info{run_id=20250101-120000-abc1234,state=training}"] == 1
    assert "process_cpu_seconds_total" in samples  # the process collectors ride along


def test_counters_take_running_totals_and_never_go_down(served_metrics):
    metrics, server = served_metrics
    metrics.update({"env_steps": 1_000_000})  # a resumed run starts at its total
    metrics.update({"env_steps": 1_500_000, "state": "training"})
    metrics.update({"env_steps": 1_400_000})  # out of order: ignored
    samples = _scrape(server.url)
    assert samples["prospector_trainer_env_steps_total"] == 1_500_000
    metrics.update({"state": "stopped"})  # the run id is kept, the state changes
    samples = _scrape(server.url)
    assert samples["prospector_trainer_run_info{run_id=,state=stopped}"] == 1
    assert not any(k.startswith("prospector_trainer_run_info") and "state=training" in k for k in samples)


def test_each_service_has_its_own_registry():
    a, b = TrainerMetrics(new_registry(process_metrics=False)), TrainerMetrics(new_registry(process_metrics=False))
    a.update({"env_steps": 10})
    assert a.registry.get_sample_value("prospector_trainer_env_steps_total") == 10
    assert b.registry.get_sample_value("prospector_trainer_env_steps_total") == 0


def test_stop_frees_the_port():
    server = start_metrics_server(0, new_registry(process_metrics=False), host="127.0.0.1")
    port = server.port
    server.stop()
    server.stop()  # twice is fine
    with socket.socket() as probe:  # nothing listens there any more
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", port)) != 0
