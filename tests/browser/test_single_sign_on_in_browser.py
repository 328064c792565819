"""Single sign-on in Chromium: the provider's own login page, back to the private app, and the
login page's message when the provider is down."""

from __future__ import annotations

import pytest

from tests.support.bokeh_page import model_value, wait_for_canvas
from tests.support.oidc_provider import running_oidc_provider, sso_settings
from tests.support.servers import free_port, running_stack
from tests.support.site_accounts import PASSWORD, add_user
from web import create_app
from web.settings import database_url


@pytest.fixture(scope="module")
def provider_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def sso_stack(provider_port):
    with running_stack(**sso_settings(f"http://127.0.0.1:{provider_port}")) as stack:
        add_user(stack, "alice")
        yield stack


@pytest.fixture
def provider(sso_stack, provider_port):
    with running_oidc_provider(provider_port, f"{sso_stack.web_url}/login/sso/callback") as running:
        yield running


def roles_of(stack, name: str) -> tuple[str, ...] | None:
    from web.accounts.users import find_user

    with create_app({"SQLALCHEMY_DATABASE_URI": database_url(stack.env)}).app_context():
        user = find_user(name)
        return None if user is None else user.roles


def sign_in_at_provider(page, provider, login: str) -> None:
    page.click("a.sso-login")
    page.wait_for_url(f"{provider.issuer}/**")
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', "any password")
    page.click('button[type="submit"]')


def test_sso_login_comes_back_to_the_private_app_which_greets_the_new_account(sso_stack, provider, page):
    assert roles_of(sso_stack, "grace") is None
    page.goto(f"{sso_stack.web_url}/apps/portfolio?days=120")
    assert page.url.startswith(f"{sso_stack.web_url}/login?next=")
    assert page.get_by_text("Log in with Test Provider").is_visible()
    sign_in_at_provider(page, provider, "grace")
    page.wait_for_url(f"{sso_stack.web_url}/apps/portfolio?days=120")
    wait_for_canvas(page)
    assert page.locator(".account-name").inner_text() == "grace"
    assert "Hello, grace." in model_value(page, "greeting", "model.text")
    assert roles_of(sso_stack, "grace") == ("analyst",), "created with the roles of the provider's claim"
    # The standalone app on the Bokeh server knows the same visitor.
    page.goto(f"{sso_stack.bokeh_url}/portfolio?days=30")
    wait_for_canvas(page)
    assert page.url == f"{sso_stack.bokeh_url}/portfolio?days=30"
    assert "Hello, grace." in model_value(page, "greeting", "model.text")


def test_with_the_provider_stopped_the_login_page_says_so_and_local_login_works(sso_stack, provider, page):
    provider.stop()
    page.goto(f"{sso_stack.web_url}/login?next=/apps/portfolio")
    page.click("a.sso-login")
    message = page.locator(".sso-error")
    assert "Logging in with Test Provider did not work: it could not be reached" in message.inner_text()
    assert page.url.startswith(f"{sso_stack.web_url}/login/sso")
    page.fill('input[name="name"]', "alice")
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login-form button[type="submit"]')
    page.wait_for_url(f"{sso_stack.web_url}/apps/portfolio")
    wait_for_canvas(page)
    assert "Hello, alice." in model_value(page, "greeting", "model.text")
