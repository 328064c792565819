"""What every live app does with its session: arguments, page options, the site's theme, who opened it.

An app's ``main.py`` defines ``build(doc, **arguments)`` and ends with
``build_app(curdoc(), "<name>", build)``. The arguments come from the session's request: a
standalone visit's query string, or the validated arguments a site page put into the session
token (``aperture.session_token``); both are checked against the app's catalog entry, so both ways
in follow the same rules. The page options (the main plot's title...) come from the token only,
and are applied here once the app has built its document. Invalid arguments get a readable
message in the page instead of a traceback; so does a browser that arrives for a session the site
pulled and changed after that session was discarded, instead of a silently default document.
A private app builds only for a token bound to it (``app`` in the payload): the site binds the
tokens it mints, and the Bokeh server binds a standalone page's after its login check.
``session_visitor`` tells an app who opened the session, from the signed token only; a shared
view's document is every viewer's, so it never sees one (``bkruntime.shared_views`` adds its count
of viewers instead).

The look of every app comes from one file, ``bkapps/theme.yaml``: directory apps link to it as
their own ``theme.yaml`` (Bokeh applies that before ``main.py`` runs), and single-module apps,
which Bokeh gives no theme file, call ``use_site_theme``.
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

from aperture.access import Visitor
from aperture.catalog import APPS_DIR, CATALOG, MAIN_PLOT_NAME
from aperture.params import InvalidArgument
from aperture.session_token import (
    APP_KEY,
    EXPECTS_EXISTING_KEY,
    OPTIONS_KEY,
    SHARED_KEY,
    USER_KEY,
    VISIT_KEY,
    session_payload,
    visit_record,
)
from bkruntime.kit.lifecycle import AppServerState
from bkruntime.kit.process_identity import describe_process

# BokehJS adds its own arguments (bokeh-autoload-element, bokeh-absolute-url...) to the
# requests it makes; they are not the app's.
_BOKEH_ARGUMENT_PREFIX = "bokeh-"
SITE_THEME = Theme(filename=str(APPS_DIR / "theme.yaml"))


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


def session_visitor(doc: Document) -> Visitor | None:
    """Who opened this session, as the signed token says; None for an anonymous visitor.

    Only the token counts: it is signed, so a visitor cannot forge it, unlike a query argument. A
    shared view has no visitor: its token is only the first of many viewers'.
    """
    payload = session_payload(doc)
    if payload.get(SHARED_KEY):
        return None
    return Visitor.from_payload(payload.get(USER_KEY))


def page_options(payload: Mapping[str, Any]) -> dict[str, str]:
    """The raw page options a site page put into the token."""
    options = payload.get(OPTIONS_KEY) or {}
    if not isinstance(options, Mapping) or not all(isinstance(value, str) for value in options.values()):
        raise InvalidArgument("options", "must map option names to text")
    return dict(options)


def build_app(doc: Document, name: str, build: Callable[..., None]) -> None:
    """Call ``build(doc, **arguments)`` and apply the page options, or explain why it cannot."""
    spec = CATALOG[name]
    payload = session_payload(doc)
    if payload.get(EXPECTS_EXISTING_KEY):
        show_session_expired(doc, spec.title)
        return
    if not spec.public and payload.get(APP_KEY) != name:
        show_private(doc, spec.title)
        return
    try:
        arguments = spec.parse_arguments(request_arguments(doc))
        options = spec.parse_options(page_options(payload))
    except InvalidArgument as error:
        show_invalid_argument(doc, spec.title, error)
        return
    build(doc, **arguments)
    apply_page_options(doc, options)


def apply_page_options(doc: Document, options: Mapping[str, object]) -> None:
    """Apply the catalog's page options (``PAGE_OPTIONS``) to a built document."""
    title = options.get("title")
    plot = doc.select_one({"name": MAIN_PLOT_NAME})
    if title and plot is not None:
        plot.title.text = title


def _notice(doc: Document, title: str, name: str, message: str) -> None:
    doc.title = title
    # The app's own page template places roots the app never built; Bokeh's plain page shows any.
    doc.template = FILE
    doc.add_root(Div(text=message, name=name, styles={"font-size": "16px"}))


def show_session_expired(doc: Document, title: str) -> None:
    """Say that the page's prepared session is gone, rather than build a default one."""
    message = (
        f"<h2>{html.escape(title)}: this view has expired</h2>"
        "<p>The site prepared this live view for your page, and the server discarded it before your "
        "browser connected (or the server restarted meanwhile). Showing the app's default view instead "
        "would show something the page did not ask for.</p>"
        '<p><a href="">Reload the page</a> to get a fresh view.</p>'
    )
    _notice(doc, f"{title}: view expired", "session_expired", message)


def show_private(doc: Document, title: str) -> None:
    """Refuse to build a private app for a session whose token was not minted for it."""
    message = (
        f"<h2>{html.escape(title)} is private</h2>"
        "<p>This session was not opened for this app. Open it from the site, signed in.</p>"
    )
    _notice(doc, f"{title}: private", "private_app", message)


def show_invalid_argument(doc: Document, title: str, error: InvalidArgument) -> None:
    message = (
        f"<h2>{html.escape(title)} cannot start</h2>"
        f"<p>Invalid query argument <code>{html.escape(error.name)}</code>: "
        f"{html.escape(error.message)}.</p>"
        "<p>Remove it or correct it in the address bar.</p>"
    )
    _notice(doc, f"{title}: invalid argument", "invalid_argument", message)


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
    url = f"{request.protocol}://{request.host}{request.path}"
    return {VISIT_KEY: visit_record(url, request.remote_ip, request.headers.get("User-Agent", ""))}


def visit_of(doc: Document) -> dict[str, str] | None:
    """The page request details this session's token carries, if any.

    The site puts them into the tokens it mints; for a standalone page, the app's
    ``process_request`` hook does (Bokeh calls it for the HTTP request that opens a session).
    """
    context = doc.session_context
    if context is None:
        return None
    visit = session_payload(doc).get(VISIT_KEY)
    return visit if isinstance(visit, dict) else None


def describe_visit(visit: Mapping[str, str] | None) -> str:
    """One sentence about who opened the session, as HTML (every value escaped)."""
    if visit is None:
        return "Its token carries no details of the page request that opened it."
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
        f"(counted by the app's lifecycle hooks), Bokeh {html.escape(describe_process())}.</p>"
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
