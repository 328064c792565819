"""The signed session token: everything a Bokeh process needs to build a page's session by itself.

With ``--session-ids signed`` the Bokeh server builds a session when a websocket arrives with a
token for a session it does not have, and turns the payload's ``arguments``, ``headers`` and
``cookies`` into the session's request. So the Flask site mints the session id and the token
(``mint_session``) and contacts no Bokeh server: whichever process the browser reaches builds the
session, and rebuilds the same one for a browser that comes late or reconnects elsewhere.

The payload always carries ``arguments`` (validated, as lists of bytes, the shape tornado gives
the server), plus empty ``headers`` and ``cookies``: without them the session would see the
websocket request's own, whose query string BokehJS copies from the page's URL, unvalidated. Our
own keys: ``options`` (the page's declared options, as strings), ``visit`` (the page request),
``expects_existing`` (set on the browser's token of a pulled session, which must never be rebuilt
as a default one), ``user`` (the signed-in visitor, ``aperture.access.Visitor.as_payload``) and
``app`` (the app the token was minted for: Bokeh's tokens name no app, and a private app accepts
only tokens bound to it), ``shared`` (a shared view: see ``shared_session_id``), ``login`` (the
id of the site's login record the page was opened with: the Bokeh server lets the token in, and
keeps its websocket open, only while that login is open; share links' tokens carry none) and
``relay`` (a Bokeh process's link to the process that owns a shared view, ``relay_payload``).

A shared view's session id is derived from the view (``shared_session_id``): every viewer's token
names the same session, so they share one document on the process their websocket reaches, and
any process builds it identically from any viewer's token. Such a token carries the viewer
(``user``) for the access check at the websocket, but no page request, and the document built
from it never sees the viewer (``bkruntime.kit.app_session``).

Bokeh checks the signature, and the expiry only when a websocket opens; the payload is readable
by whoever holds the token (base64, not encrypted).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bokeh.util.token import generate_jwt_token, generate_session_id

OPTIONS_KEY = "options"
VISIT_KEY = "visit"
USER_KEY = "user"
APP_KEY = "app"
EXPECTS_EXISTING_KEY = "expects_existing"
SHARED_KEY = "shared"
LOGIN_KEY = "login"
# Set (to the relay's process index) on the token of a relay's link to a shared view's owner
# (``bkruntime.view_relay``); minted only by a Bokeh process, with the deployment's key.
RELAY_KEY = "relay"
# Keeps a shared view's id apart from anything else signed with the same key.
_SHARED_VIEW_CONTEXT = b"aperture shared view\n"
# A header is visitor-controlled; keep what travels in the token and the page short.
MAX_USER_AGENT = 120


@dataclass(frozen=True)
class SessionGrant:
    """A session id and the connection token that opens (or builds) that session."""

    session_id: str
    token: str


def encode_arguments(arguments: Mapping[str, object]) -> dict[str, list[bytes]]:
    """Typed argument values as the Bokeh server's request would hold them: ``{"N": [b"37"]}``."""
    return {name: [str(value).encode("utf-8")] for name, value in arguments.items()}


def visit_record(url: str, remote_ip: str | None, user_agent: str) -> dict[str, str]:
    """What a token says about the page request that opened the session (shown by the apps)."""
    return {
        "url": url,
        "remote_ip": remote_ip or "",
        "user_agent": user_agent[:MAX_USER_AGENT],
        "opened_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def token_payload(
    arguments: Mapping[str, object],
    options: Mapping[str, object] | None = None,
    visit: Mapping[str, str] | None = None,
    user: Mapping[str, Any] | None = None,
    expects_existing: bool = False,
    app: str | None = None,
    shared: bool = False,
    login: int | None = None,
) -> dict[str, Any]:
    """The token's extra payload for a session started with these (already validated) values."""
    payload: dict[str, Any] = {
        "arguments": encode_arguments(arguments),
        "headers": {},
        "cookies": {},
        OPTIONS_KEY: {name: str(value) for name, value in (options or {}).items()},
    }
    if visit:
        payload[VISIT_KEY] = dict(visit)
    if user:
        payload[USER_KEY] = dict(user)
    if expects_existing:
        payload[EXPECTS_EXISTING_KEY] = True
    if app:
        payload[APP_KEY] = app
    if shared:
        payload[SHARED_KEY] = True
    if login is not None:
        payload[LOGIN_KEY] = login
    return payload


def relay_payload(viewer_payload: Mapping[str, Any], relay_index: int) -> dict[str, Any]:
    """The payload of a relay's link to a shared view's owner, from a viewer's token of that view.

    The view (arguments, options, app) is the viewer's; the viewer is not: the link speaks for a
    process, whose viewers were each checked where they arrived.
    """
    payload = {
        key: value for key, value in viewer_payload.items() if key not in (USER_KEY, VISIT_KEY, "session_expiry")
    }
    payload[SHARED_KEY] = True
    payload[RELAY_KEY] = relay_index
    return payload


def session_payload(doc: Any) -> dict[str, Any]:
    """The payload of the token that opened ``doc``'s session (empty outside a server session)."""
    context = doc.session_context
    if context is None:
        return {}
    try:
        return dict(context.token_payload)
    except (AssertionError, AttributeError):  # a session context without a token
        return {}


def new_session_id(secret: str) -> str:
    """A fresh session id signed with ``secret``, as the Bokeh server expects."""
    return generate_session_id(secret_key=secret.encode(), signed=True)


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def shared_session_id(
    secret: str, app: str, arguments: Mapping[str, object], options: Mapping[str, object] | None = None
) -> str:
    """The one session id of a shared view: app ``app`` with these validated arguments and options.

    An HMAC of the view under ``secret``, so nobody without the key can name (or guess) the session
    of a view, signed the way Bokeh signs the ids it generates (``--session-ids signed`` accepts it).
    Callers pass values validated with the catalog's defaults filled in, so that a view asked for
    with and without a default argument is the same view.
    """
    view = {
        "app": app,
        "arguments": {name: str(value) for name, value in arguments.items()},
        "options": {name: str(value) for name, value in (options or {}).items()},
    }
    canonical = json.dumps(view, sort_keys=True, separators=(",", ":")).encode("utf-8")
    key = secret.encode()
    base_id = _base64url(hmac.new(key, _SHARED_VIEW_CONTEXT + canonical, hashlib.sha256).digest())
    # Bokeh's signed id: "<id>.<base64url HMAC-SHA256 of the id>" (bokeh.util.token; a test checks
    # that Bokeh accepts these).
    return f"{base_id}.{_base64url(hmac.new(key, base_id.encode(), hashlib.sha256).digest())}"


def mint_token(session_id: str, secret: str, lifetime_seconds: int, payload: Mapping[str, Any]) -> str:
    """A connection token for ``session_id``, signed with ``secret``, valid ``lifetime_seconds``."""
    return generate_jwt_token(
        session_id, secret_key=secret.encode(), signed=True, expiration=lifetime_seconds, extra_payload=dict(payload)
    )


def mint_session(secret: str, lifetime_seconds: int, payload: Mapping[str, Any]) -> SessionGrant:
    """A new signed session id and its token carrying ``payload`` (see ``token_payload``)."""
    session_id = new_session_id(secret)
    return SessionGrant(session_id, mint_token(session_id, secret, lifetime_seconds, payload))
