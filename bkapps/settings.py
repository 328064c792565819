"""Settings of the Bokeh server process, read from the environment (documented in the README).

The launcher turns these into the ``bokeh serve`` command line; nothing else reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bkapps.config import ConfigurationError, Environ, env_bool, env_int, env_list, env_str, is_production
from bkapps.signing import resolve_bokeh_secret

# The public origins of the pages that open a websocket to the Bokeh server: the Flask site
# (embeds) and the Bokeh server itself (standalone visits).
DEFAULT_ORIGINS = ("localhost:8000", "127.0.0.1:8000", "localhost:5006", "127.0.0.1:5006")
SESSION_ID_MODES = ("signed", "external-signed")
LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class BokehServerSettings:
    address: str
    port: int
    allowed_origins: tuple[str, ...]
    prefix: str
    session_ids: str
    unused_session_lifetime_ms: int
    check_unused_sessions_ms: int
    use_xheaders: bool
    log_level: str
    secret_key: str
    production: bool

    @classmethod
    def from_environ(cls, environ: Environ) -> BokehServerSettings:
        settings = cls(
            address=env_str(environ, "BOKEH_ADDRESS", "127.0.0.1"),
            port=env_int(environ, "BOKEH_PORT", 5006, minimum=1),
            allowed_origins=env_list(environ, "BOKEH_ALLOW_WEBSOCKET_ORIGIN", DEFAULT_ORIGINS),
            prefix=env_str(environ, "BOKEH_PREFIX", ""),
            session_ids=env_str(environ, "BOKEH_SESSION_IDS", "signed"),
            unused_session_lifetime_ms=env_int(environ, "BOKEH_UNUSED_SESSION_LIFETIME_MS", 15000, minimum=1),
            check_unused_sessions_ms=env_int(environ, "BOKEH_CHECK_UNUSED_SESSIONS_MS", 17000, minimum=1),
            use_xheaders=env_bool(environ, "BOKEH_USE_XHEADERS", False),
            log_level=env_str(environ, "BOKEH_SERVER_LOG_LEVEL", "info").lower(),
            secret_key=resolve_bokeh_secret(environ),
            production=is_production(environ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if any("*" in origin for origin in self.allowed_origins):
            raise ConfigurationError(
                "BOKEH_ALLOW_WEBSOCKET_ORIGIN must list origins (host[:port]); wildcards would let "
                "any site open sessions"
            )
        if any("/" in origin for origin in self.allowed_origins):
            raise ConfigurationError("BOKEH_ALLOW_WEBSOCKET_ORIGIN takes host[:port] entries, without a scheme or path")
        if self.prefix and not self.prefix.startswith("/"):
            raise ConfigurationError(f"BOKEH_PREFIX must start with '/', not {self.prefix!r}")
        if self.session_ids not in SESSION_ID_MODES:
            raise ConfigurationError(f"BOKEH_SESSION_IDS must be one of {', '.join(SESSION_ID_MODES)}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigurationError(f"BOKEH_SERVER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
