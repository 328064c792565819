"""What every Bokeh process says about itself, gathered for the admin view.

Each process answers ``/stats`` on its own port (``bkapps.process_stats``), the URLs the site
already holds as ``BOKEH_PROCESS_INTERNAL_URLS``. They are asked in parallel, each with the
pull timeout and a credential signed with the shared Bokeh key; a process that does not answer
is reported as such, the others still are. ``by_app`` adds the processes' numbers up per app.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bkapps.process_stats import CREDENTIAL_HEADER, STATS_PATH, stats_credential


def process_stats(url: str, bokeh_secret: str, timeout: float) -> dict[str, Any]:
    """One process's ``/stats``, or ``{"reachable": False, "reason": ...}``."""
    # The URL comes from settings, which accept http(s) only.
    request = urllib.request.Request(  # noqa: S310
        url + STATS_PATH, headers={CREDENTIAL_HEADER: stats_credential(bokeh_secret)}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            report = json.load(response)
    except urllib.error.HTTPError as error:
        return {"url": url, "reachable": False, "reason": f"HTTP {error.code}"}
    except (OSError, ValueError) as error:
        return {"url": url, "reachable": False, "reason": str(getattr(error, "reason", error)) or type(error).__name__}
    return {"url": url, "reachable": True, **report}


def all_process_stats(urls: Sequence[str], bokeh_secret: str, timeout: float) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        return list(pool.map(lambda url: process_stats(url, bokeh_secret, timeout), urls))


def by_app(processes: Sequence[dict[str, Any]], app_names: Sequence[str]) -> dict[str, dict[str, int]]:
    """Open, created and destroyed sessions per app, summed over the processes that answered."""
    totals = {name: {"open_sessions": 0, "sessions_created": 0, "sessions_destroyed": 0} for name in app_names}
    for process in processes:
        for name, numbers in process.get("apps", {}).items():
            entry = totals.setdefault(name, {"open_sessions": 0, "sessions_created": 0, "sessions_destroyed": 0})
            for key in entry:
                entry[key] += int(numbers.get(key, 0))
    return totals
