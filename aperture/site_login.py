"""The site's login as the Bokeh server sees it: Flask's session cookie, checked with the shared key.

People log in on the Flask site only. Its session cookie (signed with ``FLASK_SECRET_KEY``, not
encrypted) then holds the visitor's name and roles under ``SITE_VISITOR_KEY``. Cookies belong to
a host, not a port, so the browser sends it to the Bokeh server on the same host too, which
checks the signature and age exactly as Flask does (``flask.sessions``' own serializer settings)
and so knows who is there without a database. Bokeh never imports the site (``web``): the cookie
format is the contract, and a test feeds a cookie made by the real site through this module.

The site refreshes its cookie on every request, and ends the login in it when that login has
ended (its cookie names a login session kept by the site: logout, "log out everywhere", a password
change, an admin) or its account is gone, or changes its roles, on the next one; the Bokeh server,
without the database, cannot. So it trusts a cookie only while it is
``STANDALONE_LOGIN_RECHECK_SECONDS`` old: an older one names nobody, and a private app's page sends
its visitor through the site's login page, which sends a visitor still logged in straight back
(refreshing the cookie), and any other to the login form. An ended login (every copy of its
cookie), a deleted account or a removed role thus closes standalone private apps within that time,
at the cost of one round of redirects through the site per page opened that long after the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadData, URLSafeTimedSerializer

from aperture.access import Visitor
from aperture.environment import ConfigurationError, Environ, env_int, env_str, resolve_secret

# The key of the site's session that holds ``Visitor.as_payload()``; Flask-Login's own key
# ``_user_id`` must be there too.
SITE_VISITOR_KEY = "visitor"
LOGIN_MARKER_KEY = "_user_id"
DEFAULT_COOKIE_NAME = "aperture_session"
# The site route that opens an app standalone (after login, or minting the session id).
STANDALONE_PREFIX = "/standalone/"


@dataclass(frozen=True)
class SiteLoginSettings:
    """What both sides must agree on to read the site's login cookie, and where the site is."""

    secret_key: str
    cookie_name: str
    lifetime_seconds: int
    site_public_url: str
    # How old a cookie the Bokeh server takes as proof of a login (see the module docstring).
    recheck_seconds: int = 300

    @classmethod
    def from_environ(cls, environ: Environ) -> SiteLoginSettings:
        site_url = env_str(environ, "SITE_PUBLIC_URL", "http://localhost:8000").rstrip("/")
        parts = urlsplit(site_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigurationError(
                f"SITE_PUBLIC_URL must be an http(s) URL like http://localhost:8000, not {site_url!r}"
            )
        return cls(
            secret_key=resolve_secret(environ, "FLASK_SECRET_KEY"),
            cookie_name=env_str(environ, "SESSION_COOKIE_NAME", DEFAULT_COOKIE_NAME),
            lifetime_seconds=env_int(environ, "SESSION_LIFETIME_HOURS", 12, minimum=1) * 3600,
            site_public_url=site_url,
            recheck_seconds=env_int(environ, "STANDALONE_LOGIN_RECHECK_SECONDS", 300, minimum=10),
        )


def session_serializer(secret_key: str) -> URLSafeTimedSerializer:
    """Flask's session cookie serializer for ``secret_key``, built from Flask's own settings."""
    flask_session = SecureCookieSessionInterface()
    return URLSafeTimedSerializer(
        secret_key,
        salt=flask_session.salt,
        serializer=flask_session.serializer,
        signer_kwargs={"key_derivation": flask_session.key_derivation, "digest_method": flask_session.digest_method},
    )


class SiteLoginReader:
    """Reads the signed-in visitor from a site session cookie value."""

    def __init__(self, settings: SiteLoginSettings) -> None:
        self.settings = settings
        self._serializer = session_serializer(settings.secret_key)

    def visitor(self, cookie_value: str | None) -> Visitor | None:
        """The visitor the cookie proves, or None (no cookie, bad signature, logged out, or older than
        ``recheck_seconds``: the site has not confirmed the account since)."""
        if not cookie_value:
            return None
        max_age = min(self.settings.lifetime_seconds, self.settings.recheck_seconds)
        try:
            session = self._serializer.loads(cookie_value, max_age=max_age)
        except (BadData, ValueError, TypeError):
            return None
        if not isinstance(session, dict) or LOGIN_MARKER_KEY not in session:
            return None
        return Visitor.from_payload(session.get(SITE_VISITOR_KEY))

    def login_url(self, app_name: str, query: str = "") -> str:
        """The site's login page, coming back to app ``app_name`` standalone afterwards."""
        return f"{self.settings.site_public_url}/login?{urlencode({'next': standalone_path(app_name, query)})}"


def standalone_path(app_name: str, query: str = "") -> str:
    """The site's path that opens ``app_name`` standalone with ``query`` (a raw query string)."""
    return STANDALONE_PREFIX + app_name + (f"?{query}" if query else "")
