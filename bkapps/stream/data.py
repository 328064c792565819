"""The numbers behind the ``stream`` app: this machine's CPU, memory and processes (psutil, no Bokeh).

One ``MachineReading`` of the counters serves every session (the app reads them once per server,
see ``app_hooks.py``). Load percentages come from the difference between two readings, and each
session's meters keep their own previous reading: a session sampling every second shows the load
of its last second, whatever the other sessions' rates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

TOP_PROCESSES = 5
_MEBIBYTE = 2**20

# Labels of AppServerState.activity() counts, in the order the app's table shows them.
ACTIVITY_LABELS = {
    "live_sessions": "Open sessions of this app",
    "sessions_created": "Sessions created",
    "sessions_destroyed": "Sessions ended (hook ran)",
    "threads": "Sampler threads running",
    "subscriptions": "Sessions subscribed to the sampler",
    "periodic_callbacks": "Periodic callbacks",
    "pending_jobs": "Process scans running",
}


@dataclass(frozen=True)
class MachineReading:
    """The machine's CPU time counters (whole and per core) and memory use at one moment."""

    time: float
    cpu_times: Any
    core_times: Sequence[Any]
    memory_percent: float


def read_machine(
    cpu_times: Callable[..., Any] = psutil.cpu_times,
    memory: Callable[[], Any] = psutil.virtual_memory,
    clock: Callable[[], float] = time.time,
) -> MachineReading:
    """Read the counters now (cheap: no interval, no sleeping)."""
    return MachineReading(clock(), cpu_times(), tuple(cpu_times(percpu=True)), memory().percent)


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
    """Turns readings into rows of CPU load (since this meter's previous row) and memory use."""

    def __init__(self, first: MachineReading) -> None:
        self._last = first

    def row(self, reading: MachineReading) -> dict[str, list[float]] | None:
        """One row for ``ColumnDataSource.stream`` (time in ms since the epoch, cpu and memory in
        %), or None if ``reading`` is no newer than the previous row's."""
        if reading.time <= self._last.time:
            return None
        cpu = busy_percent(self._last.cpu_times, reading.cpu_times)
        self._last = reading
        return {"time": [reading.time * 1000], "cpu": [cpu], "memory": [round(reading.memory_percent, 1)]}


class CoreLoadMeter:
    """The load of each CPU core since this meter's previous measurement."""

    def __init__(self, first: MachineReading) -> None:
        self._last = first.core_times

    @property
    def labels(self) -> list[str]:
        return [f"cpu{index}" for index in range(len(self._last))]

    def measure(self, reading: MachineReading) -> list[float]:
        """Percent load of each core between the previous reading and ``reading``."""
        loads = [busy_percent(before, after) for before, after in zip(self._last, reading.core_times, strict=True)]
        self._last = reading.core_times
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
    the app runs it on a thread pool, once for all its sessions."""
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
