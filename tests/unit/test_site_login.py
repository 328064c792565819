"""The Bokeh side's reading of the site's login cookie, fed with cookies the real site sets."""

import time

import pytest
from itsdangerous import TimestampSigner

from aperture.access import Visitor
from aperture.site_login import SiteLoginReader, SiteLoginSettings, session_serializer, standalone_path
from tests.support.servers import TEST_FLASK_SECRET
from tests.support.site_accounts import client_login, create_account


@pytest.fixture
def reader(app) -> SiteLoginReader:
    return SiteLoginReader(
        SiteLoginSettings(TEST_FLASK_SECRET, app.config["SESSION_COOKIE_NAME"], 3600, "http://localhost:8000")
    )


def login_cookie(app, name: str, *roles: str) -> str:
    create_account(app, name, *roles)
    client = app.test_client()
    assert client_login(client, name).status_code == 302
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def test_a_cookie_the_site_set_at_login_names_the_visitor(app, reader):
    assert reader.visitor(login_cookie(app, "ada", "admin")) == Visitor("ada", ("admin",))


def test_a_logged_out_or_anonymous_cookie_names_nobody(app, reader):
    client = app.test_client()
    client.get("/login")  # an anonymous session: a CSRF token, no login
    anonymous = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert reader.visitor(anonymous) is None
    create_account(app, "alice")
    client_login(client, "alice")
    client.post("/logout", data={"csrf_token": client_csrf(client)})
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is None or reader.visitor(cookie.value) is None


def client_csrf(client) -> str:
    from tests.support.site_accounts import csrf_token

    return csrf_token(client.get("/login", follow_redirects=True).get_data(as_text=True))


def test_a_tampered_cookie_is_refused(app, reader):
    cookie = login_cookie(app, "alice")
    payload, rest = cookie.split(".", 1)
    forged = session_serializer(TEST_FLASK_SECRET).loads(cookie)
    forged["visitor"] = {"name": "alice", "roles": ["admin"]}
    resigned_elsewhere = session_serializer("another-secret-0123456789abcdefghijklmnop").dumps(forged)
    assert reader.visitor(resigned_elsewhere) is None
    assert reader.visitor(payload[:-2] + "AA." + rest) is None
    assert reader.visitor("garbage") is None
    assert reader.visitor("") is None


def test_a_cookie_older_than_the_session_lifetime_is_refused(app, reader, monkeypatch):
    cookie = login_cookie(app, "alice")
    assert reader.visitor(cookie) == Visitor("alice")
    # Read it as if two hours had passed (the reader accepts one hour).
    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 7200)
    assert reader.visitor(cookie) is None


def test_the_cookie_gives_the_login_token_the_bokeh_side_looks_up(app, reader):
    """The cookie's visitor is what the site last wrote; the login's token is what the Bokeh side
    checks in the database (``bkruntime.login_records``)."""
    cookie = login_cookie(app, "alice")
    token = reader.login_token(cookie)
    assert token and len(token) >= 40
    assert reader.login_token("garbage") is None
    assert reader.login_token("") is None


def test_the_login_url_comes_back_through_the_sites_standalone_route(reader):
    assert reader.login_url("portfolio", "days=90") == (
        "http://localhost:8000/login?next=%2Fstandalone%2Fportfolio%3Fdays%3D90"
    )
    assert standalone_path("portfolio") == "/standalone/portfolio"


def test_settings_refuse_a_site_url_that_is_not_http():
    from aperture.environment import ConfigurationError

    with pytest.raises(ConfigurationError, match="SITE_PUBLIC_URL"):
        SiteLoginSettings.from_environ({"SITE_PUBLIC_URL": "ftp://x", "FLASK_SECRET_KEY": TEST_FLASK_SECRET})
