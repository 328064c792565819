"""What every live app does with its session: read its arguments, wear the site's theme, say who opened it.

An app's ``main.py`` defines ``build(doc, **arguments)`` and ends with
``build_app(curdoc(), "<name>", build)``. The arguments come from the session's HTTP request (a
standalone visit's query string, or the ``arguments=`` Flask passed to ``pull_session``) and are
validated against the app's catalog entry, so both ways in follow the same rules. Invalid
arguments get a readable message in the page instead of a traceback.

The look of every app comes from one file, ``bkapps/theme.yaml``: directory apps link to it as
their own ``theme.yaml`` (Bokeh applies that before ``main.py`` runs), and single-module apps,
which Bokeh gives no theme file, call ``use_site_theme``. An app's ``app_hooks.py`` may put
details of the page request into the session token with ``visit_details``; ``describe_visit``
reads them back.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from typing import Any

from bokeh.core.templates import FILE
from bokeh.document import Document
from bokeh.model import Model
from bokeh.models import Div
from bokeh.themes import Theme

from bkapps.catalog import APPS_DIR, CATALOG
from bkapps.lifecycle import AppServerState
from bkapps.params import InvalidArgument

# BokehJS adds its own arguments (bokeh-autoload-element, bokeh-absolute-url...) to the
# requests it makes; they are not the app's.
_BOKEH_ARGUMENT_PREFIX = "bokeh-"
SITE_THEME = Theme(filename=str(APPS_DIR / "theme.yaml"))
_VISIT_KEY = "visit"
# A header is visitor-controlled; keep what travels in the token and the page short.
_MAX_USER_AGENT = 120


def request_arguments(doc: Document) -> dict[str, list[str]]:
    """The session request's query arguments, decoded, without BokehJS's own."""
    context = doc.session_context
    request = context.request if context is not None else None
    raw: Mapping[str, list[bytes]] = request.arguments if request is not None else {}
    return {
        name: [value.decode("utf-8", "replace") for value in values]
        for name, values in raw.items()
        if not name.startswith(_BOKEH_ARGUMENT_PREFIX)
    }


def build_app(doc: Document, name: str, build: Callable[..., None]) -> None:
    """Call ``build(doc, **arguments)``, or explain in the page why the arguments are refused."""
    spec = CATALOG[name]
    try:
        arguments = spec.parse_arguments(request_arguments(doc))
    except InvalidArgument as error:
        show_invalid_argument(doc, spec.title, error)
        return
    build(doc, **arguments)


def show_invalid_argument(doc: Document, title: str, error: InvalidArgument) -> None:
    doc.title = f"{title}: invalid argument"
    # The app's own page template places roots the app never built; Bokeh's plain page shows any.
    doc.template = FILE
    message = (
        f"<h2>{html.escape(title)} cannot start</h2>"
        f"<p>Invalid query argument <code>{html.escape(error.name)}</code>: "
        f"{html.escape(error.message)}.</p>"
        "<p>Remove it or correct it in the address bar.</p>"
    )
    doc.add_root(Div(text=message, name="invalid_argument", styles={"font-size": "16px"}))


def add_roots(doc: Document, *roots: Model) -> None:
    """Add several roots with one recompute of the document's models instead of one per root.

    Each ``add_root`` walks every model of the document again; for the second root of a
    sliders session that was about 20 ms of every embedded page view.
    """
    with doc.models.freeze():
        for root in roots:
            doc.add_root(root)


def use_site_theme(doc: Document) -> None:
    """Give ``doc`` the look every app shares (what a directory app's ``theme.yaml`` does)."""
    doc.theme = SITE_THEME


def visit_details(request: Any) -> dict[str, dict[str, str]]:
    """For an app's ``process_request`` hook: what the session token carries about the page request."""
    return {
        _VISIT_KEY: {
            "url": f"{request.protocol}://{request.host}{request.path}",
            "remote_ip": request.remote_ip or "",
            "user_agent": request.headers.get("User-Agent", "")[:_MAX_USER_AGENT],
            "opened_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        }
    }


def visit_of(doc: Document) -> dict[str, str] | None:
    """The request details ``process_request`` put into this session's token, if any.

    Bokeh calls ``process_request`` for the HTTP requests that open a session (a standalone page,
    ``autoload.js``). A session the Flask site created through Bokeh's client was opened over a
    websocket instead, and its token carries no such details.
    """
    context = doc.session_context
    if context is None:
        return None
    visit = context.token_payload.get(_VISIT_KEY)
    return visit if isinstance(visit, dict) else None


def describe_visit(visit: Mapping[str, str] | None) -> str:
    """One sentence about who opened the session, as HTML (every value escaped)."""
    if visit is None:
        return (
            "Created by the Aperture site through Bokeh's client, so its token carries no page "
            "request details (the request hook runs for page requests only)."
        )
    address = visit.get("remote_ip") or "an unknown address"
    agent = visit.get("user_agent") or "no user agent"
    return (
        f"Opened at <code>{html.escape(visit.get('url', ''))}</code> from {html.escape(address)} "
        f"({html.escape(agent)}), {html.escape(visit.get('opened_at', ''))}."
    )


def session_summary(doc: Document, state: AppServerState) -> str:
    """HTML for an app's session panel: who opened this session, and the server's session counts."""
    started = time.strftime("%H:%M:%S UTC", time.gmtime(state.loaded_at))
    return (
        f"<p><b>This session</b>: {describe_visit(visit_of(doc))}</p>"
        f"<p><b>This server</b>: {state.live_sessions} open session(s) of this app, "
        f"{state.sessions_created} created and {state.sessions_destroyed} ended since {started} "
        "(counted by the app's lifecycle hooks).</p>"
    )


def standalone_page_variables(doc: Document, name: str, **variables: object) -> None:
    """Fill ``doc.template_variables`` for the app's ``templates/index.html`` (standalone page).

    ``static_url`` follows the page's own path, so the app's ``static/`` files are found behind
    a ``--prefix`` too; ``visit`` is ``describe_visit``'s HTML, already escaped.
    """
    spec = CATALOG[name]
    context = doc.session_context
    request = context.request if context is not None else None
    page_path = getattr(request, "path", None) or f"/{name}"
    doc.template_variables.update(
        app_title=spec.title,
        app_description=spec.description,
        static_url=page_path.rstrip("/") + "/static",
        visit=describe_visit(visit_of(doc)),
        **variables,
    )
