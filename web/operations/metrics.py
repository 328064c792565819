"""``/metrics``: the site's Prometheus metrics, summed over every gunicorn worker.

* ``aperture_web_requests_total{method,endpoint,status}`` and
  ``aperture_web_request_duration_seconds{endpoint}``: every request, by Flask endpoint (a bounded
  set, unlike paths);
* ``aperture_web_embeds_total{app,kind}`` and ``aperture_web_embed_duration_seconds{kind}``: live
  sessions put into pages, by path (``token`` or ``pull``);
* ``aperture_web_bokeh_unavailable_total{app,kind}``: embeds refused because the Bokeh server
  could not provide the session (a 503 page, or a dashboard tile that says why).

gunicorn runs several worker processes: each writes its numbers to files in
``PROMETHEUS_MULTIPROC_DIR``, which ``gunicorn.conf.py`` creates empty at each start, and this
view adds them up (prometheus_client's multiprocess mode). Without that variable (``flask run``,
tests) the process's own numbers are answered. With ``METRICS_BEARER_TOKEN`` set, only a scraper
that sends it gets an answer (the Bokeh processes' ``/metrics`` ask for the same token).
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from aperture.catalog import CATALOG
from aperture.signing import bearer_token_matches
from web.embedding.page_record import init_app as page_record_init
from web.embedding.page_record import page_record

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
EMBED_KINDS = ("token", "pull")
# Token embeds take microseconds, pulls up to the Bokeh timeout.
EMBED_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("aperture_web_requests", "Requests answered by the site", ["method", "endpoint", "status"])
REQUEST_SECONDS = Histogram("aperture_web_request_duration_seconds", "Time to answer a request", ["endpoint"])
EMBEDS = Counter("aperture_web_embeds", "Live sessions embedded into pages", ["app", "kind"])
EMBED_SECONDS = Histogram(
    "aperture_web_embed_duration_seconds", "Time to make one live embed", ["kind"], buckets=EMBED_BUCKETS
)
BOKEH_UNAVAILABLE = Counter(
    "aperture_web_bokeh_unavailable",
    "Embeds refused because the Bokeh server could not provide the session",
    ["app", "kind"],
)

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    """Every metric of the site in Prometheus's text format."""
    if not bearer_token_matches(request.headers.get("Authorization"), current_app.config["METRICS_BEARER_TOKEN"]):
        return Response(status=401, headers={"WWW-Authenticate": "Bearer"})
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    response = Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def observe(response: Response) -> Response:
    """Count the request and its embeds (an ``after_request`` hook)."""
    record = page_record()
    if record is None:
        return response
    endpoint = request.endpoint or "none"
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    REQUEST_SECONDS.labels(endpoint).observe(_elapsed(record.started))
    for embed in record.embeds:
        EMBED_SECONDS.labels(embed.kind).observe(embed.seconds)
        if embed.outcome == "ok":
            EMBEDS.labels(embed.app, embed.kind).inc()
        else:
            BOKEH_UNAVAILABLE.labels(embed.app, embed.kind).inc()
    return response


def _elapsed(started: float) -> float:
    return time.perf_counter() - started


def init_app(app: Flask) -> None:
    """Count and time every request, and serve ``/metrics``."""
    page_record_init(app)
    app.after_request(observe)
    app.register_blueprint(bp)
    # Every app's series exist from the start at 0, so that a rate or an alert on them has
    # something to compare with before the first outage.
    for spec in CATALOG:
        for kind in EMBED_KINDS:
            EMBEDS.labels(spec.name, kind)
            BOKEH_UNAVAILABLE.labels(spec.name, kind)


def mark_worker_dead(pid: int) -> None:
    """For gunicorn's ``child_exit``: drop a dead worker's live gauges (prometheus_client's advice)."""
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        multiprocess.mark_process_dead(pid)
