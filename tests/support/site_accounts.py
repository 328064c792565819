"""Accounts and logins on a running stack, as an administrator and a visitor would make them.

``add_user`` runs the real ``flask --app web users create`` command (``users_command`` any other
``users`` command), in process through Flask's CLI runner, against the stack's database;
``log_in`` posts the login form with its CSRF token like a browser, and returns the ``requests``
session that now holds the login cookie.
"""

from __future__ import annotations

import re
import time
from unittest import mock

import requests
from itsdangerous import TimestampSigner

from aperture.site_login import session_serializer
from tests.support.servers import TEST_FLASK_SECRET, Stack
from web import create_app
from web.settings import database_url

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def users_command(stack: Stack, *args: str, answers: str = "", **config: object) -> str:
    """``flask --app web users ARGS`` against the stack's database (asserts it succeeded); its output.

    ``config`` overrides settings of the command (``PASSWORD_RESET_TTL_SECONDS=...``)."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_url(stack.env),
        "DATABASE_AUTO_UPGRADE": True,
        "SITE_PUBLIC_URL": stack.env["SITE_PUBLIC_URL"],
    }
    app = create_app({**settings, **config})
    result = app.test_cli_runner().invoke(args=["users", *args], input=answers)
    assert result.exit_code == 0, result.output
    return result.output


def add_user(stack: Stack, name: str, *options: str, password: str = PASSWORD) -> None:
    users_command(stack, "create", name, *options, answers=f"{password}\n{password}\n")


def csrf_token(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(web_url: str, name: str, password: str = PASSWORD, next_path: str = "") -> requests.Session:
    """A session logged in as ``name`` (asserts the login worked)."""
    session = requests.Session()
    response = post_login(session, web_url, name, password, next_path)
    assert response.status_code == 302, response.text[:500]
    return session


def post_login(
    session: requests.Session, web_url: str, name: str, password: str, next_path: str = ""
) -> requests.Response:
    """Post the login form once, as a browser would; the answer is not followed."""
    form = session.get(f"{web_url}/login", timeout=30)
    fields = {"csrf_token": csrf_token(form.text), "name": name, "password": password, "next": next_path}
    return session.post(f"{web_url}/login", data=fields, allow_redirects=False, timeout=30)


def create_account(app, name: str, *roles: str, password: str = PASSWORD) -> None:
    """An account in a test app's database (what ``users create`` does, without the prompt)."""
    from web.accounts.users import create_user

    with app.app_context():
        create_user(name, password, roles)


def client_login(client, name: str, password: str = PASSWORD, next_path: str = ""):
    """Post the login form with the Flask test client, CSRF token included; the answer is not followed.

    A client already logged in is sent on from the login page; the CSRF token of the page it
    lands on (its logout form's) serves as well, as the token belongs to the session."""
    form = client.get("/login", follow_redirects=True).get_data(as_text=True)
    fields = {"csrf_token": csrf_token(form), "name": name, "password": password, "next": next_path}
    return client.post("/login", data=fields)


def logged_in_client(app, name: str, password: str = PASSWORD):
    """A test client of ``app`` logged in as ``name`` (asserts the login worked)."""
    client = app.test_client()
    assert client_login(client, name, password).status_code == 302
    return client


def signed_in_name(client) -> str | None:
    """The account the site's header names for ``client``, or None when it shows no login."""
    page = client.get("/").get_data(as_text=True)
    marker = '<b class="account-name">'
    return page.split(marker, 1)[1].split("<", 1)[0] if marker in page else None


def aged_cookie(cookie_value: str, seconds: int) -> str:
    """The site's login cookie with the same contents, as the site would have signed it ``seconds`` ago
    (what a copy looks like to the Bokeh server once that long has passed)."""
    serializer = session_serializer(TEST_FLASK_SECRET)
    contents = serializer.loads(cookie_value)
    with mock.patch.object(TimestampSigner, "get_timestamp", return_value=int(time.time()) - seconds):
        return serializer.dumps(contents)
