"""The Bokeh signing secret shared by the Flask site and the Bokeh server, and ids signed with it.

With ``--session-ids signed`` the Bokeh server accepts only session ids and connection tokens
signed with ``BOKEH_SECRET_KEY``. Bokeh binds that key (and ``BOKEH_SIGN_SESSIONS``) as default
arguments of ``bokeh.util.token`` when that module is first imported, and the client's
connection token is made with those defaults. So each process resolves the secret and exports it
to its environment before it imports bokeh: the settings module of each side does it at import
time, and ``export_bokeh_signing`` refuses to go on if bokeh was imported too early.
"""

from __future__ import annotations

import os
import sys

from bkapps.config import ConfigurationError, Environ, resolve_secret

SECRET_ENV = "BOKEH_SECRET_KEY"  # noqa: S105 (the variable's name, not a secret)
SIGN_ENV = "BOKEH_SIGN_SESSIONS"


def resolve_bokeh_secret(environ: Environ) -> str:
    """The shared secret: from ``BOKEH_SECRET_KEY``, or the generated development one."""
    return resolve_secret(environ, SECRET_ENV)


def export_bokeh_signing(secret: str) -> None:
    """Put the secret where bokeh reads it, and check that bokeh will actually use it."""
    os.environ[SECRET_ENV] = secret
    os.environ[SIGN_ENV] = "true"
    if "bokeh.util.token" in sys.modules and not _bokeh_signs_with(secret):
        raise ConfigurationError(
            "bokeh was imported before the shared Bokeh secret was exported, so its connection "
            "tokens would be signed with another key; import the settings module first"
        )


def _bokeh_signs_with(secret: str) -> bool:
    from bokeh.util.token import check_token_signature, generate_jwt_token

    token = generate_jwt_token(new_session_id(secret))  # signed with bokeh's import-time defaults
    return check_token_signature(token, secret_key=secret.encode(), signed=True)


def new_session_id(secret: str) -> str:
    """A fresh session id signed with ``secret``, as the Bokeh server expects."""
    from bokeh.util.token import generate_session_id

    return generate_session_id(secret_key=secret.encode(), signed=True)
