"""Which client address, scheme and host the site believes: ``TRUSTED_PROXY_HOPS``
(``web.operations.proxy_headers``)."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.servers import TEST_FLASK_SECRET
from tests.support.site_accounts import client_login, create_account
from web import create_app
from web.accounts import single_sign_on
from web.settings import load_settings


def site(app, hops: int, **config):
    return create_app({**app.config, "TRUSTED_PROXY_HOPS": hops, **config})


def client_from(app, forwarded_for: str | None):
    """A test client whose requests carry ``X-Forwarded-For: forwarded_for`` (None: no header)."""
    client = app.test_client()
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def failed_logins(client, count: int) -> list[int]:
    # A new name each time: only the per-address limit can refuse.
    return [client_login(client, f"nobody{index}", password="wrong-guess").status_code for index in range(count)]


def test_no_forwarded_header_is_believed_by_default(tmp_path):
    values = load_settings({"APERTURE_INSTANCE_DIR": str(tmp_path), "FLASK_SECRET_KEY": TEST_FLASK_SECRET})
    assert values["TRUSTED_PROXY_HOPS"] == 0


def test_a_forged_forwarded_for_sent_straight_to_the_site_changes_nothing(app):
    direct = site(app, 0, LOGIN_RATE_LIMIT_PER_ADDRESS="3 per minute")
    statuses = []
    for index in range(4):
        # A new made-up address for every attempt: with 0 hops each is still 127.0.0.1.
        statuses += failed_logins(client_from(direct, f"203.0.113.{index}"), 1)
    assert statuses == [200, 200, 200, 429]


def test_behind_one_proxy_each_client_address_has_its_own_limit(app):
    behind_front = site(app, 1, LOGIN_RATE_LIMIT_PER_ADDRESS="3 per minute")
    assert failed_logins(client_from(behind_front, "198.51.100.7"), 4) == [200, 200, 200, 429]
    # Another visitor behind the same front is not locked out by the first one.
    assert failed_logins(client_from(behind_front, "198.51.100.8"), 1) == [200]


def test_behind_one_proxy_only_the_address_the_proxy_wrote_counts(app):
    behind_front = site(app, 1, LOGIN_RATE_LIMIT_PER_ADDRESS="3 per minute")
    statuses = []
    for index in range(4):
        # What the client wrote comes first; the front appends the address it saw.
        statuses += failed_logins(client_from(behind_front, f"203.0.113.{index}, 198.51.100.7"), 1)
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize(("hops", "recorded"), [(0, "127.0.0.1"), (1, "198.51.100.9")])
def test_the_login_session_records_the_address_the_site_believes(app, hops, recorded):
    create_account(app, "alice")
    client = client_from(site(app, hops), "203.0.113.5, 198.51.100.9")
    assert client_login(client, "alice").status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert f"<td>{recorded}</td>" in page


@pytest.fixture
def provider_metadata(monkeypatch):
    """A provider that answers (its discovery document, without a network)."""

    def fresh(client):
        metadata = {"issuer": "https://login.example.org", "authorization_endpoint": "https://login.example.org/auth"}
        # As Authlib keeps a document it has read: not read again by the redirect.
        client.server_metadata.update(metadata, _loaded_at=time.time())
        return metadata

    monkeypatch.setattr(single_sign_on, "_fresh_metadata", fresh)


def sso_redirect_uri(app, hops: int, headers: dict[str, str], **config) -> str:
    sso = site(
        app,
        hops,
        OIDC_ISSUER="https://login.example.org",
        OIDC_CLIENT_ID="aperture",
        OIDC_CLIENT_SECRET="secret",
        **config,
    )
    answer = sso.test_client().get("/login/sso", headers=headers)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    (uri,) = parse_qs(urlsplit(answer.headers["Location"]).query)["redirect_uri"]
    return uri


FRONT_HEADERS = {"Host": "site.internal:8000", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "aperture.example.com"}


def test_the_sso_callback_is_on_the_public_address_behind_a_proxy(app, provider_metadata):
    assert sso_redirect_uri(app, 1, FRONT_HEADERS) == "https://aperture.example.com/login/sso/callback"
    # Not believed straight from a client.
    assert sso_redirect_uri(app, 0, FRONT_HEADERS) == "http://site.internal:8000/login/sso/callback"


def test_the_sso_callback_is_on_site_public_url_whatever_the_host(app, provider_metadata):
    public = {"OIDC_REDIRECT_BASE_URL": "https://aperture.example.com"}
    assert sso_redirect_uri(app, 0, {"Host": "evil.example"}, **public) == (
        "https://aperture.example.com/login/sso/callback"
    )


def test_site_public_url_when_set_is_where_the_provider_sends_visitors_back(tmp_path):
    base = {"APERTURE_INSTANCE_DIR": str(tmp_path), "FLASK_SECRET_KEY": TEST_FLASK_SECRET}
    assert load_settings(base)["OIDC_REDIRECT_BASE_URL"] == ""
    given = load_settings({**base, "SITE_PUBLIC_URL": "https://aperture.example.com/"})
    assert given["OIDC_REDIRECT_BASE_URL"] == "https://aperture.example.com"
