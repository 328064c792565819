"""The numbers behind the ``stream`` app: this machine's CPU, memory and processes (psutil, no Bokeh).

Load percentages come from the difference between two readings of the CPU time counters, and
each meter keeps its own previous reading: psutil's ``cpu_percent()`` without an interval shares
one previous reading among all its callers in the process, so concurrent sessions would measure
each other's intervals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psutil

TOP_PROCESSES = 5
_MEBIBYTE = 2**20

# Labels of AppServerState.activity() counts, in the order the app's table shows them.
ACTIVITY_LABELS = {
    "live_sessions": "Open sessions of this app",
    "sessions_created": "Sessions created",
    "sessions_destroyed": "Sessions ended (hook ran)",
    "threads": "Session threads running",
    "periodic_callbacks": "Periodic callbacks",
    "pending_jobs": "Pool jobs pending",
}


def _total_time(times: Any) -> float:
    # Linux already counts guest time inside user and nice time.
    return sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _idle_time(times: Any) -> float:
    return times.idle + getattr(times, "iowait", 0.0)


def busy_percent(before: Any, after: Any) -> float:
    """Percent of CPU time not idle between two ``psutil.cpu_times()`` readings (0 if none passed)."""
    total = _total_time(after) - _total_time(before)
    if total <= 0:
        return 0.0
    busy = total - (_idle_time(after) - _idle_time(before))
    return round(min(100.0, max(0.0, 100.0 * busy / total)), 1)


class HostMeter:
    """Samples this machine's CPU load (since the previous sample) and memory use."""

    def __init__(
        self,
        cpu_times: Callable[[], Any] = psutil.cpu_times,
        memory: Callable[[], Any] = psutil.virtual_memory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cpu_times = cpu_times
        self._memory = memory
        self._clock = clock
        self._last = cpu_times()

    def sample(self) -> dict[str, list[float]]:
        """One row for ``ColumnDataSource.stream``: time (ms since the epoch), cpu and memory in %."""
        now = self._cpu_times()
        cpu = busy_percent(self._last, now)
        self._last = now
        return {"time": [self._clock() * 1000], "cpu": [cpu], "memory": [round(self._memory().percent, 1)]}


class CoreLoadMeter:
    """Measures the load of each CPU core since the previous measurement."""

    def __init__(self, per_core_times: Callable[[], Sequence[Any]] = lambda: psutil.cpu_times(percpu=True)) -> None:
        self._per_core_times = per_core_times
        self._last = per_core_times()

    @property
    def labels(self) -> list[str]:
        return [f"cpu{index}" for index in range(len(self._last))]

    def measure(self) -> list[float]:
        """Percent load of each core since the previous call (runs in the app's thread)."""
        now = self._per_core_times()
        loads = [busy_percent(before, after) for before, after in zip(self._last, now, strict=True)]
        self._last = now
        return loads


def largest_by_memory(rows: Sequence[tuple[int, int, str]], limit: int) -> dict[str, list]:
    """Columns of the ``limit`` biggest (rss, pid, name) rows, biggest first, sizes in MiB."""
    top = sorted(rows, key=lambda row: row[0], reverse=True)[:limit]
    return {
        "pid": [pid for _, pid, _ in top],
        "name": [name for _, _, name in top],
        "rss_mb": [round(rss / _MEBIBYTE, 1) for rss, _, _ in top],
    }


def top_processes(limit: int = TOP_PROCESSES) -> dict[str, list]:
    """The processes of this machine using the most memory. Slow (it reads every process), so
    the app runs it on a thread pool."""
    rows = []
    for process in psutil.process_iter(["pid", "name", "memory_info"]):
        info = process.info
        # Processes we may not inspect, or that ended meanwhile, report None.
        if info["memory_info"] is not None:
            rows.append((info["memory_info"].rss, info["pid"], info["name"] or "?"))
    return largest_by_memory(rows, limit)


def activity_columns(activity: Mapping[str, int]) -> dict[str, list]:
    """Table columns for the server's activity counts: key, label, value."""
    return {
        "metric": list(ACTIVITY_LABELS),
        "label": list(ACTIVITY_LABELS.values()),
        "value": [activity[key] for key in ACTIVITY_LABELS],
    }
