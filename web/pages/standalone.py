"""``/standalone/<app>``: open an app on the Bokeh server by itself, through the site.

The site checks the arguments (400) and the visitor's access (login and back, or 403), then
sends the browser to the app's public Bokeh URL. With ``BOKEH_SESSION_IDS=external-signed`` the
Bokeh server refuses visitors who bring no session id, so this route mints one (signed with the
shared key) and passes it as ``bokeh-session-id``: only the site lets people in. The Bokeh
server's login check also sends visitors of private apps here after they log in.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, request

from aperture.session_token import new_session_id
from aperture.site_login import STANDALONE_PREFIX
from web.accounts.access import require_app_access
from web.pages.live_apps import app_or_404

bp = Blueprint("standalone", __name__, url_prefix=STANDALONE_PREFIX.rstrip("/"))

# Bokeh's own query argument for a session id it did not generate.
SESSION_ID_ARGUMENT = "bokeh-session-id"


@bp.get("/<name>")
def open_app(name: str):
    """Redirect to the app on the Bokeh server, with a minted session id when Bokeh wants one."""
    spec = app_or_404(name)
    arguments = spec.parse_arguments(request.args.to_dict(flat=False))
    require_app_access(spec)
    query = {name: request.args[name] for name in arguments if name in request.args}
    if current_app.config["BOKEH_SESSION_IDS"] == "external-signed":
        query = {SESSION_ID_ARGUMENT: new_session_id(current_app.config["BOKEH_SECRET_KEY"]), **query}
    target = f"{current_app.config['BOKEH_PUBLIC_URL']}/{spec.name}"
    response = redirect(target + (f"?{urlencode(query)}" if query else ""))
    # A minted session id is for this visit only.
    response.headers["Cache-Control"] = "no-store"
    return response
