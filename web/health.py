"""``/healthz``: is this site up, and can it reach the Bokeh server? (JSON, for probes.)

The site is healthy even when the Bokeh server is not: every page but the live ones keeps
working, so the answer stays 200 and reports the Bokeh server's state beside it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from flask import Blueprint, current_app, jsonify

from bkapps.catalog import CATALOG
from web.origin_check import origin_report

bp = Blueprint("health", __name__)

BOKEH_PROBE_TIMEOUT = 1.0


def probe_bokeh(url: str) -> dict[str, object]:
    started = time.perf_counter()
    try:
        # The URL comes from settings, which accept http(s) only.
        with urllib.request.urlopen(url + "/", timeout=BOKEH_PROBE_TIMEOUT) as response:  # noqa: S310
            reachable = response.status == 200
    except (OSError, urllib.error.URLError):
        reachable = False
    return {"reachable": reachable, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


@bp.get("/healthz")
def healthz():
    """Liveness of the site plus reachability of the Bokeh server."""
    origins = origin_report()
    return jsonify(
        # Still a 200: the site serves; "misconfigured" says its live apps will show nothing.
        status="ok" if origins["ok"] else "misconfigured",
        apps=CATALOG.names,
        bokeh=probe_bokeh(current_app.config["BOKEH_INTERNAL_URL"]),
        websocket_origins=origins,
    )
