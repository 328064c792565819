"""The HTML that puts a live session into a page: what Bokeh's ``autoload.js`` would have returned.

``server_session()`` writes a script tag that asks the Bokeh server for ``autoload.js``, and that
request builds the session too. With several Bokeh processes it and the websocket may reach
different processes, which then both build the session. So the page carries what ``autoload.js``
returns instead: the BokehJS script tags (from the Bokeh server's ``/static/``, only the bundles
the app declares) and the embed script for a render item holding the token. The browser's only
contact with Bokeh is then static files and the websocket.

That script comes from ``bokeh.embed.elements.script_for_render_items`` and
``bokeh.embed.util.RenderItem``, Bokeh's "dev API". If an upgrade moves them, ``session_markup``
logs a warning once and falls back to a script tag loading ``autoload.js`` with the token (public
behaviour, one extra request per page); a unit test fails on such an upgrade.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

from bokeh.core.templates import JS_RESOURCES
from bokeh.resources import Resources
from bokeh.server.views.static_handler import StaticHandler
from bokeh.util.serialization import make_globally_unique_id
from markupsafe import Markup

from web.operations.content_security import csp_nonce

log = logging.getLogger(__name__)

# What may appear inside the embed script's JS strings: URL characters that cannot end a string
# or a script element. Settings and catalog names always match; anything else is refused.
_SAFE_IN_SCRIPT = re.compile(r"^[A-Za-z0-9:/._~%@+-]*$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.=-]+$")


def _render_items_api():
    """Bokeh's dev-API pieces the embed script is made with, or None if they moved."""
    try:
        from bokeh.embed.elements import script_for_render_items
        from bokeh.embed.util import RenderItem
    except ImportError:
        return None
    try:
        RenderItem(token="x", elementid="y", use_for_title=False)  # noqa: S106 (a probe, no secret)
    except TypeError:
        return None
    return script_for_render_items, RenderItem


_RENDER_ITEMS = _render_items_api()
if _RENDER_ITEMS is None:
    log.warning("Bokeh's render-item embedding moved; live pages load autoload.js instead (one request more)")


def uses_render_items() -> bool:
    """True while pages embed sessions without asking the Bokeh server for ``autoload.js``."""
    return _RENDER_ITEMS is not None


@lru_cache(maxsize=64)
def bokehjs_tags(static_root: str, bundles: tuple[str, ...]) -> Markup:
    """Script tags for ``bokeh.min.js`` and the named bundles, from ``static_root``'s ``/static/``.

    The version in each URL is the hash of the installed file, as the Bokeh server writes it, so
    browsers cache them across pages and processes.
    """
    _check_safe(static_root)
    components = ["bokeh", *(f"bokeh-{bundle}" for bundle in bundles)]
    resources = Resources(
        mode="server", root_url=static_root + "/", path_versioner=StaticHandler.append_version, components=components
    )
    # Bokeh renders these from our settings and its own file names.
    # Without Bokeh's inline line that sets BokehJS's log level to its default: inline scripts
    # need the page's nonce, and these tags are cached across pages.
    return Markup(JS_RESOURCES.render(js_files=resources.js_files, js_raw=[]))  # noqa: S704


def session_markup(session_root: str, app_path: str, token: str, expires_at: int = 0, shared: bool = False) -> Markup:
    """A placeholder element and the script that opens ``token``'s session on ``session_root``.

    ``session_root`` is the public URL of the Bokeh server (or of one of its processes) the
    websocket goes to; ``app_path`` is the app's path on it (``/sliders``); ``expires_at`` (Unix
    time) tells the page's status script (static/live_session.js) when the token stops opening
    the session; ``shared`` marks a shared view, whose number of viewers the script shows.
    """
    _check_safe(session_root)
    _check_safe(app_path)
    if not _TOKEN.match(token):
        raise ValueError("a session token holds base64url characters and dots only")
    element_id = make_globally_unique_id()
    if _RENDER_ITEMS is None:
        return _autoload_markup(session_root, app_path, token, element_id)
    script_for_render_items, render_item = _RENDER_ITEMS
    item = render_item(token=token, elementid=element_id, use_for_title=False)
    # BokehJS opens the websocket at the host of absolute_url plus app_path: a session root with a
    # path (a front that routes /bokeh-process/<i>/ to process i) must prefix the app path.
    ws_app_path = urlsplit(session_root).path + app_path
    script = script_for_render_items({}, [item], app_path=ws_app_path, absolute_url=session_root + app_path)
    # Everything inside was checked above or is Bokeh's JSON of the render item.
    embed_script = Markup(script)  # noqa: S704
    return Markup(
        '<div id="{}" class="bk-session" data-expires-at="{}"{}></div>\n'
        '<script type="text/javascript" nonce="{}">{}</script>'
    ).format(element_id, int(expires_at), Markup(' data-shared="true"') if shared else "", csp_nonce(), embed_script)


def _autoload_markup(session_root: str, app_path: str, token: str, element_id: str) -> Markup:
    query = urlencode(
        {
            "bokeh-autoload-element": element_id,
            "bokeh-app-path": urlsplit(session_root).path + app_path,
            "bokeh-absolute-url": session_root + app_path,
            "bokeh-token": token,
        }
    )
    source = f"{session_root}{app_path}/autoload.js?{query}"
    return Markup('<script id="{}" src="{}"></script>').format(element_id, source)


def _check_safe(text: str) -> None:
    if not _SAFE_IN_SCRIPT.match(text):
        raise ValueError(f"{text!r} cannot be written into an embed script")
