"""Logging in and out of the site with the Flask test client."""

import logging

import pytest

from aperture.site_login import SiteLoginReader, SiteLoginSettings
from tests.support.site_accounts import PASSWORD, client_login, create_account, csrf_token
from web import create_app


@pytest.fixture
def alice(app):
    create_account(app, "alice")
    return "alice"


def test_login_sends_the_visitor_on_to_the_local_next_page(client, alice):
    response = client_login(client, "alice", next_path="/apps/portfolio?days=90")
    assert response.status_code == 302
    assert response.headers["Location"] == "/apps/portfolio?days=90"
    page = client.get("/").get_data(as_text=True)
    assert '<b class="account-name">alice</b>' in page


def test_without_next_login_goes_to_the_gallery(client, alice):
    assert client_login(client, "alice").headers["Location"] == "/"


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/ok\r\nSet-Cookie: x=1",
        "evil.example",
    ],
)
def test_next_never_leads_off_the_site(client, alice, next_path):
    response = client_login(client, "alice", next_path=next_path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_wrong_password_or_name_is_refused_the_same_way(client, alice, caplog):
    with caplog.at_level(logging.INFO, logger="web"):
        wrong_password = client_login(client, "alice", password="not-the-password")
        unknown = client_login(client, "nobody", password="not-the-password")
    for response in (wrong_password, unknown):
        assert response.status_code == 200
        assert "Wrong name or password." in response.get_data(as_text=True)
    assert "Logged in as" not in client.get("/").get_data(as_text=True)
    # The attempt is logged by name; the password never is.
    assert "failed login for 'alice'" in caplog.text
    assert "not-the-password" not in caplog.text


def test_a_post_without_csrf_token_is_refused(client, alice):
    response = client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert "Logged in as" not in client.get("/").get_data(as_text=True)


def test_logout_is_a_post_with_the_csrf_token(client, alice):
    client_login(client, "alice")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert "Logged in as" in client.get("/").get_data(as_text=True)
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert "Logged in as" not in client.get("/").get_data(as_text=True)


def test_failed_logins_are_rate_limited_per_address_and_name(app, alice):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    statuses = [client_login(client, "alice", password="wrong-guess").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client_login(client, "alice").status_code == 429, "the right password waits too"
    # Another name from the same address is still let through (up to the per-address limit).
    create_account(app, "bob")
    assert client_login(client, "bob").status_code == 302


def test_successful_logins_do_not_count_against_the_limit(app, alice):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    for _ in range(4):
        assert client_login(client, "alice").status_code == 302


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_when_asked(app, alice, migrated_database, tmp_path):
    response = client_login(app.test_client(), "alice")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("aperture_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = create_app({**app.config, "SESSION_COOKIE_SECURE": True})
    cookie = client_login(secure.test_client(), "alice").headers["Set-Cookie"]
    assert "Secure" in cookie


def test_a_deleted_account_is_logged_out_at_its_next_request(app, client, alice):
    from web.accounts.users import delete_user

    client_login(client, "alice")
    with app.app_context():
        delete_user("alice")
    assert "Logged in as" not in client.get("/").get_data(as_text=True)
    # The cookie no longer holds the login, so the Bokeh server will not honour it either.
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    settings = SiteLoginSettings(app.config["SECRET_KEY"], app.config["SESSION_COOKIE_NAME"], 3600, "http://x")
    assert cookie is None or SiteLoginReader(settings).visitor(cookie.value) is None


def test_a_logged_in_visitor_sent_to_the_login_page_goes_straight_on_with_a_fresh_cookie(app, client, alice):
    # What the Bokeh server does with a cookie too old for it to trust (aperture.site_login).
    client_login(client, "alice")
    response = client.get("/login?next=/standalone/portfolio%3Fdays%3D90")
    assert response.status_code == 302
    assert response.headers["Location"] == "/standalone/portfolio?days=90"
    assert response.headers["Set-Cookie"].startswith(app.config["SESSION_COOKIE_NAME"] + "=")
    assert client.get("/login?next=//evil.example/").headers["Location"] == "/"


def test_a_deleted_account_sent_to_the_login_page_gets_the_form(app, client, alice):
    from web.accounts.users import delete_user

    client_login(client, "alice")
    with app.app_context():
        delete_user("alice")
    response = client.get("/login?next=/standalone/portfolio")
    assert response.status_code == 200 and 'name="password"' in response.get_data(as_text=True)


def test_the_login_form_may_end_on_the_bokeh_server(client):
    # A standalone private app sends visitors to this form, which redirects back to the Bokeh
    # server; browsers apply the CSP's form-action to that redirect too.
    policy = client.get("/login").headers["Content-Security-Policy"]
    form_action = next(part for part in policy.split("; ") if part.startswith("form-action"))
    assert "http://localhost:5006" in form_action.split()
