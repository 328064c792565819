"""An ended login is refused on the standalone private apps within two seconds, as an attacker
holding a copy of its cookie would find, for every way a login ends, and still after a restart.

The Bokeh processes look each login up in the site's database (``bkruntime.login_records``) with a
cache of ``LOGIN_CHECK_SECONDS``; nothing here waits for a fixed time: each check polls the
Bokeh server until it refuses the copy, or fails at the deadline.
"""

import copy
import os
import re
import time

import pytest
import requests
from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

from tests.integration.test_private_apps import standalone_token
from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder
from tests.support.bokeh_client import embedded_session
from tests.support.servers import PROJECT_ROOT, running_stack
from tests.support.site_accounts import PASSWORD, add_user, csrf_token, log_in, users_command

# An ended login must be refused everywhere within this long.
REFUSED_WITHIN_SECONDS = 2.0
NEW_PASSWORD = "a brand new passphrase"
# A private app for the role "finance" only, served beside the project's apps.
LEDGER_ENTRY = PLAIN_ENTRY.replace('name = "plain"', 'name = "plain"\npublic = false\nroles = ["finance"]')


@pytest.fixture(scope="module")
def revocation_stack(tmp_path_factory):
    folder = write_apps_folder(tmp_path_factory.mktemp("apps") / "ledger", LEDGER_ENTRY, PLAIN_APP)
    apps = os.pathsep.join([str(PROJECT_ROOT / "bkapps"), str(folder)])
    with running_stack(APERTURE_APPS=apps) as live:
        add_user(live, "root", "--admin")
        yield live


def holding(jar) -> requests.Session:
    """Another client holding a copy of ``jar``'s cookies."""
    session = requests.Session()
    session.cookies = copy.deepcopy(jar)
    return session


def standalone_status(cookies, stack, app: str = "portfolio", url: str | None = None) -> int:
    base = url or stack.bokeh_url
    return holding(cookies).get(f"{base}/{app}", allow_redirects=False, timeout=30).status_code


def refused_within(cookies, stack, refused_status: int = 302, app: str = "portfolio") -> None:
    """Wait until every Bokeh process (each on its own port) refuses ``cookies`` for ``app``; fails
    if one still opens it past the deadline."""
    started = time.monotonic()
    for url in stack.process_urls:
        while (status := standalone_status(cookies, stack, app, url)) != refused_status:
            assert status == 200, status
            elapsed = time.monotonic() - started
            assert elapsed < REFUSED_WITHIN_SECONDS, f"{url}/{app} opens for an ended login after {elapsed:.2f} s"


def post_form(session: requests.Session, page_url: str, action_url: str, **fields) -> requests.Response:
    """Post ``fields`` to ``action_url`` with the CSRF token of the page at ``page_url``."""
    token = csrf_token(session.get(page_url, timeout=30).text)
    return session.post(action_url, data={"csrf_token": token, **fields}, timeout=30)


def end_by_logout(stack, name, browser, _other):
    assert post_form(browser, stack.web_url, f"{stack.web_url}/logout").ok


def end_by_logging_out_everywhere(stack, name, _browser, other):
    assert post_form(other, f"{stack.web_url}/account", f"{stack.web_url}/account/logout-everywhere").ok


def end_by_an_admin(stack, name, _browser, _other):
    admin = log_in(stack.web_url, "root")
    page = admin.get(f"{stack.web_url}/admin", timeout=30).text
    row = re.search(rf'data-account="{name}".*?action="([^"]+/end-sessions)"', page, re.S)
    assert post_form(admin, f"{stack.web_url}/admin", stack.web_url + row.group(1)).ok


def end_by_the_command(stack, name, _browser, _other):
    users_command(stack, "log-out", name)


def end_by_a_password_change(stack, name, _browser, other):
    # Ends every other login: the one whose cookie was copied.
    fields = {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    url = f"{stack.web_url}/account/password"
    assert "password is changed" in post_form(other, url, url, **fields).text


def end_by_a_reset_link(stack, name, _browser, _other):
    link = users_command(stack, "reset-password", name).strip().splitlines()[-1]
    fields = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert post_form(requests.Session(), link, link, **fields).ok


def end_by_deleting_the_account(stack, name, _browser, _other):
    users_command(stack, "delete", name, "--yes")


@pytest.mark.parametrize(
    "end_login",
    [
        end_by_logout,
        end_by_logging_out_everywhere,
        end_by_an_admin,
        end_by_the_command,
        end_by_a_password_change,
        end_by_a_reset_link,
        end_by_deleting_the_account,
    ],
)
def test_a_copy_of_an_ended_logins_cookie_opens_no_standalone_private_app(revocation_stack, end_login):
    stack = revocation_stack
    name = end_login.__name__.removeprefix("end_by_").replace("_", "-")[:30]
    add_user(stack, name)
    browser, other = log_in(stack.web_url, name), log_in(stack.web_url, name)
    assert standalone_status(browser.cookies, stack) == 200
    stolen = copy.deepcopy(browser.cookies)
    end_login(stack, name, browser, other)
    refused_within(stolen, stack)
    landed = holding(stolen).get(f"{stack.bokeh_url}/portfolio", timeout=30)
    assert landed.url.startswith(f"{stack.web_url}/login") and 'name="password"' in landed.text


def test_a_removed_role_closes_its_app_within_seconds_and_leaves_the_others(revocation_stack):
    stack = revocation_stack
    add_user(stack, "fin", "--role", "finance")
    browser = log_in(stack.web_url, "fin")
    assert standalone_status(browser.cookies, stack, "plain") == 200
    users_command(stack, "set-roles", "fin")
    refused_within(browser.cookies, stack, refused_status=403, app="plain")
    assert standalone_status(browser.cookies, stack, "portfolio") == 200, "still logged in: other apps stay open"


def test_an_ended_login_stays_refused_after_a_restart_and_an_open_one_still_opens(revocation_stack):
    stack = revocation_stack
    add_user(stack, "restarted")
    ended, kept = log_in(stack.web_url, "restarted"), log_in(stack.web_url, "restarted")
    stolen = copy.deepcopy(ended.cookies)
    assert post_form(ended, stack.web_url, f"{stack.web_url}/logout").ok
    refused_within(stolen, stack)
    stack.restart_bokeh()
    stack.restart_web()
    assert standalone_status(stolen, stack) == 302
    assert standalone_status(kept.cookies, stack) == 200


def opened_websocket(url: str, token: str, loop: IOLoop):
    """A websocket to a Bokeh app opened as BokehJS opens it (the token as subprotocol), its first
    message (Bokeh's ACK) read."""

    async def open_it():
        connection = await websocket_connect(url, subprotocols=["bokeh", token])
        assert await connection.read_message() is not None, "refused"
        return connection

    return loop.run_sync(open_it, timeout=30)


def close_code_within(connection, loop: IOLoop, seconds: float) -> int | None:
    """The close code of ``connection`` once the server closes it; fails if it is still open then."""

    async def until_closed():
        while await connection.read_message() is not None:
            pass
        return connection.close_code

    return loop.run_sync(until_closed, timeout=seconds)


@pytest.mark.parametrize("opened_from", ["site page", "standalone page"])
def test_an_open_websocket_of_a_private_app_closes_when_its_login_ends(revocation_stack, opened_from):
    stack = revocation_stack
    name = f"socket-{opened_from.split()[0]}"
    add_user(stack, name)
    browser = log_in(stack.web_url, name)
    if opened_from == "site page":
        embed = embedded_session(browser.get(f"{stack.web_url}/apps/portfolio", timeout=30).text)
        token, url = embed.token, embed.websocket_url
    else:
        token = standalone_token(browser.get(f"{stack.bokeh_url}/portfolio", timeout=30).text)
        url = f"{stack.bokeh_url.replace('http', 'ws')}/portfolio/ws"
    loop = IOLoop(make_current=False)
    try:
        connection = opened_websocket(url, token, loop)
        assert post_form(browser, stack.web_url, f"{stack.web_url}/logout").ok
        assert close_code_within(connection, loop, REFUSED_WITHIN_SECONDS) == 4001
        # And the page's token opens nothing any more.
        with pytest.raises(Exception, match="403"):
            opened_websocket(url, token, loop)
    finally:
        loop.close(all_fds=True)
