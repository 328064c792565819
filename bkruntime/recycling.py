"""When to replace a Bokeh process: after so many sessions, or above so much memory.

A Bokeh process's memory grows with the sessions it has served and is not given back to the
system. The supervisor asks each process's ``/healthz`` how many sessions it has created, reads
its resident memory, and replaces at most one process at a time, and only while all the others
answer: SIGTERM makes the process drain (``bkruntime.graceful_shutdown``), its token sessions'
browsers reconnect to the others and get their documents rebuilt from their tokens, and a fresh
process takes its place (and its own port). Pulled sessions on it cannot be rebuilt; their pages
say so and offer a reload.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import psutil

_MEBIBYTE = 2**20
PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class RecyclePolicy:
    after_sessions: int = 0
    above_mb: int = 0

    @property
    def enabled(self) -> bool:
        return self.after_sessions > 0 or self.above_mb > 0

    def reason(self, sessions_created: int, rss_bytes: int) -> str | None:
        """Why a process with these numbers is due for replacement, or None."""
        if self.after_sessions and sessions_created >= self.after_sessions:
            return f"{sessions_created} sessions created (limit {self.after_sessions})"
        rss_mb = rss_bytes / _MEBIBYTE
        if self.above_mb and rss_mb >= self.above_mb:
            return f"{rss_mb:.0f} MB resident (limit {self.above_mb} MB)"
        return None


def process_health(url: str, timeout: float = PROBE_TIMEOUT) -> dict | None:
    """A process's ``/healthz`` answer, or None if it does not answer 200 in time."""
    try:
        # The URL is built from settings: loopback and a configured port.
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read()) if response.status == 200 else None
    except (OSError, urllib.error.URLError, ValueError):
        return None


def resident_bytes(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return 0
