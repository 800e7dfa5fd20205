"""Progress while training: a rich progress bar (steps, SPS, window, return, profit) and one
line per finished window. With run.progress = "dashboard" PuffeRL draws its own dashboard
instead; with "none" only the window lines are printed. Under torchrun only rank 0 shows
progress: env steps and SPS of all ranks, the bar's return and profit of rank 0's episodes,
the window lines of all ranks' (the metrics row)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from prospector import spec


def _fmt(v, spec_=",.0f"):
    return "-" if v is None else format(v, spec_)


class TrainProgress:
    def __init__(self, mode: str = "bar", console: Console | None = None):
        self.mode = mode
        self.console = console or Console(stderr=True)
        self.bar = None
        self.task = None

    def start(self, run) -> None:
        cfg = run.cfg
        self.console.print(f"[bold]run {run.run_id}[/] -> {run.paths.run_dir}  windows {run.start_window}.."
                           f"{cfg.n_windows - 1} of {cfg.run.window_env_steps:,} env steps, batch {cfg.batch_size:,}, "
                           f"policy {cfg.policy.kind}{' masked' if cfg.policy.action_masking else ''}")
        if self.mode != "bar":
            return
        self.bar = Progress(
            TextColumn("[bold]window {task.fields[window]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[sps]} sps  return {task.fields[ret]}  profit {task.fields[profit]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, transient=False)
        self.bar.start()
        self.task = self.bar.add_task("train", total=cfg.run.total_env_steps,
                                      completed=run.env_steps, window=run.start_window,
                                      sps="-", ret="-", profit="-")

    def update(self, run, window_id: int) -> None:
        if self.bar is None:
            return
        log = run.episode_log
        ret = profit = None
        if log.count:
            ret = log.sums[spec.METRIC_INDEX["episode_return"]] / log.count
            profit = log.sums[spec.METRIC_INDEX["net_profit"]] / log.count
        self.bar.update(self.task, completed=run.env_steps, window=window_id,
                        sps=_fmt(run.pufferl.recent_sps), ret=_fmt(ret, ".1f"), profit=_fmt(profit))

    def window_done(self, run, window) -> None:
        m = window.metrics
        self.console.print(
            f"window {m['window_id']:>3}  steps {m['env_steps_total']:>13,}  episodes {m['episodes_in_window']:>6}  "
            f"return {_fmt(m['return_mean'], '.2f')}  profit mean {_fmt(m['net_profit_mean'])} "
            f"median {_fmt(m['net_profit_median'])}  survival {_fmt(m['survival_rate'], '.2f')}  "
            f"invalid {_fmt(m['invalid_action_rate'], '.3f')}  {_fmt(m['steps_per_second'])} sps")

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
