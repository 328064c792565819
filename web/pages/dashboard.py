"""``/dashboard``: several live apps on one page, each in a tile of the site's own layout.

Each tile is a ``live_app(...)`` call in the template: a token embed, so the page costs no Bokeh
request and every app's session is built by whichever Bokeh process its websocket reaches. A tile
whose app cannot be shown says why in place; the page stays a 200.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from aperture.catalog import CATALOG
from aperture.params import parse_arguments

bp = Blueprint("dashboard", __name__)

# portfolio is private: anonymous visitors get a tile that says to log in, not an error.
DASHBOARD_APPS = ("stream", "iris", "sliders", "portfolio")


@bp.get("/dashboard")
def show():
    """Every dashboard app live on one page; a tile whose app is unavailable says so."""
    # The page takes no arguments; an unknown one is a 400 as on every other page.
    parse_arguments((), request.args.to_dict(flat=False))
    # The catalog (APERTURE_APPS) may leave some of them out.
    return render_template("dashboard.html", apps=[CATALOG[name] for name in DASHBOARD_APPS if name in CATALOG])
