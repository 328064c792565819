"""Single sign-on against a real OpenID Connect provider (oidc-provider on Node.js), with the site
and the Bokeh server running as the Procfile starts them."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.support.oidc_provider import running_oidc_provider, sign_in, sso_settings
from tests.support.servers import free_port, running_stack
from tests.support.site_accounts import add_user, log_in, post_login
from web import create_app
from web.settings import database_url

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def provider_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def sso_stack(provider_port):
    """The site with single sign-on at the test provider (which runs only while a test has it)."""
    with running_stack(**sso_settings(f"http://127.0.0.1:{provider_port}")) as stack:
        add_user(stack, "ada", "--admin")
        yield stack


@pytest.fixture
def provider(sso_stack, provider_port):
    with running_oidc_provider(provider_port, f"{sso_stack.web_url}/login/sso/callback") as running:
        yield running


def account(stack, name: str):
    """(roles, linked to a provider, has a password) of account ``name``, read from the database."""
    from web.accounts.users import find_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(stack.env)})
    with app.app_context():
        user = find_user(name)
        return None if user is None else (user.roles, user.oidc_subject, bool(user.password_hash))


def audit_entries(stack, name: str) -> list[tuple[str, str]]:
    """(kind, actor) of the audit entries about account ``name``."""
    from web.accounts.audit import events

    with create_app({"SQLALCHEMY_DATABASE_URI": database_url(stack.env)}).app_context():
        return [(event.kind, event.actor) for event in events(person=name)]


def set_roles(stack, name: str, *roles: str) -> None:
    from web.accounts.users import find_user
    from web.database import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(stack.env)})
    with app.app_context():
        find_user(name).roles = roles
        db.session.commit()


def test_the_first_login_creates_the_account_with_the_providers_roles(sso_stack, provider):
    session = requests.Session()
    login_page = session.get(f"{sso_stack.web_url}/login", timeout=30).text
    assert "Log in with Test Provider" in login_page
    landed = sign_in(session, sso_stack.web_url, "grace", next_path="/apps/portfolio?days=90")
    assert landed.status_code == 200
    assert landed.url == f"{sso_stack.web_url}/apps/portfolio?days=90"
    assert '<b class="account-name">grace</b>' in landed.text
    assert account(sso_stack, "grace") == (("analyst",), "5e1f0a7c-grace", False)
    assert ("account_created", "single sign-on") in audit_entries(sso_stack, "grace")
    assert ("single_sign_on_login", "grace") in audit_entries(sso_stack, "grace")
    # The standalone private app on the Bokeh server reads the same login.
    standalone = session.get(f"{sso_stack.bokeh_url}/portfolio", allow_redirects=False, timeout=30)
    assert standalone.status_code == 200


def test_the_next_login_finds_the_account_by_subject_and_applies_the_roles_again(sso_stack, provider):
    sign_in(requests.Session(), sso_stack.web_url, "grace")
    set_roles(sso_stack, "grace", "admin")
    landed = sign_in(requests.Session(), sso_stack.web_url, "grace")
    assert landed.url == f"{sso_stack.web_url}/"
    assert '<b class="account-name">grace</b>' in landed.text
    assert account(sso_stack, "grace") == (("analyst",), "5e1f0a7c-grace", False), "the provider's roles again"
    assert account(sso_stack, "grace-2") is None, "the same person, the same account"


def test_a_providers_user_never_takes_over_a_local_account_of_the_same_name(sso_stack, provider):
    session = requests.Session()
    landed = sign_in(session, sso_stack.web_url, "root")
    # preferred_username "Ada": the local admin "ada" exists, so the new account is "ada-2",
    # an admin only because the provider says so; an invalid role name is left out.
    assert '<b class="account-name">ada-2</b> (admin)' in landed.text
    assert account(sso_stack, "ada-2") == (("admin",), "0b9d-root", False)
    assert account(sso_stack, "ada")[1:] == (None, True)


def test_an_account_without_a_name_claim_is_named_after_its_subject(sso_stack, provider):
    landed = sign_in(requests.Session(), sso_stack.web_url, "nameless")
    assert '<b class="account-name">7c3a-nameless</b>' in landed.text


def test_an_sso_account_has_no_password_that_opens_it(sso_stack, provider):
    sign_in(requests.Session(), sso_stack.web_url, "grace")
    for password in ("", "any password", "!"):
        response = post_login(requests.Session(), sso_stack.web_url, "grace", password or "x")
        assert response.status_code == 200 and "Wrong name or password." in response.text


def test_with_the_provider_down_the_login_page_says_so_and_passwords_still_work(sso_stack):
    session = requests.Session()
    answer = session.get(f"{sso_stack.web_url}/login/sso", params={"next": "/apps/portfolio"}, timeout=30)
    assert answer.status_code == 503
    assert "Logging in with Test Provider did not work: it could not be reached (ConnectionError)" in answer.text
    assert "or log in with your name and password." in answer.text
    assert 'name="password"' in answer.text
    local = log_in(sso_stack.web_url, "ada", next_path="/apps/portfolio")
    page = local.get(f"{sso_stack.web_url}/apps/portfolio", timeout=30)
    assert page.status_code == 200 and '<b class="account-name">ada</b>' in page.text


def test_a_misconfigured_issuer_is_named_on_the_login_page(sso_stack, provider, provider_port, app):
    """The provider answers, but calls itself otherwise than the site's OIDC_ISSUER."""
    wrong = create_app({**app.config, **sso_settings(f"http://localhost:{provider_port}"), "OIDC_TIMEOUT": 5.0})
    answer = wrong.test_client().get("/login/sso")
    assert answer.status_code == 503
    assert (
        f"it calls itself &#39;{provider.issuer}&#39;, not &#39;http://localhost:{provider_port}&#39; (OIDC_ISSUER)"
        in answer.get_data(as_text=True)
    )


def test_a_provider_user_recreated_under_the_same_name_gets_a_new_account(sso_stack, provider):
    """The provider deleted grace and made a new user called grace (a new ``sub``): not the old account."""
    sign_in(requests.Session(), sso_stack.web_url, "grace")
    landed = sign_in(requests.Session(), sso_stack.web_url, "grace-recreated")
    assert '<b class="account-name">grace-2</b>' in landed.text
    assert account(sso_stack, "grace-2") == ((), "a41c-grace-recreated", False)
    assert account(sso_stack, "grace")[:2] == (("analyst",), "5e1f0a7c-grace"), "the old account is untouched"


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/", "/\\evil.example", "javascript:alert(1)", "https://evil.example/", "/%0a/evil.example"],
)
def test_next_never_leads_off_the_site_through_the_providers_round_trip(sso_stack, provider, next_path):
    landed = sign_in(requests.Session(), sso_stack.web_url, "grace", next_path=next_path)
    assert landed.status_code in (200, 404)
    assert landed.url.startswith(f"{sso_stack.web_url}/"), landed.url
    assert urlsplit(landed.url).netloc == urlsplit(sso_stack.web_url).netloc


def test_the_provider_sends_visitors_back_to_site_public_url_and_another_address_is_told_so(sso_stack, provider):
    """Started on http://localhost:<port> while SITE_PUBLIC_URL is http://127.0.0.1:<port>: the
    provider sends the visitor back to the one registered address, whose cookie is not this one."""
    other_address = sso_stack.web_url.replace("127.0.0.1", "localhost")
    landed = sign_in(requests.Session(), other_address, "grace")
    assert landed.url.startswith(f"{sso_stack.web_url}/login/sso/callback?")
    assert landed.status_code == 400
    assert "this browser did not start that login here" in landed.text
    assert f"open the site at {sso_stack.web_url} and log in again" in landed.text
