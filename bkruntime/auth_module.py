"""Bokeh's ``--auth-module``: one login, the site's, for the standalone apps on the Bokeh server.

The launcher passes this file to ``bokeh serve --auth-module``. Bokeh awaits ``get_user_async``
before every request of an app's page, ``autoload.js``, metadata or websocket (in the handler's
``prepare``, so before a websocket handshake); a None answer sends a page request to
``get_login_url`` (the site's login page, which comes back through the site's
``/standalone/<app>``), and a refused websocket gets a plain 403. Bokeh applies one auth module to
every app of a server, so the decision is per app, from the request's application context:

* public apps (and the index, static files): everyone passes, signed in or not;
* a private app: a visitor whose site cookie (``aperture.site_login``) may open it; or a request
  carrying a session token signed with the Bokeh key and bound to this very app (pages of the
  site and share links embed those; tokens of other apps, freely had from public pages, fail);
  a shared view's token must also name a viewer who may open the app (its session id is the
  view's, the same for every viewer, so the token's viewer is what is checked), unless it is the
  token of another Bokeh process's link to the view's owner (``relay``, minted with the same key
  by a process that checked each of its viewers itself; ``bkruntime.view_relay``);
* signed in, but without the app's role: 403.

``StandaloneIdentity`` is the other half: a handler added to every app that puts the cookie's
visitor and the app's name into the token of a standalone page, so the app can greet them.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from bokeh.application.handlers import Handler
from bokeh.util.token import check_token_signature, get_token_payload
from tornado.web import HTTPError
from tornado.websocket import WebSocketHandler

from aperture.access import Visitor, may_open
from aperture.catalog import CATALOG, AppSpec
from aperture.session_token import APP_KEY, RELAY_KEY, SHARED_KEY, USER_KEY
from aperture.signing import resolve_bokeh_secret
from aperture.site_login import SiteLoginReader, SiteLoginSettings

# What Bokeh's handlers see as the user of a request that needs no login.
ANONYMOUS = "anonymous"
_TOKEN_ARGUMENT = "bokeh-token"  # noqa: S105 (the argument's name, not a secret)
_WEBSOCKET_PROTOCOL = "Sec-WebSocket-Protocol"


class SiteLoginGate:
    """The per-app decision behind ``get_user``; see the module docstring."""

    def __init__(self, reader: SiteLoginReader, bokeh_secret: str) -> None:
        self.reader = reader
        self._bokeh_secret = bokeh_secret.encode()

    def user(self, handler: Any) -> object | None:
        name = app_name(handler)
        spec = CATALOG.get(name) if name else None
        if spec is None or spec.public:
            return ANONYMOUS
        visitor = self.reader.visitor(handler.get_cookie(self.reader.settings.cookie_name))
        if may_open(spec, visitor):
            return visitor.as_payload()
        if self._has_bound_token(handler, spec):
            return ANONYMOUS
        if visitor is not None:
            raise HTTPError(403, reason=f"{spec.title} is not open to {visitor.name}")
        if isinstance(handler, WebSocketHandler):
            # Refuse the handshake itself; Bokeh would otherwise accept it, then fail to redirect.
            raise HTTPError(403, reason=f"{spec.title} is private")
        return None

    def login_url(self, handler: Any) -> str:
        return self.reader.login_url(app_name(handler) or "", handler.request.query)

    def _has_bound_token(self, handler: Any, spec: AppSpec) -> bool:
        token = request_token(handler)
        if not token:
            return False
        try:
            if not check_token_signature(token, secret_key=self._bokeh_secret, signed=True):
                return False
            payload = get_token_payload(token)
        except Exception:  # a malformed token is simply not a credential
            return False
        if payload.get(APP_KEY) != spec.name:
            return False
        if payload.get(SHARED_KEY) and isinstance(payload.get(RELAY_KEY), int):
            return True
        return not payload.get(SHARED_KEY) or may_open(spec, Visitor.from_payload(payload.get(USER_KEY)))


def app_name(handler: Any) -> str | None:
    """The catalog name of the app a Bokeh request handler serves (None: index, static files)."""
    context = getattr(handler, "application_context", None)
    url = getattr(context, "url", None)
    return url.strip("/").rsplit("/", 1)[-1] if url else None


def request_token(handler: Any) -> str | None:
    """The session token a request carries: ``?bokeh-token=`` or the websocket's subprotocol."""
    token = handler.get_argument(_TOKEN_ARGUMENT, default=None)
    if token:
        return token
    protocols = [part.strip() for part in handler.request.headers.get(_WEBSOCKET_PROTOCOL, "").split(",")]
    return protocols[1] if len(protocols) == 2 and protocols[0] == "bokeh" else None


class StandaloneIdentity(Handler):
    """Adds the visitor (from the site cookie) and the app's name to a standalone page's token."""

    def __init__(self, app: str, reader: SiteLoginReader) -> None:
        super().__init__()
        self._app = app
        self._reader = reader

    def modify_document(self, doc) -> None:
        """Nothing: the app's own handler builds the document."""

    def process_request(self, request) -> dict[str, Any]:
        morsel = request.cookies.get(self._reader.settings.cookie_name)
        visitor: Visitor | None = self._reader.visitor(morsel.value if morsel else None)
        identity = {USER_KEY: visitor.as_payload()} if visitor else {}
        return {APP_KEY: self._app, **identity}


@cache
def _gate() -> SiteLoginGate:
    return SiteLoginGate(SiteLoginReader(SiteLoginSettings.from_environ(os.environ)), resolve_bokeh_secret(os.environ))


async def get_user_async(request_handler):
    """Bokeh's hook: the request's user, or None to send it to the site's login."""
    return _gate().user(request_handler)


def get_login_url(request_handler):
    """Bokeh's hook: the site's login page, coming back to this app afterwards."""
    return _gate().login_url(request_handler)
