"""The Bokeh signing secret shared by the Flask site and the Bokeh server, and the check of the
metrics routes' bearer token, which both sides serve.

With ``--session-ids signed`` the Bokeh server accepts only session ids and connection tokens
signed with ``BOKEH_SECRET_KEY``. The site passes the key explicitly wherever it signs
(``aperture.session_token``); the ``bokeh serve`` command reads it, with ``BOKEH_SIGN_SESSIONS``,
from its environment, which the launcher sets for each server process it starts.
"""

from __future__ import annotations

import hmac

from aperture.environment import Environ, resolve_secret

SECRET_ENV = "BOKEH_SECRET_KEY"  # noqa: S105 (the variable's name, not a secret)
SIGN_ENV = "BOKEH_SIGN_SESSIONS"


def resolve_bokeh_secret(environ: Environ) -> str:
    """The shared secret: from ``BOKEH_SECRET_KEY``, or the generated development one."""
    return resolve_secret(environ, SECRET_ENV)


def signing_environment(secret: str) -> dict[str, str]:
    """What ``bokeh serve`` reads to sign and check session ids and tokens with ``secret``."""
    return {SECRET_ENV: secret, SIGN_ENV: "true"}


def bearer_token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (any request does when it is empty)."""
    if not token:
        return True
    return hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode())
