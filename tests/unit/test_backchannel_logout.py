"""Back-channel logout tokens (``web.accounts.backchannel_logout``) checked one claim at a time, with
a key set of the test's own standing in for the provider's (the real provider is in
``tests/integration/test_single_logout_with_provider.py``)."""

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select

from web import create_app
from web.accounts.login_sessions import ProviderSession, open_login_session
from web.accounts.single_sign_on import EXTENSION
from web.accounts.sso_accounts import account_for
from web.database import db
from web.models import AuditEvent, LoginSession

ISSUER = "https://login.example.org"
CLIENT = "aperture"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
PROVIDER_KEY = RSAKey.generate_key(2048, parameters={"kid": "provider-1"})


@pytest.fixture
def sso_app(app, monkeypatch):
    sso = create_app({**app.config, "OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": CLIENT, "OIDC_CLIENT_SECRET": "s"})
    keys = KeySet([PROVIDER_KEY]).as_dict(private=False)
    monkeypatch.setattr(sso.extensions[EXTENSION], "fetch_jwk_set", lambda force=False: keys)
    return sso


def logins(app, sid="sid-1", subject="sub-grace"):
    """Two logins of the provider's person ``subject``: one of provider session ``sid``, one other."""
    with app.test_request_context():
        user = account_for(ISSUER, subject, {"preferred_username": "grace"}, None)
        open_login_session(user, provider_session=ProviderSession(sid, "id-token"))
        open_login_session(user, provider_session=ProviderSession("sid-other", "id-token"))


def open_sids(app) -> list[str]:
    with app.app_context():
        query = select(LoginSession.oidc_sid).where(LoginSession.revoked_at.is_(None))
        return sorted(db.session.scalars(query))


def logout_token(key=PROVIDER_KEY, **changes) -> str:
    claims = {"iss": ISSUER, "aud": CLIENT, "iat": int(time.time()), "jti": str(uuid.uuid4()), "sid": "sid-1"}
    claims["events"] = {EVENT: {}}
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": "provider-1"}, claims, key)


def audit_kinds(app) -> list[tuple[str, str, str]]:
    """The audit trail's back-channel entries (kind, actor, detail), oldest first."""
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))
        return [(e.kind, e.actor, e.detail) for e in events if e.kind.startswith("backchannel")]


def post(app, token):
    return app.test_client().post("/login/sso/backchannel-logout", data={"logout_token": token})


def test_a_valid_token_ends_the_login_of_its_sid_only_and_is_not_taken_twice(sso_app):
    logins(sso_app)
    token = logout_token()
    answer = post(sso_app, token)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert open_sids(sso_app) == ["sid-other"]
    replayed = post(sso_app, token)
    assert replayed.status_code == 400 and "replayed" in replayed.get_json()["error_description"]
    assert audit_kinds(sso_app) == [
        ("backchannel_logout", "single sign-on", "1 login session(s) ended (sid sid-1, sub None)"),
        ("backchannel_logout_refused", "", "this logout token was taken before (jti replayed)"),
    ]


def test_a_token_with_only_sub_ends_every_login_of_that_person(sso_app):
    logins(sso_app)
    assert post(sso_app, logout_token(sid=None, sub="sub-grace")).status_code == 200
    assert open_sids(sso_app) == []


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"key": RSAKey.generate_key(2048)}, "not a token signed by the provider"),
        ({"iss": "https://evil.example.org"}, "iss"),
        ({"aud": "another-client"}, "aud"),
        ({"iat": None}, "iat"),
        ({"iat": int(time.time()) - 3600}, "iat is too far from now"),
        ({"jti": None}, "jti"),
        ({"events": None}, "events"),
        ({"events": {"http://example.org/other-event": {}}}, "events"),
        ({"nonce": "n-1"}, "nonce"),
        ({"sid": None}, "neither sid nor sub"),
    ],
)
def test_a_token_failing_one_check_is_refused_and_ends_nothing(sso_app, changes, why):
    logins(sso_app)
    key = changes.pop("key", PROVIDER_KEY)
    answer = post(sso_app, logout_token(key=key, **changes))
    assert answer.status_code == 400
    assert why in answer.get_json()["error_description"]
    assert open_sids(sso_app) == ["sid-1", "sid-other"]
    assert [kind for kind, _, _ in audit_kinds(sso_app)] == ["backchannel_logout_refused"]


def test_without_single_sign_on_there_is_no_back_channel(app):
    assert app.test_client().post("/login/sso/backchannel-logout", data={"logout_token": "x"}).status_code == 404


def test_logging_out_of_a_single_sign_on_login_continues_at_the_providers_logout(sso_app, monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    from tests.support.site_accounts import csrf_token

    metadata = {"issuer": ISSUER, "end_session_endpoint": f"{ISSUER}/logout?realm=staff"}
    monkeypatch.setattr(sso_app.extensions[EXTENSION], "load_server_metadata", lambda: metadata)
    client = sso_app.test_client()
    with sso_app.test_request_context():
        user = account_for(ISSUER, "sub-grace", {"preferred_username": "grace"}, None)
        token = open_login_session(user, provider_session=ProviderSession("sid-1", "the-id-token"))
    with client.session_transaction() as session:
        session["_user_id"] = token
    page = client.get("/").get_data(as_text=True)
    answer = client.post("/logout", data={"csrf_token": csrf_token(page)})
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/logout"
    query = parse_qs(location.query)
    assert query["realm"] == ["staff"] and query["id_token_hint"] == ["the-id-token"]
    assert query["post_logout_redirect_uri"] == ["http://localhost/"] and query["client_id"] == [CLIENT]
    assert open_sids(sso_app) == [], "the site's login ended first"

    # A provider without an end_session_endpoint: logged out of the site only.
    del metadata["end_session_endpoint"]
    with sso_app.test_request_context():
        user = account_for(ISSUER, "sub-grace", {}, None)
        token = open_login_session(user, provider_session=ProviderSession("sid-2", "the-id-token"))
    with client.session_transaction() as session:
        session["_user_id"] = token
    page = client.get("/").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).headers["Location"] == "/"
