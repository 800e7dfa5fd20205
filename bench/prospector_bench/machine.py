"""What every benchmark shares: the machine it ran on, who used the CPU, and how it reports.

    cores, cpu_model, machine_info, describe   the machine, for the output
    Status                                     progress lines on stderr
    median, fmt_sps                            figures as printed
    rss_bytes                                  this process's resident size
    process_cpu_s, child_pids, tree_cpu_s      CPU seconds of other processes (/proc/PID/stat)
    self_cpu_s                                 CPU seconds of this process
    CpuMeter                                   CPU seconds of named parts over a phase
    OtherCpu                                   cores used by every other process over a phase

The figures only mean something next to who else used the machine's cores
(the machine may be shared), hence the meters. Linux /proc is read directly;
elsewhere the readers return 0 / None. Only the standard library is imported
here: the engine-level benchmarks (env, parity) use this module, and it must
not pull a service in.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable


# ---- the machine --------------------------------------------------------------------


def cores() -> int:
    """Cores this process may run on (its affinity), which is what the figures had."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    import numpy as np

    return {
        "cores": cores(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_avg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def describe() -> str:
    """One line for a result that carries the machine as a string."""
    return f"{cpu_model()}, {cores()} cores, Python {platform.python_version()}"


# ---- reporting ------------------------------------------------------------------------


class Status:
    """Progress lines on stderr (rich when available), so stdout stays the result alone."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.t0 = time.perf_counter()
        try:
            from rich.console import Console
            self.console = Console(stderr=True, highlight=False)
        except ImportError:  # pragma: no cover - rich is a dependency
            self.console = None

    def __call__(self, msg: str) -> None:
        if self.quiet:
            return
        line = f"[{time.perf_counter() - self.t0:6.1f}s] {msg}"
        if self.console is not None:
            self.console.print(line, markup=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr, flush=True)


def median(xs):
    return float(statistics.median(xs)) if xs else None


def fmt_sps(x) -> str:
    if x is None:
        return "n/a"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


# ---- memory and CPU -------------------------------------------------------------------


def rss_bytes() -> int:
    """Current resident set size of this process."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # pragma: no cover - not Linux
        import psutil
        return psutil.Process().memory_info().rss


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, int, int] | None:
    """(parent pid, user + system CPU ticks, start time in ticks since boot) of a process
    from /proc/PID/stat; None when it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
        rest = text[text.rfind(")") + 2:].split()  # the name in (...) may hold spaces
        return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[19])
    except (OSError, IndexError, ValueError):
        return None


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process; 0 when it is gone."""
    stat = _proc_stat(pid)
    return stat[1] / CLOCK_TICKS if stat else 0.0


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (a server's workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its direct children (a server and its workers)."""
    return sum(process_cpu_s(p) for p in (pid, *child_pids(pid)))


def self_cpu_s() -> float:
    """CPU seconds of this process (all its threads)."""
    import resource  # Unix only

    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


class CpuMeter:
    """CPU seconds each named part used between start() and stop(), with the wall time:
    who spent the machine's cores on a run. A part is a function returning its CPU
    seconds so far, e.g. CpuMeter(client_s=self_cpu_s, server_s=lambda: tree_cpu_s(pid))."""

    def __init__(self, **parts: Callable[[], float]) -> None:
        self.parts = parts

    def _read(self) -> dict[str, float]:
        return {"wall_s": time.monotonic(), **{name: read() for name, read in self.parts.items()}}

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        return {k: round(end[k] - self._start[k], 3) for k in end}


class OtherCpu:
    """CPU used by other processes (not this one, not its children) over a phase,
    in cores on average: this machine may be shared, and the figures only mean
    something when the cores were ours. Linux /proc; None elsewhere. Processes
    that both start and end within a phase are missed, so it is a lower bound."""

    def __init__(self):
        self.snap = None

    @staticmethod
    def _read() -> dict | None:
        me = os.getpid()
        try:
            pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
        except OSError:
            return None
        out = {}
        for pid in pids:
            stat = _proc_stat(pid) if pid != me else None
            if stat is not None and stat[0] != me:  # our children (bench_core, vector workers) are ours
                out[(pid, stat[2])] = stat[1]
        return out

    @staticmethod
    def _uptime() -> float:
        with open("/proc/uptime") as f:
            return float(f.read().split()[0])

    def start(self) -> None:
        try:
            self.snap = (self._read(), self._uptime(), time.perf_counter())
        except OSError:
            self.snap = None

    def stop(self) -> float | None:
        if not self.snap or self.snap[0] is None:
            return None
        before, boot_t0, t0 = self.snap
        after = self._read()
        wall = time.perf_counter() - t0
        if after is None or wall <= 0:
            return None
        ticks = 0
        for key, v in after.items():
            if key in before:
                ticks += max(0, v - before[key])
            elif key[1] / CLOCK_TICKS >= boot_t0:  # started during the phase
                ticks += v
        return ticks / CLOCK_TICKS / wall
