"""The trainer service: the training loop plus everything around it.

    service = TrainerService(cfg)                     # settings from the environment
    run = service.train(run_id=None, resume=None)     # one run, new or resumed

While the run trains the service serves

- the gRPC TrainerService (Status) with the standard health service, on
  settings.trainer_grpc_port (ServiceOptions.grpc_port overrides; 0 picks a
  free port, None turns it off), and
- Prometheus metrics on settings.trainer_metrics_port (same rules),

both fed by the run's status dict (loop.py keeps it up to date). Its window
duties are, after the checkpoint and the metrics row: the catalog
(DATABASE_URL, default SQLite in the data dir), W&B (offline unless
WANDB_API_KEY is set) and the Redis announcement (REDIS_URL); see duties.py.

Under torchrun (distributed.py) only rank 0 serves and has duties; the other ranks
just train, with rank 0's run id.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from prospector_common.ids import new_run_id, validate_run_id
from prospector_common.settings import Settings
from prospector_common.streams import WINDOWS_STREAM

from . import distributed
from .config import TrainConfig, apply_overrides
from .duties import AnnounceWindow, LogToWandb, RecordInCatalog
from .loop import Duty, TrainingRun, train

log = logging.getLogger(__name__)

DEFAULT = object()  # "the settings' value"


@dataclass
class ServiceOptions:
    """What the service runs besides training. Ports: DEFAULT (the settings' port), an int
    (0: a free port), or None (not served). URLs: None means the settings' URL."""

    grpc_port: Any = DEFAULT
    metrics_port: Any = DEFAULT
    catalog: bool = True
    database_url: str | None = None
    wandb: bool = True
    announce: bool = True
    redis_url: str | None = None
    stream: str = WINDOWS_STREAM             # tests use a stream of their own
    redis_timeout_s: float = 0.5
    flush_deadline_s: float = 2.0            # per window
    exit_deadline_s: float = 30.0            # the end of the run waits this long for a restarting Redis


class TrainerService:
    def __init__(self, cfg: TrainConfig, options: ServiceOptions | None = None,
                 settings: Settings | None = None) -> None:
        self.cfg = cfg
        self.options = options or ServiceOptions()
        self._settings = settings
        self.status: dict = {}
        self.grpc_server = None
        self.metrics_server = None
        self.metrics = None
        self.catalog_duty: RecordInCatalog | None = None
        self.wandb_duty: LogToWandb | None = None
        self.announce_duty: AnnounceWindow | None = None

    def settings_for(self, cfg: TrainConfig) -> Settings:
        """The settings, with the config's data dir (so the default SQLite catalog lives there)."""
        if self._settings is not None:
            return self._settings
        return Settings(data_dir=cfg.data_dir) if cfg.run.data_dir else Settings()

    # ---- servers -------------------------------------------------------------------------

    def _port(self, value: Any, default: int) -> int | None:
        return default if value is DEFAULT else value

    def start_servers(self, settings: Settings) -> None:
        from prospector_common.prometheus import new_registry, start_metrics_server
        from prospector_rpc.server import serve_grpc

        from .metrics import TrainerMetrics
        from .servicer import TrainerServicer

        try:
            metrics_port = self._port(self.options.metrics_port, settings.trainer_metrics_port)
            if metrics_port is not None:
                registry = new_registry()
                self.metrics = TrainerMetrics(registry)
                self.metrics.update(self.status)
                self.metrics_server = start_metrics_server(metrics_port, registry, host=settings.bind_host)
                log.info("trainer metrics on %s", self.metrics_server.url)
            grpc_port = self._port(self.options.grpc_port, settings.trainer_grpc_port)
            if grpc_port is not None:
                status = self.status
                try:
                    self.grpc_server = serve_grpc([TrainerServicer(lambda: status)], port=grpc_port,
                                                  host=settings.bind_host)
                except RuntimeError as e:  # cannot bind: the same kind of error as a taken metrics port
                    raise OSError(str(e)) from e
                log.info("trainer gRPC on port %d", self.grpc_server.port)
        except BaseException:
            self.stop_servers()
            raise

    def stop_servers(self) -> None:
        if self.grpc_server is not None:
            self.grpc_server.stop(grace=1.0).wait(5)
            self.grpc_server = None
        if self.metrics_server is not None:
            self.metrics_server.stop()
            self.metrics_server = None

    def _update_metrics(self, status: dict) -> None:
        if self.metrics is not None:
            self.metrics.update(status)

    # ---- duties --------------------------------------------------------------------------

    def duties(self, cfg: TrainConfig, settings: Settings) -> list[Duty]:
        o, duties = self.options, []
        if o.catalog:
            self.catalog_duty = RecordInCatalog(o.database_url or settings.database_url)
            duties.append(self.catalog_duty)
        if o.wandb:
            on_url = self.catalog_duty.set_wandb_url if self.catalog_duty is not None else None
            self.wandb_duty = LogToWandb(None, settings.wandb_project, on_url=on_url, settings=settings)
            duties.append(self.wandb_duty)
        if o.announce:
            self.announce_duty = AnnounceWindow(o.redis_url or settings.redis_url, o.stream,
                                                timeout_s=o.redis_timeout_s, flush_deadline_s=o.flush_deadline_s,
                                                exit_deadline_s=o.exit_deadline_s)
            duties.append(self.announce_duty)
        return duties

    # ---- a run ---------------------------------------------------------------------------

    def train(self, run_id: str | None = None, resume: str | None = None, overrides: list[str] | None = None,
              progress=None, extra_duties: list[Duty] | None = None) -> TrainingRun:
        """Trains one run (new, or `resume`d) with servers and duties; stops them after."""
        world = distributed.current()
        # rank 0's id: ranks started in different seconds would each make their own
        run_id = world.from_main(validate_run_id(resume or run_id or new_run_id()) if world.is_main else None)
        # The data dir (and so the default catalog) of a resumed run can come from overrides.
        cfg = TrainConfig.from_dict(apply_overrides(self.cfg.to_dict(), overrides)) if overrides else self.cfg
        settings = self.settings_for(cfg)
        self.status.clear()
        self.status.update(run_id=run_id, state="starting", started_at=time.time())
        if not world.is_main:  # one set of ports, duties and run files: rank 0's
            return train(self.cfg, run_id=None if resume else run_id, resume=resume, overrides=overrides,
                         status=self.status)
        self.start_servers(settings)
        try:
            duties = self.duties(cfg, settings) + list(extra_duties or [])
            return train(self.cfg, run_id=None if resume else run_id, resume=resume, duties=duties,
                         overrides=overrides, progress=progress, status=self.status,
                         status_listeners=[self._update_metrics])
        except BaseException as e:
            if self.status.get("state") not in ("failed", "stopped"):
                self.status.update(state="failed", error=f"{type(e).__name__}: {e}")
                self._update_metrics(self.status)
            raise
        finally:
            self.stop_servers()
