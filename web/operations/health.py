"""``/healthz`` (liveness) and ``/readyz`` (readiness) of the site, as JSON for probes.

``/healthz`` depends on nothing: the site is alive even when the Bokeh server is not (every page
but the live ones keeps working), so it answers 200 and reports beside it what the worker's
background monitor last saw of the Bokeh server (``web.operations.bokeh_monitor``). ``/readyz`` asks every
Bokeh process's ``/readyz``, which answers from the self-check each process ran when it started
(``bkruntime.readiness``), and checks that the database answers with every migration applied: 200
when all do, else 503 saying what is not. A process is ready while at least one of its apps
builds; the apps that do not are listed (``broken_apps``) and the others keep serving.
``/readyz?recheck=1`` has the processes build every app again first: work for every Bokeh
process, so only for operators (``may_recheck``): admins, holders of ``METRICS_BEARER_TOKEN``, and
anyone in development when no token is set.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from flask import Blueprint, abort, current_app, jsonify, request

from aperture.catalog import CATALOG
from aperture.endpoints import CREDENTIAL_HEADER, stats_credential
from aperture.signing import bearer_token_matches
from web.accounts.access import current_visitor
from web.database import schema_report
from web.operations.origin_check import origin_report

bp = Blueprint("health", __name__)

# A recheck builds every app's document once per process; an ordinary probe reads kept results.
READY_TIMEOUT = 2.0
RECHECK_TIMEOUT = 30.0


def process_readiness(url: str, recheck_credential: str | None) -> dict[str, object]:
    """One Bokeh process's ``/readyz`` answer, or why there is none; rechecked with a credential."""
    # The URL comes from settings, which accept http(s) only.
    if recheck_credential is None:
        probe = urllib.request.Request(f"{url}/readyz")  # noqa: S310
    else:
        headers = {CREDENTIAL_HEADER: recheck_credential}
        probe = urllib.request.Request(f"{url}/readyz?recheck=1", headers=headers)  # noqa: S310
    timeout = READY_TIMEOUT if recheck_credential is None else RECHECK_TIMEOUT
    try:
        with urllib.request.urlopen(probe, timeout=timeout) as answer:  # noqa: S310
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
    from web.embedding.embed import bokeh_embed

    state = bokeh_embed.bokeh_state()
    return {"reachable": state.reachable, "reason": state.reason, "latency_ms": state.latency_ms}


@bp.get("/readyz")
def readyz():
    """Every Bokeh process answers and builds its apps (503 naming what cannot; broken apps listed)."""
    config = current_app.config
    urls = config["BOKEH_PROCESS_INTERNAL_URLS"]
    credential = None
    if request.args.get("recheck") == "1":
        if not may_recheck():
            abort(403, description="A recheck is for admins and holders of the metrics token.")
        credential = stats_credential(config["BOKEH_SECRET_KEY"])
    with ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="readyz") as pool:
        answers = pool.map(lambda url: process_readiness(url, credential), urls)
        database = schema_report()
        answers = list(answers)
    processes = [{"process": index, **answer} for index, answer in enumerate(answers)]
    ready = database["ok"] and all(answer.get("ready") for answer in answers)
    # A process stays ready while some of its apps build; the apps that do not are named here.
    broken = sorted({name for answer in answers for name in answer.get("broken", ())})
    response = jsonify(
        status="ready" if ready else "not ready", broken_apps=broken, processes=processes, database=database
    )
    response.status_code = 200 if ready else 503
    response.cache_control.no_store = True
    return response


def may_recheck() -> bool:
    """Operators only: an admin, a holder of the metrics token, or anyone in development without one."""
    token = current_app.config["METRICS_BEARER_TOKEN"]
    if token:
        if bearer_token_matches(request.headers.get("Authorization"), token):
            return True
    elif not current_app.config["PRODUCTION"]:
        return True
    visitor = current_visitor()
    return visitor is not None and visitor.is_admin
