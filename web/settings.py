"""Settings of the Flask site, read from the environment (documented in the README).

Importing this module resolves the Bokeh signing secret shared with the Bokeh server and exports
it where bokeh reads it, which must happen before anything imports bokeh: ``web/__init__.py``
imports this module first.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from bkapps.config import (
    ConfigurationError,
    Environ,
    env_bool,
    env_float,
    env_str,
    is_production,
    resolve_secret,
)
from bkapps.signing import export_bokeh_signing, resolve_bokeh_secret


def env_url(environ: Environ, name: str, default: str) -> str:
    """An absolute http(s) URL without a trailing slash."""
    url = env_str(environ, name, default).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must be an http(s) URL like {default}, not {url!r}")
    return url


def load_settings(environ: Environ = os.environ) -> dict[str, object]:
    """Flask config values for ``environ``; raises ``ConfigurationError`` naming a bad variable."""
    production = is_production(environ)
    return {
        "APERTURE_PRODUCTION": production,
        "SECRET_KEY": resolve_secret(environ, "FLASK_SECRET_KEY"),
        "BOKEH_SECRET_KEY": resolve_bokeh_secret(environ),
        # Flask pulls sessions from the internal URL; browsers are sent to the public one.
        "BOKEH_INTERNAL_URL": env_url(environ, "BOKEH_INTERNAL_URL", "http://127.0.0.1:5006"),
        "BOKEH_PUBLIC_URL": env_url(environ, "BOKEH_PUBLIC_URL", "http://localhost:5006"),
        "BOKEH_PULL_TIMEOUT": env_float(environ, "BOKEH_PULL_TIMEOUT", 5.0, minimum=0.1),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool(environ, "SESSION_COOKIE_SECURE", production),
        "LOG_TO_STDOUT": env_bool(environ, "LOG_TO_STDOUT", True),
    }


export_bokeh_signing(resolve_bokeh_secret(os.environ))
