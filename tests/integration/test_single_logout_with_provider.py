"""Single logout with a real OpenID Connect provider (oidc-provider with RP-initiated and back-channel
logout): the site's "Log out" ends the provider's session too, a logout at the provider ends the
site's login on the site and on the apps, and a forged logout token ends nothing."""

from __future__ import annotations

import copy
import time
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from joserfc.util import json_b64encode

from tests.support.oidc_provider import (
    CLIENT_ID,
    confirm_logout_at_provider,
    running_oidc_provider,
    sign_in,
    sso_settings,
)
from tests.support.servers import free_port, running_stack
from tests.support.site_accounts import csrf_token

pytestmark = pytest.mark.integration

# An ended login must be refused everywhere within this long.
REFUSED_WITHIN_SECONDS = 2.0
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture(scope="module")
def provider_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def sso_stack(provider_port):
    with running_stack(**sso_settings(f"http://127.0.0.1:{provider_port}")) as stack:
        yield stack


@pytest.fixture(scope="module")
def provider(sso_stack, provider_port):
    with running_oidc_provider(provider_port, f"{sso_stack.web_url}/login/sso/callback") as running:
        yield running


def logged_in_as(session_or_jar, stack) -> bool:
    session = session_or_jar if isinstance(session_or_jar, requests.Session) else holding(session_or_jar)
    return "Logged in as" in session.get(stack.web_url, timeout=30).text


def holding(jar) -> requests.Session:
    session = requests.Session()
    session.cookies = copy.deepcopy(jar)
    return session


def site_cookies(session: requests.Session, stack):
    """A copy of ``session``'s cookies of the site only (an attacker's copy of the login cookie)."""
    jar = requests.cookies.RequestsCookieJar()
    for cookie in session.cookies:
        if cookie.name == "aperture_session":
            jar.set_cookie(copy.copy(cookie))
    return jar


def refused_everywhere_within(jar, stack) -> None:
    """Wait until the site and every Bokeh process refuse ``jar``'s login; fail past the deadline."""
    started = time.monotonic()
    while logged_in_as(jar, stack):
        assert time.monotonic() - started < REFUSED_WITHIN_SECONDS, "the site still takes the login"
    for url in stack.process_urls:
        while (status := holding(jar).get(f"{url}/portfolio", allow_redirects=False, timeout=30).status_code) != 302:
            assert status == 200, status
            assert time.monotonic() - started < REFUSED_WITHIN_SECONDS, f"{url} still opens the app"


def test_log_out_ends_the_providers_session_and_comes_back_to_the_site(sso_stack, provider):
    browser = requests.Session()
    sign_in(browser, sso_stack.web_url, "grace")
    stolen = site_cookies(browser, sso_stack)
    page = browser.get(sso_stack.web_url, timeout=30).text
    at_provider = browser.post(f"{sso_stack.web_url}/logout", data={"csrf_token": csrf_token(page)}, timeout=30)
    # The site ended its login and sent the browser to the provider's logout, with the ID token.
    assert at_provider.url.startswith(f"{provider.issuer}/session/end")
    back = confirm_logout_at_provider(browser, at_provider)
    assert back.url == f"{sso_stack.web_url}/"
    assert "Logged in as" not in back.text
    refused_everywhere_within(stolen, sso_stack)
    # Logging in with the provider asks who you are again (its session ended too).
    login_page = browser.get(f"{sso_stack.web_url}/login/sso", timeout=30)
    assert 'name="login"' in login_page.text


def test_a_logout_at_the_provider_ends_the_sites_login_on_the_site_and_the_apps(sso_stack, provider):
    browser = requests.Session()
    sign_in(browser, sso_stack.web_url, "grace")
    other = requests.Session()
    sign_in(other, sso_stack.web_url, "root")
    stolen = site_cookies(browser, sso_stack)
    assert holding(stolen).get(f"{sso_stack.bokeh_url}/portfolio", allow_redirects=False, timeout=30).ok
    # The person logs out at the provider itself: it tells the site by back-channel.
    confirm_logout_at_provider(browser, browser.get(f"{provider.issuer}/session/end", timeout=30))
    refused_everywhere_within(stolen, sso_stack)
    assert logged_in_as(other, sso_stack), "another person's login stays"


def forged_logout_token(provider, claims: dict) -> str:
    """A logout token signed with a key of its own, not the provider's, under the provider's key id."""
    provider_keys = requests.get(f"{provider.issuer}/jwks", timeout=30).json()["keys"]
    header = {"alg": "RS256", "kid": provider_keys[0].get("kid", "")}
    return jwt.encode(header, claims, RSAKey.generate_key(2048))


def unsigned_token(claims: dict) -> str:
    return ".".join([json_b64encode({"alg": "none"}).decode(), json_b64encode(claims).decode(), ""])


def test_a_forged_or_malformed_logout_token_is_refused_and_ends_nothing(sso_stack, provider):
    browser = requests.Session()
    sign_in(browser, sso_stack.web_url, "grace")
    claims = {
        "iss": provider.issuer,
        "aud": CLIENT_ID,
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "sub": "5e1f0a7c-grace",
        "events": {LOGOUT_EVENT: {}},
    }
    endpoint = f"{sso_stack.web_url}/login/sso/backchannel-logout"
    attempts = {
        "signed by another key": forged_logout_token(provider, claims),
        "signed with a shared secret": jwt.encode({"alg": "HS256"}, claims, OctKey.import_key("s" * 32)),
        "unsigned": unsigned_token(claims),
        "not a token": "garbage",
        "missing": "",
    }
    for what, token in attempts.items():
        answer = requests.post(endpoint, data={"logout_token": token}, timeout=30)
        assert answer.status_code == 400, what
        assert answer.json()["error"] == "invalid_request", what
        assert answer.headers["Cache-Control"] == "no-store"
    assert logged_in_as(browser, sso_stack), "the login is still open"
    assert browser.get(f"{sso_stack.bokeh_url}/portfolio", allow_redirects=False, timeout=30).status_code == 200
