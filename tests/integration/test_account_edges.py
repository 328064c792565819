"""Accounts tried from outside where nobody looked: reset links that outlive a password or an account,
the CSRF token of every account form, a logout seen by the other gunicorn worker, and an admin
deleted while the admin page is open. Real servers, HTTP clients holding cookies like browsers."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest
import requests
from bokeh.util.token import get_token_payload

from aperture.session_token import USER_KEY
from tests.integration.test_private_apps import standalone_token
from tests.integration.test_shared_login_limits import client_on_each_worker
from tests.support.servers import running_stack
from tests.support.site_accounts import PASSWORD, add_user, csrf_token, log_in, post_login, users_command

pytestmark = pytest.mark.integration

NEW_PASSWORD = "another long passphrase"
_LINK = re.compile(r"(http://\S+/reset-password/\S+)")


def reset_link(stack, name: str) -> str:
    match = _LINK.search(users_command(stack, "reset-password", name))
    assert match
    return match.group(1)


def set_by_link(link: str, password: str) -> requests.Response:
    session = requests.Session()
    page = session.get(link, timeout=30)
    if page.status_code != 200:
        return page
    fields = {"csrf_token": csrf_token(page.text), "password": password, "confirm": password}
    return session.post(link, data=fields, allow_redirects=False, timeout=30)


def change_password(session: requests.Session, stack, current: str, new: str) -> requests.Response:
    page = session.get(f"{stack.web_url}/account/password", timeout=30).text
    fields = {"csrf_token": csrf_token(page), "current": current, "password": new, "confirm": new}
    return session.post(f"{stack.web_url}/account/password", data=fields, allow_redirects=False, timeout=30)


def test_a_reset_link_is_dead_once_the_password_was_changed_another_way(stack):
    add_user(stack, "edge-rita")
    link = reset_link(stack, "edge-rita")
    rita = log_in(stack.web_url, "edge-rita")
    assert change_password(rita, stack, PASSWORD, NEW_PASSWORD).status_code == 302
    assert set_by_link(link, "whoever holds the link").status_code == 404
    assert post_login(requests.Session(), stack.web_url, "edge-rita", NEW_PASSWORD).status_code == 302


def test_a_reset_link_of_a_deleted_account_does_not_open_the_next_one_of_that_name(stack):
    add_user(stack, "edge-erin")
    link = reset_link(stack, "edge-erin")
    users_command(stack, "delete", "edge-erin", "--yes")
    add_user(stack, "edge-erin", password=NEW_PASSWORD)
    assert set_by_link(link, "whoever holds the link").status_code == 404
    assert post_login(requests.Session(), stack.web_url, "edge-erin", NEW_PASSWORD).status_code == 302


def test_every_account_form_needs_its_csrf_token(stack):
    add_user(stack, "edge-adm", "--admin")
    add_user(stack, "edge-bo")
    link = reset_link(stack, "edge-bo")
    bo = log_in(stack.web_url, "edge-bo")
    admin = log_in(stack.web_url, "edge-adm")
    admin_page = admin.get(f"{stack.web_url}/admin", timeout=30).text
    end_bo = re.search(r'<tr data-account="edge-bo">.*?action="([^"]+)"', admin_page, re.S).group(1)
    forged = {
        bo: ["/account/logout-everywhere", "/account/password", "/logout"],
        admin: [end_bo],
        requests.Session(): [link.split(stack.web_url, 1)[1]],
    }
    for session, paths in forged.items():
        for path in paths:
            fields = {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
            answer = session.post(f"{stack.web_url}{path}", data=fields, allow_redirects=False, timeout=30)
            assert answer.status_code == 400 and "CSRF" in answer.text, path
    assert '<b class="account-name">edge-bo</b>' in bo.get(stack.web_url, timeout=30).text
    assert post_login(requests.Session(), stack.web_url, "edge-bo", PASSWORD).status_code == 302
    assert set_by_link(link, NEW_PASSWORD).status_code == 302, "the link was not used up"


def test_a_logout_on_one_worker_ends_the_login_on_the_other(stack):
    add_user(stack, "edge-wren")
    pinned = client_on_each_worker(stack)
    first, second = (pinned[pid] for pid in sorted(pinned))
    assert first.post_login("edge-wren", PASSWORD)[0] == 302
    second.cookie = first.cookie
    assert second.request("GET", "/account")[0] == 200, "the other worker knows the login"
    _, _, page = first.request("GET", "/")
    assert first.request("POST", "/logout", urlencode({"csrf_token": csrf_token(page)}))[0] == 302
    status, headers, _ = second.request("GET", "/account")
    assert status == 302 and headers["Location"].startswith("/login"), "the copy on the other worker is refused"


def test_an_admin_deleted_while_the_admin_page_is_open_gets_the_login_page(stack):
    add_user(stack, "edge-root", "--admin")
    add_user(stack, "edge-cy")
    admin = log_in(stack.web_url, "edge-root")
    page = admin.get(f"{stack.web_url}/admin", timeout=30).text
    end_cy = re.search(r'<tr data-account="edge-cy">.*?action="([^"]+)"', page, re.S).group(1)
    users_command(stack, "delete", "edge-root", "--yes")
    # The open page's button and its numbers' refresh, after the account is gone.
    clicked = admin.post(f"{stack.web_url}{end_cy}", data={"csrf_token": csrf_token(page)}, timeout=30)
    assert clicked.status_code == 200 and 'name="password"' in clicked.text and "Logged in as" not in clicked.text
    assert admin.get(f"{stack.web_url}/api/admin/stats", timeout=30).status_code == 403
    cy = log_in(stack.web_url, "edge-cy")
    assert '<b class="account-name">edge-cy</b>' in cy.get(stack.web_url, timeout=30).text


def test_a_login_outlives_a_restart_of_the_site_and_a_logout_after_it_still_ends_it():
    with running_stack(processes=1) as stack:
        add_user(stack, "edge-ida")
        browser = log_in(stack.web_url, "edge-ida")
        copy = requests.Session()
        copy.cookies.update(browser.cookies)
        stack.restart_web()
        page = browser.get(stack.web_url, timeout=30).text
        assert '<b class="account-name">edge-ida</b>' in page, "the login is kept in the database"
        assert browser.post(f"{stack.web_url}/logout", data={"csrf_token": csrf_token(page)}, timeout=30).ok
        assert "Logged in as" not in copy.get(stack.web_url, timeout=30).text


def standalone_roles(session: requests.Session, stack) -> list[str]:
    """The roles the Bokeh server gives the visitor of a standalone private app (its session token)."""
    landed = session.get(f"{stack.bokeh_url}/portfolio", timeout=30)
    assert landed.url == f"{stack.bokeh_url}/portfolio", landed.url
    return get_token_payload(standalone_token(landed.text))[USER_KEY]["roles"]


def test_new_roles_reach_the_standalone_apps_within_seconds(stack):
    add_user(stack, "edge-rolf", "--admin")
    browser = log_in(stack.web_url, "edge-rolf")
    assert standalone_roles(browser, stack) == ["admin"]
    users_command(stack, "set-roles", "edge-rolf", "ops")
    # The Bokeh server reads the account's roles from the site's database (cached for
    # LOGIN_CHECK_SECONDS), whatever the cookie still says.
    deadline = time.monotonic() + 2.0
    while (roles := standalone_roles(browser, stack)) != ["ops"]:
        assert roles == ["admin"] and time.monotonic() < deadline, roles
