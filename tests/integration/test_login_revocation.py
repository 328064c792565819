"""Revocation reaches the standalone apps in real time: with a short ``STANDALONE_LOGIN_RECHECK_SECONDS``,
a copy of a logged-out cookie stops opening a private app on the Bokeh server once that time has
passed, while a login still open keeps it (through the site, which refreshes its cookie)."""

import copy
import time

import pytest
import requests

from tests.support.servers import running_stack
from tests.support.site_accounts import add_user, csrf_token, log_in

RECHECK_SECONDS = 10
DEADLINE_SECONDS = 120
POLL_SECONDS = 0.5


@pytest.fixture(scope="module")
def quick_recheck_stack():
    with running_stack(processes=1, STANDALONE_LOGIN_RECHECK_SECONDS=str(RECHECK_SECONDS)) as live:
        yield live


def holding(jar) -> requests.Session:
    """Another client holding a copy of ``jar``'s cookies."""
    session = requests.Session()
    session.cookies = copy.deepcopy(jar)
    return session


def standalone_status(session: requests.Session, stack) -> int:
    return session.get(f"{stack.bokeh_url}/portfolio", allow_redirects=False, timeout=30).status_code


def test_a_logged_out_cookie_stops_opening_standalone_apps_within_the_recheck(quick_recheck_stack):
    stack = quick_recheck_stack
    add_user(stack, "lena")
    browser, other_login = log_in(stack.web_url, "lena"), log_in(stack.web_url, "lena")
    assert standalone_status(browser, stack) == 200
    stolen = copy.deepcopy(browser.cookies)
    page = browser.get(stack.web_url, timeout=30).text
    assert browser.post(f"{stack.web_url}/logout", data={"csrf_token": csrf_token(page)}, timeout=30).ok
    assert "Logged in as" not in holding(stolen).get(stack.web_url, timeout=30).text, "the site refuses it at once"

    # Nor does the site re-sign it with the login still in it, even in a refused answer.
    attacker = holding(stolen)
    assert attacker.post(f"{stack.web_url}/logout", timeout=30).status_code == 400
    assert standalone_status(attacker, stack) == 302

    # The Bokeh server, which has no database, refuses the copy once it is older than the recheck.
    deadline = time.monotonic() + DEADLINE_SECONDS
    while standalone_status(holding(stolen), stack) != 302:
        assert time.monotonic() < deadline, "the Bokeh server still opens the app for a logged-out cookie"
        time.sleep(POLL_SECONDS)
    landed = holding(stolen).get(f"{stack.bokeh_url}/portfolio", timeout=30)
    assert landed.url.startswith(f"{stack.web_url}/login") and 'name="password"' in landed.text
    # The other login, as old by now, still opens the app: through the site and straight back.
    reopened = other_login.get(f"{stack.bokeh_url}/portfolio", timeout=30)
    assert reopened.status_code == 200 and reopened.url == f"{stack.bokeh_url}/portfolio"
