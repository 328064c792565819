"""``/wall``: a big-screen page of shared views, without the site's chrome, meant to stay open for days.

Its views are the ``[[wall]]`` tables the served catalog files declare (app, arguments, caption);
with none declared the page is a 404. Every tile is a shared view (``live_app(..., shared=True)``),
so a hundred walls showing the same thing cost one document per Bokeh process. The page renews
itself: its tokens open (or reopen) sessions only for ``BOKEH_TOKEN_LIFETIME``, so when a tile's
connection is lost after that and cannot come back, the page's script
(``static/live_session.js``, ``data-live-renew="reload"``) waits until the site answers and says
the Bokeh server is reachable, then reloads the page, which mints fresh tokens for the same
views. A connection that never drops needs no renewal: a token is checked only when a websocket
opens.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from aperture.catalog import CATALOG
from aperture.params import parse_arguments
from web.embedding.templating import UNAVAILABLE_CLASS, live_app
from web.errors import RETRY_AFTER_SECONDS
from web.pages.site_pages import page_views_or_404

bp = Blueprint("wall", __name__)


@bp.get("/wall")
def show():
    """The wall's shared views, full screen."""
    views = page_views_or_404("wall")
    # The page takes no arguments; an unknown one is a 400 as on every other page.
    parse_arguments((), request.args.to_dict(flat=False))
    tiles = [
        (view.app, view.caption or CATALOG[view.app].title, live_app(view.app, shared=True, **view.arguments))
        for view in views
    ]
    # A tile the site could not open (this worker last saw the Bokeh server down, say) has no
    # session for the page's script to renew: nobody is there to reload, so the page retries.
    retry = RETRY_AFTER_SECONDS if any(UNAVAILABLE_CLASS in tile for _, _, tile in tiles) else None
    return render_template("wall.html", tiles=tiles, retry_seconds=retry)
