"""The site's JSON API under ``/api/``: the catalog, the Iris histogram, the streaming signal.

None of it needs the Bokeh server. Query arguments are declared and parsed with
``aperture.params`` like the live apps' (the histogram takes exactly the live ``iris`` app's
arguments); a bad one raises ``InvalidArgument``, which ``web.errors`` answers with a 400 JSON
body naming it.
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request, url_for

from aperture.catalog import CATALOG, AppSpec
from aperture.params import IntParam, describe, parse_arguments
from showcase.iris import FEATURES, SPECIES, histogram, shared_iris
from web.accounts.access import access_to
from web.page_context import standalone_url
from web.pages.site_pages import CLASSIC_IRIS_NEEDS, needed_app_or_404
from web.pages.stream_signal import MAX_BATCH_TICKS, samples, tick_at

bp = Blueprint("api", __name__, url_prefix="/api")

# Ticks for the year 9999 and beyond are not a cursor any client can hold.
_LAST_TICK = 10**12
SIGNAL_PARAMS = (
    IntParam("after", default=0, minimum=0, maximum=_LAST_TICK, help="the last tick the client already has"),
    IntParam(
        "limit",
        default=MAX_BATCH_TICKS,
        minimum=1,
        maximum=MAX_BATCH_TICKS,
        help="answer with at most this many of the latest ticks",
    ),
)


def describe_app(spec: AppSpec) -> dict[str, object]:
    """A JSON-ready catalog entry: what the app is, what it takes, where to open it, and whether
    this visitor may (``access``: ``open``, ``login`` or ``forbidden``)."""
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "public": spec.public,
        "access": access_to(spec),
        "params": [describe(param) for param in spec.params],
        "page_url": url_for("live_apps.show", name=spec.name),
        "standalone_url": standalone_url(spec.name),
    }


@bp.get("/apps")
def apps():
    """The catalog of live apps, in the gallery's order."""
    return jsonify(apps=[describe_app(spec) for spec in CATALOG])


@bp.get("/iris/histogram")
def iris_histogram():
    """The numbers behind the Iris histogram, for the live app's ``feature`` and ``bins`` rules."""
    arguments = needed_app_or_404(CLASSIC_IRIS_NEEDS).parse_arguments(request.args.to_dict(flat=False))
    counts = histogram(shared_iris(), arguments["feature"], arguments["bins"])
    return jsonify(
        feature=counts.feature,
        label=FEATURES[counts.feature],
        bins=len(counts.left),
        species=list(SPECIES),
        edges=counts.edges,
        counts=counts.counts,
    )


@bp.get("/stream/signal")
def stream_signal():
    """Ticks of the time-based signal after the client's cursor (see ``web.pages.stream_signal``)."""
    arguments = parse_arguments(SIGNAL_PARAMS, request.args.to_dict(flat=False))
    # The answer depends on the request and the clock only, so any worker gives it.
    columns = samples(arguments["after"], tick_at(time.time()), arguments["limit"])
    response = jsonify(columns)
    # It changes every tick: no cache between the page and this route may keep it.
    response.cache_control.no_store = True
    return response
