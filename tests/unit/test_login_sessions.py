"""Server-side login sessions: what a cookie names, and every way a login ends, with the test client."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from aperture.site_login import LOGIN_MARKER_KEY, SiteLoginReader, SiteLoginSettings, session_serializer
from tests.support.servers import TEST_FLASK_SECRET
from tests.support.site_accounts import (
    PASSWORD,
    client_login,
    create_account,
    csrf_token,
    logged_in_client,
    signed_in_name,
)
from web.accounts.login_sessions import token_hash
from web.database import db
from web.models import LoginSession, User, utcnow

STANDALONE_NEXT = "/login?next=/standalone/portfolio"


def cookie_of(app, client) -> str:
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def with_cookie(app, value: str):
    """Another browser holding a copy of a cookie."""
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    return client


def post_form(client, path: str, page: str = "/account", **fields):
    token = csrf_token(client.get(page, follow_redirects=True).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **fields})


def test_the_cookie_names_a_random_login_and_the_database_keeps_only_its_hash(app):
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    contents = session_serializer(TEST_FLASK_SECRET).loads(cookie_of(app, client))
    token = contents[LOGIN_MARKER_KEY]
    with app.app_context():
        alice_id = db.session.scalar(select(User.id).where(User.name == "alice"))
        stored = db.session.scalar(select(LoginSession).where(LoginSession.user_id == alice_id))
    assert token != str(alice_id) and len(token) >= 40
    assert stored.token_hash == token_hash(token) != token
    assert stored.user_agent and stored.address == "127.0.0.1"


def test_a_deleted_accounts_cookie_does_not_open_the_next_account_made(app):
    """The id-reuse defect: erin deleted, frank (admin) created; erin's cookie stays anonymous."""
    from web.accounts.users import create_user, delete_user

    create_account(app, "alice")
    create_account(app, "erin")
    erin_cookie = cookie_of(app, logged_in_client(app, "erin"))
    with app.app_context():
        erin_id = db.session.scalar(select(User.id).where(User.name == "erin"))
        delete_user("erin")
        frank = create_user("frank", PASSWORD, ["admin"])
        assert frank.id > erin_id, "a freed id is never handed out again"
        assert db.session.query(LoginSession).filter_by(user_id=erin_id).count() == 0
    old = with_cookie(app, erin_cookie)
    assert old.get("/api/admin/stats").status_code == 403
    assert old.get("/apps/portfolio").headers["Location"].startswith("/login")
    assert signed_in_name(old) is None
    # The site refuses to refresh it for the Bokeh server: the login form, not a redirect back.
    assert with_cookie(app, erin_cookie).get(STANDALONE_NEXT).status_code == 200


def test_a_copy_of_the_cookie_taken_before_logout_is_anonymous_after_it(app):
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    copy = cookie_of(app, client)
    assert signed_in_name(with_cookie(app, copy)) == "alice"
    assert post_form(client, "/logout", page="/").status_code == 302
    stolen = with_cookie(app, copy)
    refresh = stolen.get(STANDALONE_NEXT)
    assert refresh.status_code == 200 and 'name="password"' in refresh.get_data(as_text=True)
    # The answer empties the cookie: nothing left for the Bokeh server to read.
    reader = SiteLoginReader(SiteLoginSettings(TEST_FLASK_SECRET, app.config["SESSION_COOKIE_NAME"], 3600, "http://x"))
    assert reader.visitor(cookie_of(app, stolen)) is None
    assert signed_in_name(with_cookie(app, copy)) is None
    # The login form it got works at once (its CSRF token stayed in the cookie).
    assert client_login(with_cookie(app, copy), "alice").status_code == 302


def test_an_unknown_or_idle_session_is_anonymous(app):
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    forged = session_serializer(TEST_FLASK_SECRET).loads(cookie_of(app, client))
    forged[LOGIN_MARKER_KEY] = "1"
    assert signed_in_name(with_cookie(app, session_serializer(TEST_FLASK_SECRET).dumps(forged))) is None
    assert signed_in_name(client) == "alice"
    idle = utcnow() - app.permanent_session_lifetime - timedelta(minutes=1)
    with app.app_context():
        db.session.execute(update(LoginSession).values(last_seen_at=idle))
        db.session.commit()
    assert signed_in_name(client) is None


def test_log_out_everywhere_ends_every_browsers_login(app):
    create_account(app, "alice")
    create_account(app, "bob")
    laptop, phone, bob = logged_in_client(app, "alice"), logged_in_client(app, "alice"), logged_in_client(app, "bob")
    page = laptop.get("/account").get_data(as_text=True)
    assert page.count('class="login-session') == 2 and "(this browser)" in page
    assert laptop.post("/account/logout-everywhere").status_code == 400, "the CSRF token is required"
    response = post_form(laptop, "/account/logout-everywhere")
    assert response.headers["Location"] == "/login"
    assert "2 login session(s) of alice ended" in laptop.get("/login").get_data(as_text=True)
    assert signed_in_name(laptop) is None and signed_in_name(phone) is None
    assert signed_in_name(bob) == "bob"


def test_logging_in_as_another_account_ends_the_first_login(app):
    create_account(app, "alice")
    create_account(app, "bob")
    client = logged_in_client(app, "alice")
    copy = cookie_of(app, client)
    page = client.get("/login").get_data(as_text=True)
    assert "Switch account" in page and '<b class="current-account">alice</b>' in page
    assert "Continue as alice" in page and 'action="/logout"' in page
    assert client_login(client, "bob").status_code == 302
    assert signed_in_name(client) == "bob"
    assert signed_in_name(with_cookie(app, copy)) is None


def test_the_recheck_from_the_bokeh_server_still_goes_straight_back(app):
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    response = client.get(STANDALONE_NEXT)
    assert response.status_code == 302 and response.headers["Location"] == "/standalone/portfolio"


@pytest.mark.parametrize("path", ["/account", "/account/password"])
def test_the_account_pages_are_for_logged_in_visitors(client, path):
    assert client.get(path).headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/logout"), ("get", "/no-such-page"), ("get", "/apps/no-such-app"), ("post", "/s")],
)
def test_no_answer_refreshes_an_ended_logins_cookie_for_the_bokeh_server(app, method, path):
    """Refused requests (no CSRF token, 404) answer with a cookie too: it must not name the login."""
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    copy = cookie_of(app, client)
    assert post_form(client, "/logout", page="/").status_code == 302
    stolen = with_cookie(app, copy)
    response = getattr(stolen, method)(path)
    assert response.status_code in (400, 404)
    reader = SiteLoginReader(SiteLoginSettings(TEST_FLASK_SECRET, app.config["SESSION_COOKIE_NAME"], 3600, "http://x"))
    cookie = stolen.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is None or reader.visitor(cookie.value) is None
