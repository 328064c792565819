"""One page of the site per live app, with a session of the app embedded by its signed token.

A private app's page is for visitors who may open it (``web.accounts.access``); the token carries who
they are. Signed-in visitors also get a form that publishes the view as a share link.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from aperture.catalog import CATALOG, AppSpec
from web.accounts.access import current_login_id, require_app_access, visitor_payload
from web.embedding.embed import bokeh_embed

bp = Blueprint("live_apps", __name__, url_prefix="/apps")


def app_or_404(name: str) -> AppSpec:
    """The catalog entry of ``name``, or the site's 404 page."""
    spec = CATALOG.get(name)
    if spec is None:
        abort(404, description=f"There is no live app called “{name}”.")
    return spec


@bp.get("/<name>")
def show(name: str):
    """Embed a fresh session of app ``name``, started with the page's validated query arguments."""
    spec = app_or_404(name)
    arguments = spec.parse_arguments(request.args.to_dict(flat=False))
    require_app_access(spec)
    live = bokeh_embed.token_embed(
        spec,
        arguments,
        options={"title": f"{spec.title} — served by Flask"},
        user=visitor_payload(),
        login=current_login_id(),
    )
    return render_template("live_app.html", live=live, arguments=arguments)
