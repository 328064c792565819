"""What every Bokeh process says about itself, gathered for the admin view.

Each process answers ``/stats`` on its own port (``bkruntime.process_stats``), the URLs the site
already holds as ``BOKEH_PROCESS_INTERNAL_URLS``. They are asked in parallel, each with the
pull timeout and a credential signed with the shared Bokeh key; a process that does not answer
is reported as such, the others still are. ``by_app`` adds the processes' numbers up per app.
The numbers a process also exports to Prometheus (sessions, memory) are read from its
``/metrics``, with what only that has (document builds, websocket messages, GC pauses); ``/stats``
adds the recent errors and the uptime.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from aperture.endpoints import CREDENTIAL_HEADER, METRICS_PATH, STATS_PATH, stats_credential

# Served by every Bokeh process (``bkruntime.metrics``), with no credential: counts only.
# The per-app samples of /metrics the admin view shows, and the name it gives each.
_PER_APP = {
    "aperture_bokeh_open_sessions": "open_sessions",
    "aperture_bokeh_sessions_created_total": "sessions_created",
    "aperture_bokeh_sessions_destroyed_total": "sessions_destroyed",
    "aperture_bokeh_document_build_seconds_count": "document_builds",
    "aperture_bokeh_document_build_seconds_sum": "build_seconds",
    "aperture_bokeh_websocket_messages_received_total": "messages_received",
    "aperture_bokeh_websocket_messages_sent_total": "messages_sent",
    "aperture_bokeh_viewers": "viewers",
}
_GC = {"aperture_bokeh_gc_pause_seconds_count": "collections", "aperture_bokeh_gc_pause_seconds_sum": "pause_seconds"}


def process_stats(url: str, bokeh_secret: str, timeout: float, metrics_token: str = "") -> dict[str, Any]:
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
    return with_metrics({"url": url, "reachable": True, **report}, process_metrics(url, timeout, metrics_token))


def process_metrics(url: str, timeout: float, token: str = "") -> dict[str, Any] | None:
    """The numbers of one process's Prometheus ``/metrics`` (``metrics_numbers``); None if it fails.
    ``token``: ``METRICS_BEARER_TOKEN``, if set."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # The URL comes from settings, which accept http(s) only.
    request = urllib.request.Request(url + METRICS_PATH, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return metrics_numbers(response.read().decode())
    except (OSError, ValueError):
        return None


def metrics_numbers(text: str) -> dict[str, Any]:
    """What the admin view shows from a Bokeh process's ``/metrics`` text (``bkruntime.metrics``):
    per app its sessions, viewers, document builds and websocket messages, the viewers of each
    shared view here (with, across the processes, its audience, owner and this process's lag behind
    the owner when it relays the view), and the process's memory, GC pauses per generation and refused websockets."""
    numbers: dict[str, Any] = {"apps": {}, "gc": {}, "websockets_refused": 0, "shared_views": []}
    # Per shared view: its audience in every process, its owner, and (on a relay) the lag.
    roles: dict[tuple[str, str], dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels, value = sample.labels, sample.value
            if sample.name in _PER_APP and labels.get("outcome", "built") == "built":
                app = numbers["apps"].setdefault(labels["app"], dict.fromkeys(_PER_APP.values(), 0))
                app[_PER_APP[sample.name]] += value
            elif sample.name in _GC:
                numbers["gc"].setdefault(labels["generation"], {})[_GC[sample.name]] = value
            elif sample.name == "aperture_bokeh_shared_view_viewers":
                numbers["shared_views"].append({"app": labels["app"], "view": labels["view"], "viewers": int(value)})
            elif sample.name == "aperture_bokeh_shared_view_audience":
                roles.setdefault((labels["app"], labels["view"]), {}).update(
                    audience=int(value), role=labels["role"], owner=int(labels["owner"])
                )
            elif sample.name == "aperture_bokeh_shared_view_relay_lag_seconds":
                roles.setdefault((labels["app"], labels["view"]), {})["lag_ms"] = round(value * 1000, 1)
            elif sample.name == "aperture_bokeh_websockets_refused_total":
                numbers["websockets_refused"] += int(value)
            elif sample.name == "process_resident_memory_bytes":
                numbers["rss_bytes"] = int(value)
    for view in numbers["shared_views"]:
        view.update(roles.get((view["app"], view["view"]), {}))
    for app in numbers["apps"].values():
        builds = app["document_builds"]
        app["build_ms_mean"] = round(app.pop("build_seconds") * 1000 / builds, 1) if builds else None
        for name in ("open_sessions", "sessions_created", "sessions_destroyed", "document_builds", "viewers"):
            app[name] = int(app[name])
    return numbers


def with_metrics(report: dict[str, Any], numbers: dict[str, Any] | None) -> dict[str, Any]:
    """``report`` (from ``/stats``) with the numbers ``/metrics`` has taking the place of its own."""
    if numbers is None:
        return report
    apps = {name: {**counts, **numbers["apps"].get(name, {})} for name, counts in report.get("apps", {}).items()}
    return {**report, "apps": apps, "rss_bytes": numbers.get("rss_bytes", report.get("rss_bytes")), "metrics": numbers}


def all_process_stats(
    urls: Sequence[str], bokeh_secret: str, timeout: float, metrics_token: str = ""
) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=max(1, len(urls))) as pool:
        return list(pool.map(lambda url: process_stats(url, bokeh_secret, timeout, metrics_token), urls))


def by_app(processes: Sequence[dict[str, Any]], app_names: Sequence[str]) -> dict[str, dict[str, int]]:
    """Open, created and destroyed sessions per app, summed over the processes that answered."""
    totals = {name: {"open_sessions": 0, "sessions_created": 0, "sessions_destroyed": 0} for name in app_names}
    for process in processes:
        for name, numbers in process.get("apps", {}).items():
            entry = totals.setdefault(name, {"open_sessions": 0, "sessions_created": 0, "sessions_destroyed": 0})
            for key in entry:
                entry[key] += int(numbers.get(key, 0))
    return totals
