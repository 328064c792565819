"""Open pages of private apps when their login ends or loses the app, in a real browser: the app's
websocket is closed by the Bokeh server and the page says why, and what the visitor may still open."""

import os

import pytest

from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder
from tests.support.bokeh_page import wait_for_model
from tests.support.servers import PROJECT_ROOT, running_stack
from tests.support.site_accounts import PASSWORD, add_user, users_command

# A private app for the role "finance" only, served beside the project's apps.
LEDGER_ENTRY = PLAIN_ENTRY.replace('name = "plain"', 'name = "plain"\npublic = false\nroles = ["finance"]')


@pytest.fixture(scope="module")
def roles_stack(tmp_path_factory):
    folder = write_apps_folder(tmp_path_factory.mktemp("apps") / "ledger", LEDGER_ENTRY, PLAIN_APP)
    with running_stack(APERTURE_APPS=os.pathsep.join([str(PROJECT_ROOT / "bkapps"), str(folder)])) as live:
        yield live


def open_app_logged_in(page, stack, name: str, app: str) -> None:
    page.goto(f"{stack.web_url}/login?next=/apps/{app}")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login-form button[type="submit"]')
    page.wait_for_url(f"{stack.web_url}/apps/{app}")


def test_a_removed_role_closes_its_open_app_and_says_what_stays_open(roles_stack, page):
    add_user(roles_stack, "fin", "--role", "finance")
    open_app_logged_in(page, roles_stack, "fin", "plain")
    wait_for_model(page, "add_point")
    users_command(roles_stack, "set-roles", "fin")
    notice = page.locator('.live-session-notice[data-state="ended"]')
    notice.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.live-session-notice[data-state=\"ended\"]').textContent.includes('still open')"
    )
    text = notice.inner_text()
    assert "Your account may no longer open this app" in text
    # Still logged in: the private Portfolio stays open to the account, Plain does not.
    assert "Portfolio" in text and "Plain" not in text.split("still open:")[1]


def test_an_admin_ending_the_logins_closes_an_open_private_app(roles_stack, page):
    add_user(roles_stack, "ended")
    open_app_logged_in(page, roles_stack, "ended", "portfolio")
    wait_for_model(page, "greeting")
    users_command(roles_stack, "log-out", "ended")
    notice = page.locator('.live-session-notice[data-state="ended"]')
    notice.wait_for()
    assert "Your login has ended" in notice.inner_text()
    assert notice.get_by_role("button", name="Reload the page").is_visible()
