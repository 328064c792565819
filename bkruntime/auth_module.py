"""Bokeh's ``--auth-module``: one login, the site's, for the standalone apps on the Bokeh server.

The launcher passes this file to ``bokeh serve --auth-module``. Bokeh awaits ``get_user_async``
before every request of an app's page, ``autoload.js``, metadata or websocket (in the handler's
``prepare``, so before a websocket handshake); a None answer sends a page request to
``get_login_url`` (the site's login page, which comes back through the site's
``/standalone/<app>``), and a refused websocket gets a plain 403. Bokeh applies one auth module to
every app of a server, so the decision is per app, from the request's application context:

* public apps (and the index, static files): everyone passes, signed in or not;
* a private app: a visitor whose site cookie (``aperture.site_login``) names a login that is open
  now, in the site's database (``bkruntime.login_records``), and whose account may open it; or a
  request carrying a session token signed with the Bokeh key and bound to this very app (pages
  of the site and share links embed those; tokens of other apps, freely had from public pages,
  fail); a token the site minted for a login (``login`` in its payload: every page but a share
  link's) passes only while that login is open and its account may open the app, and a shared
  view's token must name a viewer who may open the app (its session id is the view's, the same
  for every viewer, so the token's viewer is what is checked), unless it is the token of another
  Bokeh process's link to the view's owner (``relay``, minted with the same key by a process that
  checked each of its viewers itself; ``bkruntime.view_relay``);
* signed in, but without the app's role: 403.

A websocket let in by a login keeps that login's id (``LOGIN_ATTRIBUTE``) for
``bkruntime.login_sweep``, which closes it when the login ends or loses the app. A refused
websocket is recorded in the site's audit trail (``bkruntime.audit_writer``).

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
from aperture.database_url import database_url
from aperture.session_token import APP_KEY, LOGIN_KEY, RELAY_KEY, SHARED_KEY, USER_KEY
from aperture.signing import resolve_bokeh_secret
from aperture.site_login import SiteLoginReader, SiteLoginSettings
from bkruntime.audit_writer import AuditWriter, process_audit_writer
from bkruntime.login_records import LoginRecords, OpenLogin, process_login_records

# What Bokeh's handlers see as the user of a request that needs no login.
ANONYMOUS = "anonymous"
_TOKEN_ARGUMENT = "bokeh-token"  # noqa: S105 (the argument's name, not a secret)
_WEBSOCKET_PROTOCOL = "Sec-WebSocket-Protocol"
# Set on a websocket handler let in by a login: that login's record id and the app (for the sweep).
LOGIN_ATTRIBUTE = "aperture_login"


class SiteLoginGate:
    """The per-app decision behind ``get_user``; see the module docstring."""

    def __init__(
        self, reader: SiteLoginReader, bokeh_secret: str, records: LoginRecords, audit: AuditWriter | None = None
    ) -> None:
        self.reader = reader
        self.records = records
        self._bokeh_secret = bokeh_secret.encode()
        # Where refused websockets go into the audit trail (None: nowhere).
        self._audit = audit

    def user(self, handler: Any) -> object | None:
        name = app_name(handler)
        spec = CATALOG.get(name) if name else None
        if spec is None or spec.public:
            return ANONYMOUS
        token = self._bound_payload(handler, spec)
        if token is not None and LOGIN_KEY not in token and self._link_opens(token, spec):
            # A share link's: open to whoever holds it, whatever their login (never closed with one).
            return ANONYMOUS
        websocket = isinstance(handler, WebSocketHandler)
        login = self.records.by_token(self.reader.login_token(handler.get_cookie(self.reader.settings.cookie_name)))
        visitor = login.visitor if login else None
        if may_open(spec, visitor):
            _remember_login(handler, login, spec)
            return visitor.as_payload()
        if token is not None and LOGIN_KEY in token:
            # Minted for a login: good while that login is open and its account may open the app.
            page_login = self.records.by_id(token[LOGIN_KEY])
            if page_login is not None and may_open(spec, page_login.visitor):
                _remember_login(handler, page_login, spec)
                return ANONYMOUS
        if visitor is not None:
            if websocket:
                self._record_refusal(handler, spec, visitor.name, "the account may not open it")
            raise HTTPError(403, reason=f"{spec.title} is not open to {visitor.name}")
        if websocket:
            # Refuse the handshake itself; Bokeh would otherwise accept it, then fail to redirect.
            self._record_refusal(handler, spec, None, "no login and no session token of this app")
            raise HTTPError(403, reason=f"{spec.title} is private")
        return None

    def _record_refusal(self, handler: Any, spec: AppSpec, visitor: str | None, reason: str) -> None:
        if self._audit is not None:
            self._audit.websocket_refused(handler, spec.name, visitor, reason)

    def login_url(self, handler: Any) -> str:
        return self.reader.login_url(app_name(handler) or "", handler.request.query)

    def _bound_payload(self, handler: Any, spec: AppSpec) -> dict | None:
        """The payload of the request's session token if it is signed and bound to ``spec``."""
        payload = self._signed_payload(request_token(handler))
        return payload if payload is not None and payload.get(APP_KEY) == spec.name else None

    @staticmethod
    def _link_opens(payload: dict, spec: AppSpec) -> bool:
        """Whether a token minted for no login opens ``spec``: a shared view's only for a viewer
        who may open it (its session id is the view's, so its viewer is what is checked), or a
        relay's link to the view's owner (its process checked each of its own viewers)."""
        if payload.get(SHARED_KEY) and isinstance(payload.get(RELAY_KEY), int):
            return True
        return not payload.get(SHARED_KEY) or may_open(spec, Visitor.from_payload(payload.get(USER_KEY)))

    def _signed_payload(self, token: str | None) -> dict | None:
        if not token:
            return None
        try:
            if not check_token_signature(token, secret_key=self._bokeh_secret, signed=True):
                return None
            return get_token_payload(token)
        except Exception:  # a malformed token is simply not a credential
            return None


def _remember_login(handler: Any, login: OpenLogin, spec: AppSpec) -> None:
    """Keep on a websocket the login that let it in, for ``bkruntime.login_sweep``."""
    if isinstance(handler, WebSocketHandler):
        setattr(handler, LOGIN_ATTRIBUTE, (login.id, spec.name))


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
    """Adds the visitor (of the site cookie's open login) and the app's name to a standalone page's token."""

    def __init__(self, app: str, reader: SiteLoginReader, records: LoginRecords) -> None:
        super().__init__()
        self._app = app
        self._reader = reader
        self._records = records

    def modify_document(self, doc) -> None:
        """Nothing: the app's own handler builds the document."""

    def process_request(self, request) -> dict[str, Any]:
        morsel = request.cookies.get(self._reader.settings.cookie_name)
        token = self._reader.login_token(morsel.value if morsel else None)
        login = self._records.by_token(token)
        identity = {USER_KEY: login.visitor.as_payload(), LOGIN_KEY: login.id} if login else {}
        return {APP_KEY: self._app, **identity}


def login_records_for(settings: SiteLoginSettings, environ) -> LoginRecords:
    """This process's reader of the site's logins in the database both sides name (``DATABASE_URL``)."""
    return process_login_records(database_url(environ), settings.lifetime_seconds, settings.check_seconds)


@cache
def _gate() -> SiteLoginGate:
    settings = SiteLoginSettings.from_environ(os.environ)
    records = login_records_for(settings, os.environ)
    audit = process_audit_writer(database_url(os.environ))
    return SiteLoginGate(SiteLoginReader(settings), resolve_bokeh_secret(os.environ), records, audit)


async def get_user_async(request_handler):
    """Bokeh's hook: the request's user, or None to send it to the site's login."""
    return _gate().user(request_handler)


def get_login_url(request_handler):
    """Bokeh's hook: the site's login page, coming back to this app afterwards."""
    return _gate().login_url(request_handler)
