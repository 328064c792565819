"""Settings of the Flask site, read from the environment (see docs/reference/settings.md).

Nothing here has to run before bokeh is imported: the site passes the shared Bokeh key
explicitly wherever it signs (``aperture.session_token``).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from aperture.bokeh_servers import (
    MAX_PORT,
    SESSION_ID_MODES,
    allowed_websocket_origins,
    default_process_count,
    origin_allowed,
)
from aperture.database_url import database_url
from aperture.environment import (
    ConfigurationError,
    Environ,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    is_production,
)
from aperture.front_urls import with_front_urls
from aperture.log_format import log_format_setting
from aperture.signing import resolve_bokeh_secret
from aperture.site_login import SiteLoginSettings

# Bokeh's own default lifetime of the tokens it mints; see docs/explanation/tokens.md on choosing another.
DEFAULT_TOKEN_LIFETIME_SECONDS = 300


def env_url(environ: Environ, name: str, default: str) -> str:
    """An absolute http(s) URL without a trailing slash."""
    return _checked_url(name, env_str(environ, name, default).rstrip("/"), default)


def _checked_url(name: str, url: str, example: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must be an http(s) URL like {example}, not {url!r}")
    return url


def process_urls(environ: Environ, name: str, shared_url: str, count: int) -> tuple[str, ...]:
    """The URL of each Bokeh process's own port, as seen from one side (internal or public).

    From ``name`` (a list, one per process) if set; with one process, ``shared_url`` itself; else
    ``shared_url`` with the port replaced by ``BOKEH_PROCESS_PORT_BASE + i`` (default: the shared
    URL's port + 1 + i), which is what the launcher listens on.
    """
    listed = env_list(environ, name, ())
    if len(listed) == 1 and "{i}" in listed[0]:
        # One pattern for every process, as behind the front: http://host/bokeh-process/{i}
        listed = tuple(listed[0].replace("{i}", str(index)) for index in range(count))
    if listed:
        if len(listed) != count:
            raise ConfigurationError(f"{name} lists {len(listed)} URL(s) but BOKEH_PROCESSES is {count}")
        return tuple(_checked_url(name, url.rstrip("/"), shared_url) for url in listed)
    if count == 1:
        # One process: it built every session, and the shared URL reaches it.
        return (shared_url,)
    parts = urlsplit(shared_url)
    if parts.port is None:
        raise ConfigurationError(f"{name} must list each Bokeh process's URL: {shared_url} names no port to count from")
    base = env_int(environ, "BOKEH_PROCESS_PORT_BASE", parts.port + 1, minimum=1)
    if base + count - 1 > MAX_PORT:
        raise ConfigurationError(f"BOKEH_PROCESS_PORT_BASE {base} leaves no port for {count} processes")
    host = parts.netloc.rsplit(":", 1)[0]
    return tuple(urlunsplit(parts._replace(netloc=f"{host}:{base + index}")) for index in range(count))


def rate_limit(environ: Environ, name: str, default: str) -> str:
    """A Flask-Limiter limit like ``5 per minute`` (checked now, not at the first login)."""
    from limits import parse_many

    text = env_str(environ, name, default)
    try:
        parse_many(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a limit like '5 per minute', not {text!r}") from None
    return text


def single_sign_on(environ: Environ) -> dict[str, object]:
    """OpenID Connect settings (``web.accounts.single_sign_on``); off unless ``OIDC_ISSUER`` is set.

    ``LOCAL_LOGIN=false`` (passwords off) needs a provider, or nobody could log in.
    """
    issuer = env_str(environ, "OIDC_ISSUER", "").rstrip("/")
    local_login = env_bool(environ, "LOCAL_LOGIN", True)
    values: dict[str, object] = {
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": env_str(environ, "OIDC_CLIENT_ID", ""),
        "OIDC_CLIENT_SECRET": env_str(environ, "OIDC_CLIENT_SECRET", ""),
        "OIDC_PROVIDER_NAME": env_str(environ, "OIDC_PROVIDER_NAME", urlsplit(issuer).hostname or ""),
        "OIDC_SCOPES": env_str(environ, "OIDC_SCOPES", "openid profile email"),
        # Empty: roles are managed on the site (``users create --role``), not by the provider.
        "OIDC_ROLES_CLAIM": env_str(environ, "OIDC_ROLES_CLAIM", ""),
        "OIDC_TIMEOUT": env_float(environ, "OIDC_TIMEOUT", 5.0, minimum=0.1),
        # Where the provider sends visitors back: SITE_PUBLIC_URL when it is set (one address to
        # register, whatever Host a request came with), else the address the visitor used.
        "OIDC_REDIRECT_BASE_URL": env_str(environ, "SITE_PUBLIC_URL", "").rstrip("/"),
        "LOCAL_LOGIN": local_login,
    }
    if not issuer:
        if not local_login:
            raise ConfigurationError("LOCAL_LOGIN=false needs OIDC_ISSUER: without either, nobody could log in")
        return values
    _checked_url("OIDC_ISSUER", issuer, "https://login.example.com/realms/staff")
    for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        if not values[name]:
            raise ConfigurationError(f"{name} must be set when OIDC_ISSUER is (the client registered at the provider)")
    if "openid" not in str(values["OIDC_SCOPES"]).split():
        raise ConfigurationError("OIDC_SCOPES must include openid")
    return values


# Limit storage schemes this product installs a client for (Flask-Limiter's ``limits`` names).
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+sentinel")
# A Redis that does not answer must not hold a login for long (connect and each command).
RATE_LIMIT_STORAGE_TIMEOUT_SECONDS = 2.0


def rate_limit_storage(environ: Environ) -> dict[str, object]:
    """Flask-Limiter's storage settings: ``RATELIMIT_STORAGE_URI`` and how it behaves when down.

    Storage down: count in the worker's memory (with a logged warning) until it answers again,
    rather than refuse every login; docs/how-to/accounts.md says so.
    """
    uri = env_str(environ, "RATELIMIT_STORAGE_URI", "memory://")
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme not in RATE_LIMIT_SCHEMES:
        raise ConfigurationError(f"RATELIMIT_STORAGE_URI must be memory:// or redis://host:port/db, not {uri!r}")
    timeout = env_float(environ, "RATELIMIT_STORAGE_TIMEOUT", RATE_LIMIT_STORAGE_TIMEOUT_SECONDS, minimum=0.1)
    options = {} if scheme == "memory" else {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    return {
        "RATELIMIT_STORAGE_URI": uri,
        "RATELIMIT_STORAGE_OPTIONS": options,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


def session_ids_mode(environ: Environ) -> str:
    mode = env_str(environ, "BOKEH_SESSION_IDS", "signed")
    if mode not in SESSION_ID_MODES:
        raise ConfigurationError(f"BOKEH_SESSION_IDS must be one of {', '.join(SESSION_ID_MODES)}")
    return mode


def checked_origins(environ: Environ, public_url: str, production: bool) -> tuple[str, ...]:
    """``BOKEH_ALLOW_WEBSOCKET_ORIGIN`` as the Bokeh processes read it; in production the public URL's
    origin must be among them, or its pages would open with an empty app area."""
    allowed = allowed_websocket_origins(environ)
    host = urlsplit(public_url).netloc
    if production and not origin_allowed(host, allowed):
        raise ConfigurationError(
            f"BOKEH_ALLOW_WEBSOCKET_ORIGIN ({', '.join(allowed)}) must include {host}, the origin of BOKEH_PUBLIC_URL"
        )
    return allowed


def load_settings(environ: Environ = os.environ) -> dict[str, object]:
    """Flask config values for ``environ``; raises ``ConfigurationError`` naming a bad variable."""
    # Behind the front, the public URLs follow from where browsers reach it (aperture.front_urls).
    environ = with_front_urls(environ)
    production = is_production(environ)
    internal_url = env_url(environ, "BOKEH_INTERNAL_URL", "http://127.0.0.1:5006")
    public_url = env_url(environ, "BOKEH_PUBLIC_URL", "http://localhost:5006")
    processes = env_int(environ, "BOKEH_PROCESSES", default_process_count(), minimum=1)
    # The Bokeh server reads the login cookie with the same settings (``aperture.site_login``).
    site_login = SiteLoginSettings.from_environ(environ)
    return {
        # APERTURE_ENV=production: what development leaves open, production closes.
        "PRODUCTION": production,
        "SECRET_KEY": site_login.secret_key,
        "BOKEH_SECRET_KEY": resolve_bokeh_secret(environ),
        # Flask reaches the Bokeh server at the internal URL; browsers are sent to the public one.
        "BOKEH_INTERNAL_URL": internal_url,
        "BOKEH_PUBLIC_URL": public_url,
        # Where the gallery's "open standalone" links go: behind the front, its standalone port.
        "BOKEH_STANDALONE_URL": env_url(environ, "BOKEH_STANDALONE_URL", public_url),
        # Pulled sessions live in one process: Flask pulls from its own port, browsers follow.
        "BOKEH_PROCESS_INTERNAL_URLS": process_urls(environ, "BOKEH_PROCESS_INTERNAL_URLS", internal_url, processes),
        "BOKEH_PROCESS_PUBLIC_URLS": process_urls(environ, "BOKEH_PROCESS_PUBLIC_URLS", public_url, processes),
        "BOKEH_ALLOW_WEBSOCKET_ORIGIN": checked_origins(environ, public_url, production),
        "BOKEH_PULL_TIMEOUT": env_float(environ, "BOKEH_PULL_TIMEOUT", 5.0, minimum=0.1),
        "BOKEH_TOKEN_LIFETIME": env_int(environ, "BOKEH_TOKEN_LIFETIME", DEFAULT_TOKEN_LIFETIME_SECONDS, minimum=5),
        "BOKEH_HEALTH_INTERVAL": env_float(environ, "BOKEH_HEALTH_INTERVAL", 2.0, minimum=0.1),
        # external-signed: standalone pages open through the site, which mints their session ids.
        "BOKEH_SESSION_IDS": session_ids_mode(environ),
        "SQLALCHEMY_DATABASE_URI": database_url(environ),
        # Development applies the migrations at startup (the run command); production runs
        # `flask --app web db upgrade` as a deploy step.
        "DATABASE_AUTO_UPGRADE": env_bool(environ, "DATABASE_AUTO_UPGRADE", not production),
        # Passwords set by the CLI, the change form and a reset link are at least this long.
        "MIN_PASSWORD_LENGTH": env_int(environ, "MIN_PASSWORD_LENGTH", 8, minimum=1),
        # A reset link printed by `users reset-password` opens once, within this many seconds.
        "PASSWORD_RESET_TTL_SECONDS": env_int(environ, "PASSWORD_RESET_TTL_SECONDS", 24 * 3600, minimum=1),
        # Where browsers reach the site: the address of the reset links the CLI prints.
        "SITE_PUBLIC_URL": site_login.site_public_url,
        # The Bokeh server's own setting, read here to tell visitors how soon a logout reaches the apps.
        "LOGIN_CHECK_SECONDS": site_login.check_seconds,
        # Failed logins: counted in each worker's memory by default, in Redis for every worker
        # and replica at once (``redis://...``; see ``web.accounts.login_limits``).
        "LOGIN_RATE_LIMIT": rate_limit(environ, "LOGIN_RATE_LIMIT", "5 per minute"),
        "LOGIN_RATE_LIMIT_PER_ADDRESS": rate_limit(environ, "LOGIN_RATE_LIMIT_PER_ADDRESS", "30 per minute"),
        # Proxies in front of gunicorn whose X-Forwarded-For/-Proto/-Host the site believes
        # (``web.operations.proxy_headers``): 1 behind the front or an Ingress; 0 trusts no such header.
        "TRUSTED_PROXY_HOPS": env_int(environ, "TRUSTED_PROXY_HOPS", 0, minimum=0),
        **rate_limit_storage(environ),
        # Single sign-on with an OpenID Connect provider, and whether passwords work too.
        **single_sign_on(environ),
        "SESSION_COOKIE_NAME": site_login.cookie_name,
        # Unset: the cookie belongs to the site's host only. Standalone apps on another subdomain
        # see the login only if this names the parent domain (example.com for apps.example.com).
        "SESSION_COOKIE_DOMAIN": env_str(environ, "SESSION_COOKIE_DOMAIN", "") or None,
        "PERMANENT_SESSION_LIFETIME": site_login.lifetime_seconds,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env_bool(environ, "SESSION_COOKIE_SECURE", production),
        "LOG_TO_STDOUT": env_bool(environ, "LOG_TO_STDOUT", True),
        "LOG_FORMAT": log_format_setting(environ),
        # When set, /metrics (the site's and the Bokeh processes') needs "Authorization: Bearer <this>".
        "METRICS_BEARER_TOKEN": env_str(environ, "METRICS_BEARER_TOKEN", ""),
        # Entries of the audit trail older than this are deleted (``web.accounts.audit``).
        "AUDIT_RETENTION_DAYS": env_int(environ, "AUDIT_RETENTION_DAYS", 365, minimum=1),
        # Admins must have a second factor: one without is sent to enrol before anything else.
        "REQUIRE_MFA": env_bool(environ, "REQUIRE_MFA", False),
        # The issuer name an authenticator app shows next to the account's second factor.
        "MFA_ISSUER_NAME": env_str(environ, "MFA_ISSUER_NAME", "Aperture"),
    }
