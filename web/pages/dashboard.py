"""``/dashboard``: several live apps on one page, each in a tile of the site's own layout.

The tiles are the ``[[dashboard]]`` views the served catalog files declare (which app, with which
arguments, under which caption), so a team's folder brings its own tiles without code; with
none declared the page is a 404. Each tile is a ``live_app(...)`` call in the template: a token
embed, so the page costs no Bokeh request and every app's session is built by whichever Bokeh
process its websocket reaches. A tile whose app cannot be shown says why in place; the page
stays a 200.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from flask import Blueprint, render_template, request

from aperture.catalog import CATALOG, AppSpec, PageView
from aperture.params import parse_arguments
from web.pages.site_pages import page_views_or_404

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
def show():
    """Every dashboard view live on one page; a tile whose app is unavailable says so."""
    views = page_views_or_404("dashboard")
    # The page takes no arguments; an unknown one is a 400 as on every other page.
    parse_arguments((), request.args.to_dict(flat=False))
    return render_template("dashboard.html", tiles=list(_tiles(views)))


def _tiles(views: tuple[PageView, ...]) -> Iterator[tuple[AppSpec, PageView, str]]:
    """Each view with its app's entry and a unique element id: ``tile-<app>``, then ``tile-<app>-2``..."""
    seen: Counter[str] = Counter()
    for view in views:
        seen[view.app] += 1
        suffix = f"-{seen[view.app]}" if seen[view.app] > 1 else ""
        yield CATALOG[view.app], view, f"tile-{view.app}{suffix}"
