"""Single sign-on with an OpenID Connect provider (Authlib's Flask client).

With ``OIDC_ISSUER`` set, the login page offers "Log in with <OIDC_PROVIDER_NAME>". ``/login/sso``
reads the provider's discovery document afresh (so a provider that is down is noticed here, not
in the visitor's browser) and sends the visitor there: code flow with PKCE, state and nonce.
``/login/sso/callback`` exchanges the code, checks the ID token (signature, issuer, audience,
nonce), reads the claims (ID token and userinfo), finds or creates the account by issuer and
``sub`` (``web.accounts.sso_accounts``) and logs it in through the site's own login step, which the
standalone apps honour too. Every request to the provider has ``OIDC_TIMEOUT``; whatever goes
wrong there gives the login page back with a message saying so, never a 500.

Logging out of such a login logs out at the provider too (RP-initiated logout): the site ends its
login, then sends the visitor to the provider's ``end_session_endpoint`` with the login's ID
token as ``id_token_hint`` and the site's gallery as ``post_logout_redirect_uri``. A provider
that does not advertise one, or cannot be reached, leaves the visitor logged out of the site only.
The provider's own logouts reach the site by back-channel (``web.accounts.backchannel_logout``).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, redirect, request, session, url_for

from web.accounts import auth
from web.accounts.audit import record
from web.accounts.login_sessions import ProviderSession
from web.accounts.sso_accounts import account_for, roles_from_claim

bp = Blueprint("sso", __name__)
log = logging.getLogger(__name__)

EXTENSION = "single_sign_on"
NEXT_KEY = "sso_next"


class ProviderUnavailable(Exception):
    """The provider could not be reached or gave an answer that cannot be used; says which."""


def init_app(app: Flask) -> None:
    """Register the provider's client when ``OIDC_ISSUER`` is set; tell templates about it."""
    app.extensions[EXTENSION] = _register_client(app) if app.config["OIDC_ISSUER"] else None
    app.extensions[auth.PROVIDER_LOGOUT] = provider_logout_url
    app.context_processor(_login_choices)


def _register_client(app: Flask):
    issuer = app.config["OIDC_ISSUER"]
    # One registry per app (Authlib's keeps its clients on itself, not on the app).
    return OAuth(app).register(
        "oidc",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config["OIDC_SCOPES"],
            "code_challenge_method": "S256",
            # Every request to the provider (discovery, keys, token, userinfo) gives up after this.
            "default_timeout": app.config["OIDC_TIMEOUT"],
        },
    )


def _login_choices() -> dict[str, object]:
    enabled = current_app.extensions.get(EXTENSION) is not None
    return {
        "sso_provider_name": current_app.config["OIDC_PROVIDER_NAME"] if enabled else None,
        "local_login": current_app.config["LOCAL_LOGIN"],
    }


def _client():
    client = current_app.extensions.get(EXTENSION)
    if client is None:
        abort(404, description="Single sign-on is not set up on this site.")
    return client


def _fresh_metadata(client) -> dict:
    """The provider's discovery document, read now; checked to name the configured issuer."""
    client.server_metadata.pop("_loaded_at", None)
    try:
        metadata = client.load_server_metadata()
    except requests.RequestException as error:
        raise ProviderUnavailable(f"it could not be reached ({error.__class__.__name__})") from error
    except ValueError as error:
        raise ProviderUnavailable("its discovery document is not JSON") from error
    issuer = current_app.config["OIDC_ISSUER"]
    if metadata.get("issuer") != issuer:
        raise ProviderUnavailable(f"it calls itself {metadata.get('issuer')!r}, not {issuer!r} (OIDC_ISSUER)")
    return metadata


def _provider_error(reason: str, status: int = 503):
    name = current_app.config["OIDC_PROVIDER_NAME"]
    log.warning("single sign-on with %s failed: %s", name, reason)
    record("login_failed", detail=f"single sign-on with {name}: {reason}")
    message = f"Logging in with {name} did not work: {reason}. Try again later"
    if current_app.config["LOCAL_LOGIN"]:
        message += ", or log in with your name and password"
    return auth.login_page(status=status, sso_error=message + ".")


def provider_logout_url(id_token: str) -> str | None:
    """The provider's logout page for the login of ``id_token``, coming back to the site's gallery;
    None when the provider has none or cannot be reached (the site's logout stands alone)."""
    client = current_app.extensions.get(EXTENSION)
    if client is None:
        return None
    try:
        endpoint = client.load_server_metadata().get("end_session_endpoint")
    except (requests.RequestException, ValueError) as error:
        log.warning("single logout: the provider could not be reached (%s); logged out of the site only", error)
        return None
    if not endpoint:
        return None
    base = current_app.config.get("OIDC_REDIRECT_BASE_URL")
    back = base + url_for("gallery.index") if base else url_for("gallery.index", _external=True)
    query = urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": back, "client_id": current_app.config["OIDC_CLIENT_ID"]}
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def redirect_uri() -> str:
    """The callback's address for the provider: on ``SITE_PUBLIC_URL`` when that is set, else on
    the host and scheme the visitor used (behind a proxy, as ``TRUSTED_PROXY_HOPS`` lets the site
    see them)."""
    base = current_app.config.get("OIDC_REDIRECT_BASE_URL")
    return base + url_for("sso.callback") if base else url_for("sso.callback", _external=True)


@bp.get("/login/sso")
def start():
    """Send the visitor to the provider's login page; ``next`` (a local path) is kept for the way back."""
    client = _client()
    try:
        _fresh_metadata(client)
        session[NEXT_KEY] = auth.safe_next(request.args.get("next")) or ""
        return client.authorize_redirect(redirect_uri())
    except ProviderUnavailable as error:
        return _provider_error(str(error))


@bp.get("/login/sso/callback")
def callback():
    """Back from the provider: check its answer, find or create the account, log it in."""
    client = _client()
    try:
        claims, provider_session = _checked_claims(client)
    except OAuthError as error:
        if error.error == "mismatching_state":
            # Not this browser's login: forged, stale, or started on another address of the site,
            # whose cookie this one does not get (the provider sends everyone to one address).
            reason = (
                "this browser did not start that login here; open the site at "
                f"{current_app.config['SITE_PUBLIC_URL']} and log in again"
            )
            return _provider_error(reason, status=400)
        # Refused at the provider.
        return _provider_error(f"the provider answered {error.error or 'an error'}", status=400)
    except ProviderUnavailable as error:
        return _provider_error(str(error))
    roles_claim = current_app.config["OIDC_ROLES_CLAIM"]
    roles = roles_from_claim(claims, roles_claim) if roles_claim else None
    user = account_for(current_app.config["OIDC_ISSUER"], claims["sub"], claims, roles)
    next_path = session.pop(NEXT_KEY, "")
    auth.log_in(user, provider_session)
    log.info("login: %s by single sign-on from %s", user.name, request.remote_addr)
    issuer = current_app.config["OIDC_ISSUER"]
    record("single_sign_on_login", actor=user.name, subject=user.name, detail=f"{claims['sub']} at {issuer}")
    return redirect(auth.safe_next(next_path) or url_for("gallery.index"))


def _checked_claims(client) -> tuple[dict, ProviderSession]:
    """The person's claims: the checked ID token's, completed by the userinfo endpoint's; and the
    provider's session (its ``sid`` and the ID token, for single logout)."""
    try:
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise ProviderUnavailable("its answer held no ID token")
        sid = claims.get("sid")
        provider_session = ProviderSession(sid if isinstance(sid, str) else None, token.get("id_token"))
        if client.load_server_metadata().get("userinfo_endpoint"):
            extra = dict(client.userinfo(token=token))
            if extra.get("sub") != claims["sub"]:
                raise ProviderUnavailable("its userinfo names another person than its ID token")
            claims.update(extra)
    except (OAuthError, ProviderUnavailable):
        raise
    except requests.RequestException as error:
        raise ProviderUnavailable(f"it could not be reached ({error.__class__.__name__})") from error
    except Exception as error:
        # A token that fails its checks (signature, issuer, audience, nonce, expiry) or an answer
        # that is not what the protocol says: refuse the login, keep the site up.
        log.exception("single sign-on: the provider's answer was refused")
        raise ProviderUnavailable(f"its answer could not be checked ({error.__class__.__name__})") from error
    return claims, provider_session
