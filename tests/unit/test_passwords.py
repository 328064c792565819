"""Changing a password, and one-time reset links printed by ``users reset-password``."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.support.site_accounts import (
    PASSWORD,
    client_login,
    create_account,
    csrf_token,
    logged_in_client,
    signed_in_name,
)
from web.database import db
from web.models import PasswordReset, User, utcnow

NEW_PASSWORD = "a much newer passphrase"
_LINK = re.compile(r"http://\S+/reset-password/(\S+)")


def change(client, current: str, new: str, confirm: str | None = None):
    token = csrf_token(client.get("/account/password").get_data(as_text=True))
    fields = {"csrf_token": token, "current": current, "password": new, "confirm": new if confirm is None else confirm}
    return client.post("/account/password", data=fields)


def reset_link(app, name: str) -> str:
    """Run ``users reset-password NAME``; the path of the link it prints."""
    result = app.test_cli_runner().invoke(args=["users", "reset-password", name])
    assert result.exit_code == 0, result.output
    match = _LINK.search(result.output)
    assert match, result.output
    return f"/reset-password/{match.group(1)}"


def set_by_link(client, path: str, password: str = NEW_PASSWORD):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": password})


def test_a_password_change_keeps_this_login_and_ends_the_others(app):
    create_account(app, "alice")
    laptop, phone = logged_in_client(app, "alice"), logged_in_client(app, "alice")
    response = change(laptop, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "1 other login session(s) ended" in laptop.get("/account").get_data(as_text=True)
    assert signed_in_name(laptop) == "alice"
    assert signed_in_name(phone) is None
    assert client_login(app.test_client(), "alice").status_code == 200, "the old password no longer works"
    assert client_login(app.test_client(), "alice", password=NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("not the password", NEW_PASSWORD, None, "The current password is wrong."),
        (PASSWORD, "short", None, "The password must have at least 8 characters."),
        (PASSWORD, NEW_PASSWORD, "something else", "The two new passwords differ."),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(app, current, new, confirm, message):
    create_account(app, "alice")
    laptop, phone = logged_in_client(app, "alice"), logged_in_client(app, "alice")
    response = change(laptop, current, new, confirm)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert signed_in_name(phone) == "alice"
    assert client_login(app.test_client(), "alice").status_code == 302


def test_the_minimum_length_is_a_setting_applied_to_the_change_form(app):
    app.config["MIN_PASSWORD_LENGTH"] = 30
    create_account(app, "alice", password="a" * 30)
    client = logged_in_client(app, "alice", password="a" * 30)
    response = change(client, "a" * 30, NEW_PASSWORD)
    assert "at least 30 characters" in response.get_data(as_text=True)


def test_guessing_the_current_password_is_rate_limited(app):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    create_account(app, "alice")
    client = logged_in_client(app, "alice")
    statuses = [change(client, "guess number one", NEW_PASSWORD).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_reset_link_sets_the_password_once_and_ends_every_login(app):
    create_account(app, "alice")
    laptop = logged_in_client(app, "alice")
    path = reset_link(app, "alice")
    visitor = app.test_client()
    page = visitor.get(path)
    assert "For the account <b>alice</b>" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    response = set_by_link(visitor, path)
    assert response.headers["Location"] == "/login"
    assert "The password of alice is set" in visitor.get("/login").get_data(as_text=True)
    assert signed_in_name(laptop) is None
    assert client_login(app.test_client(), "alice", password=NEW_PASSWORD).status_code == 302
    again = app.test_client().get(path)
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)


def test_a_reset_link_past_its_time_is_refused(app):
    create_account(app, "alice")
    path = reset_link(app, "alice")
    with app.app_context():
        db.session.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = app.test_client().get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert client_login(app.test_client(), "alice").status_code == 302, "the old password still works"


def test_a_newer_link_replaces_the_older_one_and_unknown_links_are_404(app):
    create_account(app, "alice")
    first, second = reset_link(app, "alice"), reset_link(app, "alice")
    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200
    assert app.test_client().get("/reset-password/" + "x" * 43).status_code == 404
    assert app.test_client().get("/reset-password/not*a*token").status_code == 404


def test_a_reset_link_applies_the_minimum_length(app):
    create_account(app, "alice")
    path = reset_link(app, "alice")
    response = set_by_link(app.test_client(), path, password="short")
    assert response.status_code == 200
    assert "at least 8 characters" in response.get_data(as_text=True)
    assert app.test_client().get(path).status_code == 200, "a refused password does not use the link up"


def test_the_reset_links_lifetime_is_a_setting(app):
    app.config["PASSWORD_RESET_TTL_SECONDS"] = 1800
    create_account(app, "alice")
    result = app.test_cli_runner().invoke(args=["users", "reset-password", "alice"])
    assert "within 0.5 hour(s)" in result.output
    assert result.output.splitlines()[-1].startswith(app.config["SITE_PUBLIC_URL"] + "/reset-password/")
    missing = app.test_cli_runner().invoke(args=["users", "reset-password", "nobody"])
    assert missing.exit_code != 0 and "no account called 'nobody'" in missing.output


def test_a_reset_link_made_before_a_password_change_no_longer_works(app):
    """The link went astray (or the person remembered their password): a new password retires it."""
    create_account(app, "alice")
    path = reset_link(app, "alice")
    laptop = logged_in_client(app, "alice")
    assert change(laptop, PASSWORD, NEW_PASSWORD).status_code == 302
    assert app.test_client().get(path).status_code == 404
    posted = app.test_client().post(path, data={"password": "an attackers choice", "confirm": "an attackers choice"})
    assert posted.status_code in (400, 404)
    assert client_login(app.test_client(), "alice", password=NEW_PASSWORD).status_code == 302


def sso_site(app, local_login: bool):
    from web import create_app

    sso = {"OIDC_ISSUER": "https://login.example.org", "OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b"}
    return create_app({**app.config, **sso, "OIDC_PROVIDER_NAME": "Staff Login", "LOCAL_LOGIN": local_login})


def without_password(app, name: str) -> None:
    """Make ``name`` an account like single sign-on makes: no password."""
    with app.app_context():
        db.session.execute(update(User).where(User.name == name).values(password_hash=None))
        db.session.commit()


def test_an_account_without_a_password_has_none_to_change(app):
    """A single sign-on account: no current password could ever be right, so the form is not offered."""
    site = sso_site(app, local_login=True)
    create_account(site, "grace")
    client = logged_in_client(site, "grace")
    without_password(site, "grace")
    overview = client.get("/account").get_data(as_text=True)
    assert "Your account logs in with Staff Login and has no password here." in overview
    assert 'href="/account/password"' not in overview
    refused = client.get("/account/password")
    assert refused.status_code == 403 and "has no password here" in refused.get_data(as_text=True)
    assert client.post("/account/password", data={"current": "x"}).status_code in (400, 403)


def test_with_passwords_switched_off_none_can_be_changed_or_reset(app):
    """LOCAL_LOGIN=false: a password account still logged in from before, and a link printed before."""
    create_account(app, "alice")
    path = reset_link(app, "alice")
    before = logged_in_client(app, "alice")
    site = sso_site(app, local_login=False)
    client = site.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], before.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    assert signed_in_name(client) == "alice"
    overview = client.get("/account").get_data(as_text=True)
    assert "Passwords are switched off on this site: people log in with Staff Login." in overview
    changed = client.get("/account/password")
    assert changed.status_code == 403 and "Passwords are switched off" in changed.get_data(as_text=True)
    reset = site.test_client().get(path)
    assert reset.status_code == 403 and "Passwords are switched off" in reset.get_data(as_text=True)
    printed = site.test_cli_runner().invoke(args=["users", "reset-password", "alice"])
    assert printed.exit_code == 1 and "a reset link would set a password nobody can use" in printed.output
