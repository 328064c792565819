"""The provider's logouts reaching the site: OpenID Connect Back-Channel Logout 1.0.

When a person logs out at the provider (or the provider ends their session), it POSTs a logout
token to ``/login/sso/backchannel-logout`` (register that URI at the provider as the client's
``backchannel_logout_uri``). The token is a JWT signed with one of the provider's keys (its JWKS,
fetched again once when a key id is unknown, for key rotation); it must name the provider as
``iss`` and this site's client as ``aud``, carry ``iat``, a ``jti``, the back-channel logout event
in ``events``, ``sid`` or ``sub``, and no ``nonce``. A token whose ``jti`` was taken before is
refused (``oidc_logout_tokens``, kept until it expires). The logins it names end as any other
(``web.accounts.login_sessions``): on the site at once, on every app within seconds.

The answer is 200 for a token taken (also when it names no open login), 400 with a JSON
``error`` otherwise; never a 500. The provider calls this without the visitor's cookie: no CSRF.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import requests
from flask import Blueprint, Flask, abort, current_app, jsonify, request
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from web.accounts.audit import record
from web.accounts.auth import csrf
from web.accounts.login_sessions import end_provider_logins
from web.accounts.single_sign_on import EXTENSION
from web.accounts.sso_accounts import SINGLE_SIGN_ON
from web.database import db
from web.models import OidcLogoutToken, utcnow

bp = Blueprint("backchannel_logout", __name__)
log = logging.getLogger(__name__)

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Signature algorithms taken (never "none" or a shared-secret one: the key is the provider's).
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
# A logout token issued longer ago than this (or this far in the future) is refused.
MAX_AGE_SECONDS = 300
MAX_TOKEN_LENGTH = 16_384


class RefusedLogoutToken(Exception):
    """The logout token fails a check; says which."""


def init_app(app: Flask) -> None:
    csrf.exempt(bp)


@bp.post("/login/sso/backchannel-logout")
def backchannel_logout():
    """Take a logout token from the provider and end the logins it names."""
    client = current_app.extensions.get(EXTENSION)
    if client is None:
        abort(404, description="Single sign-on is not set up on this site.")
    token = request.form.get("logout_token", "")
    try:
        claims = checked_logout_token(client, token)
        remember_jti(claims)
    except RefusedLogoutToken as error:
        log.warning("back-channel logout refused from %s: %s", request.remote_addr, error)
        record("backchannel_logout_refused", actor=None, detail=str(error))
        return _answer({"error": "invalid_request", "error_description": str(error)}, 400)
    ended = end_provider_logins(current_app.config["OIDC_ISSUER"], claims.get("sid"), claims.get("sub"))
    log.info("back-channel logout: %d login(s) ended (sid %s, sub %s)", ended, claims.get("sid"), claims.get("sub"))
    detail = f"{ended} login session(s) ended (sid {claims.get('sid')}, sub {claims.get('sub')})"
    record("backchannel_logout", actor=SINGLE_SIGN_ON, detail=detail)
    return _answer({}, 200)


def _answer(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def checked_logout_token(client, token: str) -> dict:
    """The claims of ``token`` if it is a valid logout token of the provider for this site."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise RefusedLogoutToken("no logout_token, or one too long")
    claims = _decoded(client, token)
    registry = jwt.JWTClaimsRegistry(
        leeway=30,
        iss={"essential": True, "value": current_app.config["OIDC_ISSUER"]},
        aud={"essential": True, "value": current_app.config["OIDC_CLIENT_ID"]},
        iat={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise RefusedLogoutToken(f"claim check failed ({error.error}: {error.description})") from None
    issued = claims["iat"]
    if not isinstance(issued, int | float) or abs(time.time() - issued) > MAX_AGE_SECONDS:
        raise RefusedLogoutToken("iat is too far from now")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise RefusedLogoutToken("events does not hold the back-channel logout event")
    if "nonce" in claims:
        raise RefusedLogoutToken("a logout token must not carry a nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise RefusedLogoutToken("neither sid nor sub names whom to log out")
    if not isinstance(claims["jti"], str) or not claims["jti"] or len(claims["jti"]) > 255:
        raise RefusedLogoutToken("jti is not a usable identifier")
    return claims


def _decoded(client, token: str) -> dict:
    """``token``'s claims, its signature checked with the provider's keys (read afresh once for a
    key id the provider does not list: it may have rotated its keys since)."""
    for force in (False, True):
        try:
            keys = KeySet.import_key_set(client.fetch_jwk_set(force=force))
            return dict(jwt.decode(token, keys, algorithms=ALGORITHMS).claims)
        except (requests.RequestException, RuntimeError) as error:
            raise RefusedLogoutToken(f"the provider's keys could not be read ({error.__class__.__name__})") from None
        except InvalidKeyIdError:
            if force:
                raise RefusedLogoutToken("not signed by a key of the provider") from None
        except (JoseError, ValueError, TypeError) as error:
            raise RefusedLogoutToken(f"not a token signed by the provider ({error.__class__.__name__})") from None
    raise RefusedLogoutToken("not signed by a key of the provider")


def remember_jti(claims: dict) -> None:
    """Keep the token's ``jti`` until it expires; refuse one taken before."""
    now = utcnow()
    expires = claims.get("exp")
    until = datetime.fromtimestamp(expires, UTC) if isinstance(expires, int | float) else None
    until = max(until or now, now + timedelta(seconds=2 * MAX_AGE_SECONDS))
    db.session.execute(delete(OidcLogoutToken).where(OidcLogoutToken.expires_at < now))
    db.session.add(OidcLogoutToken(jti=claims["jti"], expires_at=until))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RefusedLogoutToken("this logout token was taken before (jti replayed)") from None
