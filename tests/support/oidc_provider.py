"""A real OpenID Connect provider for the single sign-on tests: the npm package ``oidc-provider``
(``tests/oidc/``, installed by ``npm ci`` from ``make test`` and ``.ci/run``), run by Node.js on a
loopback port with one client (``CLIENT_ID``/``CLIENT_SECRET``) and the users of
``tests/oidc/users.json``, whose built-in development login page takes any password.

Without Node.js or the installed package the tests skip with the reason locally and fail under
CI (``CI=true``). ``sign_in`` drives that login page as a browser would, without one.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest
import requests

from tests.support.servers import PROJECT_ROOT, ServerProcess

PROVIDER_DIR = PROJECT_ROOT / "tests" / "oidc"
CLIENT_ID = "aperture-test"
CLIENT_SECRET = "aperture-test-client-secret-0123456789"
_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def require_provider() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        reason = "node not found: install Debian's nodejs package (apt-get install nodejs npm)"
    elif not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        reason = "oidc-provider is not installed: run `npm ci --prefix tests/oidc` (make test does)"
    else:
        return node
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class OidcProvider:
    process: ServerProcess
    issuer: str

    def stop(self) -> None:
        self.process.stop()


@contextmanager
def running_oidc_provider(port: int, redirect_uri: str) -> Iterator[OidcProvider]:
    """The provider at ``http://127.0.0.1:<port>``, accepting ``redirect_uri`` (the site's callback);
    its logouts return to the site's gallery and reach the site's back-channel logout; always stopped."""
    site = redirect_uri.split("/login/sso/callback")[0]
    node = require_provider()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URI": redirect_uri,
        "POST_LOGOUT_REDIRECT_URI": f"{site}/",
        "BACKCHANNEL_LOGOUT_URI": f"{site}/login/sso/backchannel-logout",
    }
    argv = [node, str(PROVIDER_DIR / "provider.js")]
    process = ServerProcess("oidc-provider", argv, env, f"{issuer}/.well-known/openid-configuration")
    try:
        process.wait_ready()
        yield OidcProvider(process, issuer)
    finally:
        process.stop()


def sso_settings(issuer: str, **overrides: str) -> dict[str, str]:
    """The site's settings for the test provider (roles from its ``groups`` claim)."""
    return {
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": "Test Provider",
        "OIDC_SCOPES": "openid profile email groups",
        "OIDC_ROLES_CLAIM": "groups",
        **overrides,
    }


def confirm_logout_at_provider(session: requests.Session, page: requests.Response) -> requests.Response:
    """Answer the provider's "Do you want to sign-out?" page with yes, following every redirect."""
    assert page.status_code == 200 and 'id="op.logoutForm"' in page.text, page.text[:2000]
    action = urljoin(page.url, re.search(r'<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"', page.text).group(1))
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text).group(1)
    return session.post(action, data={"xsrf": xsrf, "logout": "yes"}, timeout=30)


def sign_in(session: requests.Session, web_url: str, login: str, next_path: str = "") -> requests.Response:
    """Log in with the provider as ``login`` (its development login page), following every
    redirect back to the site; the last answer."""
    params = {"next": next_path} if next_path else {}
    page = session.get(f"{web_url}/login/sso", params=params, timeout=30)
    assert page.status_code == 200 and 'name="login"' in page.text, page.text[:2000]
    action = urljoin(page.url, _FORM_ACTION.search(page.text).group(1))
    fields = {"prompt": "login", "login": login, "password": "any password"}
    return session.post(action, data=fields, timeout=30)
