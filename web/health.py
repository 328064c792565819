"""``/healthz`` (liveness) and ``/readyz`` (readiness) of the site, as JSON for probes.

``/healthz`` depends on nothing: the site is alive even when the Bokeh server is not (every page
but the live ones keeps working), so it answers 200 and reports beside it what the worker's
background monitor last saw of the Bokeh server (``web.bokeh_monitor``). ``/readyz`` asks every
Bokeh process's ``/readyz``, which answers from the self-check each process ran when it started
(``bkapps.readiness``): 200 when every process answers and can build every app, else 503 saying
which is not. ``/readyz?recheck=1`` has the processes build every app again first.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, current_app, jsonify, request

from bkapps.catalog import CATALOG
from web.origin_check import origin_report

bp = Blueprint("health", __name__)

# A recheck builds every app's document once per process; an ordinary probe reads kept results.
READY_TIMEOUT = 2.0
RECHECK_TIMEOUT = 30.0


def process_readiness(url: str, recheck: bool) -> dict[str, object]:
    """One Bokeh process's ``/readyz`` answer, or why there is none."""
    query = "?recheck=1" if recheck else ""
    timeout = RECHECK_TIMEOUT if recheck else READY_TIMEOUT
    try:
        # The URL comes from settings, which accept http(s) only.
        with urllib.request.urlopen(f"{url}/readyz{query}", timeout=timeout) as answer:  # noqa: S310
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        try:
            return json.loads(error.read())
        except ValueError:
            return {"ready": False, "error": f"HTTP {error.code}"}
    except (OSError, ValueError) as error:
        return {"ready": False, "error": f"not reachable ({error.__class__.__name__})"}


@bp.get("/healthz")
def healthz():
    """Liveness of the site plus reachability of the Bokeh server."""
    origins = origin_report()
    return jsonify(
        # Still a 200: the site serves; "misconfigured" says its live apps will show nothing.
        status="ok" if origins["ok"] else "misconfigured",
        apps=CATALOG.names,
        bokeh=_monitor_report(),
        websocket_origins=origins,
    )


def _monitor_report() -> dict[str, object]:
    from web.embed import bokeh_embed

    state = bokeh_embed.bokeh_state()
    return {"reachable": state.reachable, "reason": state.reason, "latency_ms": state.latency_ms}


@bp.get("/readyz")
def readyz():
    """Every Bokeh process answers and can build every app (503 naming what cannot)."""
    urls = current_app.config["BOKEH_PROCESS_INTERNAL_URLS"]
    recheck = request.args.get("recheck") == "1"
    with ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="readyz") as pool:
        answers = list(pool.map(lambda url: process_readiness(url, recheck), urls))
    processes = [{"process": index, **answer} for index, answer in enumerate(answers)]
    ready = all(answer.get("ready") for answer in answers)
    response = jsonify(status="ready" if ready else "not ready", processes=processes)
    response.status_code = 200 if ready else 503
    response.cache_control.no_store = True
    return response
