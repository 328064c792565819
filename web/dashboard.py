"""``/dashboard``: several live apps on one page, each in a tile of the site's own layout.

The sessions are created concurrently, so the page waits for the slowest app rather than for
the sum of them. One app that cannot get a session does not take the page down: its tile says
why, and the others stay live (the page is a 200, not the 503 a single-app page gives).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, render_template

from bkapps.catalog import CATALOG, AppSpec
from web.embed import BokehUnavailable, LiveEmbed, bokeh_embed

bp = Blueprint("dashboard", __name__)
log = logging.getLogger(__name__)

DASHBOARD_APPS = ("stream", "iris", "sliders")


@dataclass(frozen=True)
class Tile:
    """One app of the dashboard: its live session, or why there is none."""

    spec: AppSpec
    live: LiveEmbed | None = None
    error: str | None = None


def embed_tile(app: Flask, spec: AppSpec) -> Tile:
    """Create a session of ``spec`` with its default arguments, in a worker thread of the view."""
    # The embed extension reads its settings from the app context, which is per thread.
    with app.app_context():
        try:
            return Tile(spec, live=bokeh_embed.embed(spec, spec.parse_arguments({})))
        except BokehUnavailable as error:
            log.warning("dashboard tile unavailable: %s", error)
            return Tile(spec, error=error.reason)


@bp.get("/dashboard")
def show():
    """Every dashboard app live on one page; a tile whose app is unavailable says so."""
    app = current_app._get_current_object()  # the proxy does not reach other threads
    specs = [CATALOG[name] for name in DASHBOARD_APPS]
    with ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="dashboard-embed") as pool:
        tiles = list(pool.map(lambda spec: embed_tile(app, spec), specs))
    return render_template("dashboard.html", tiles=tiles)
