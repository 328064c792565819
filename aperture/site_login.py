"""The site's login as the Bokeh server sees it: Flask's session cookie, checked with the shared key.

People log in on the Flask site only. Its session cookie (signed with ``FLASK_SECRET_KEY``, not
encrypted) then holds the visitor's name and roles under ``SITE_VISITOR_KEY``. Cookies belong to
a host, not a port, so the browser sends it to the Bokeh server on the same host too, which
checks the signature and age exactly as Flask does (``flask.sessions``' own serializer settings).
Bokeh never imports the site (``web``): the cookie format is the contract, and a test feeds a
cookie made by the real site through this module.

The cookie's signature proves who logged in, not that the login is still open: only the site's
database knows whether it ended (logout, "log out everywhere", a password change or reset, an
admin, a deleted account) and which roles its account has now. So the Bokeh server takes from the
cookie only the login's token (``login_token``) and looks that login up where the site keeps it
(``bkruntime.login_records``); the visitor it lets in is the one the database names.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadData, URLSafeTimedSerializer

from aperture.access import Visitor
from aperture.environment import ConfigurationError, Environ, env_float, env_int, env_str, resolve_secret

# The key of the site's session that holds ``Visitor.as_payload()``; Flask-Login's own key
# ``_user_id`` must be there too.
SITE_VISITOR_KEY = "visitor"
LOGIN_MARKER_KEY = "_user_id"
DEFAULT_COOKIE_NAME = "aperture_session"
# The site route that opens an app standalone (after login, or minting the session id).
STANDALONE_PREFIX = "/standalone/"
# An ended login must be refused everywhere within 2 s: one cache period plus one sweep.
MAX_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class SiteLoginSettings:
    """What both sides must agree on to read the site's login cookie, and where the site is."""

    secret_key: str
    cookie_name: str
    lifetime_seconds: int
    site_public_url: str
    # How long the Bokeh side reuses a login's state, and how often it checks open websockets'.
    check_seconds: float = 1.0

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
            check_seconds=login_check_seconds(environ),
        )


def login_check_seconds(environ: Environ) -> float:
    """``LOGIN_CHECK_SECONDS`` (0.1 to 1): an ended login is refused everywhere within about twice that."""
    seconds = env_float(environ, "LOGIN_CHECK_SECONDS", 1.0, minimum=0.1)
    if seconds > MAX_CHECK_SECONDS:
        raise ConfigurationError(f"LOGIN_CHECK_SECONDS must be at most {MAX_CHECK_SECONDS:g}, not {seconds:g}")
    return seconds


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
        """The visitor the cookie names, or None (no cookie, bad signature, logged out, older than the
        login's lifetime). What the site wrote when it last answered: not proof that the login is
        still open (``login_token`` and ``bkruntime.login_records`` are)."""
        session = self._session(cookie_value)
        return None if session is None else Visitor.from_payload(session.get(SITE_VISITOR_KEY))

    def login_token(self, cookie_value: str | None) -> str | None:
        """The token of the login the cookie names (Flask-Login's id, a login session's token), or None."""
        session = self._session(cookie_value)
        token = None if session is None else session.get(LOGIN_MARKER_KEY)
        return token if isinstance(token, str) and token else None

    def _session(self, cookie_value: str | None) -> dict | None:
        """The cookie's session if it is signed with the site's key, within the lifetime, and logged in."""
        if not cookie_value:
            return None
        try:
            session = self._serializer.loads(cookie_value, max_age=self.settings.lifetime_seconds)
        except (BadData, ValueError, TypeError):
            return None
        if not isinstance(session, dict) or LOGIN_MARKER_KEY not in session:
            return None
        return session

    def login_url(self, app_name: str, query: str = "") -> str:
        """The site's login page, coming back to app ``app_name`` standalone afterwards."""
        return f"{self.settings.site_public_url}/login?{urlencode({'next': standalone_path(app_name, query)})}"


def standalone_path(app_name: str, query: str = "") -> str:
    """The site's path that opens ``app_name`` standalone with ``query`` (a raw query string)."""
    return STANDALONE_PREFIX + app_name + (f"?{query}" if query else "")
