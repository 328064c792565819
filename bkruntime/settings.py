"""Settings of the Bokeh server processes, read from the environment (see docs/reference/settings.md).

The launcher turns these into the ``bokeh serve`` command line and the number of processes it
supervises; nothing else reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aperture.bokeh_servers import (
    MAX_PORT,
    SESSION_ID_MODES,
    allowed_websocket_origins,
    default_process_count,
    env_port,
)
from aperture.environment import ConfigurationError, Environ, env_bool, env_float, env_int, env_str, is_production
from aperture.front_urls import with_front_urls
from aperture.log_format import log_format_setting
from aperture.signing import resolve_bokeh_secret
from aperture.site_login import SiteLoginSettings

PEER_REGISTRY_SCHEMES = ("redis://", "rediss://", "unix://")
LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class BokehServerSettings:
    address: str
    port: int
    processes: int
    # Process i also listens on process_port_base + i, so that a browser can reach the very
    # process that built a pulled session (the shared port lets the kernel pick one).
    process_port_base: int
    allowed_origins: tuple[str, ...]
    prefix: str
    session_ids: str
    unused_session_lifetime_ms: int
    check_unused_sessions_ms: int
    use_xheaders: bool
    # Tune Python's garbage collector in each Bokeh process (bkruntime.gc_tuning).
    gc_tuning: bool
    # Replace a process (one at a time, draining it first) after this many sessions or above this
    # resident memory; 0 turns either off (bkruntime.supervisor).
    recycle_after_sessions: int
    recycle_above_mb: int
    log_level: str
    # plain or json, for every line of the supervisor and the server processes
    log_format: str
    # When set, /metrics answers only requests with "Authorization: Bearer <this>"
    metrics_token: str
    secret_key: str
    production: bool
    # The site's login cookie and public URL, for the auth module (``bkruntime.auth_module``).
    site_login: SiteLoginSettings
    # A viewer with more than this many KiB of updates unread is disconnected (bkruntime.patch_broadcast).
    slow_viewer_buffer_kb: int = 1024
    # One document per shared view across the processes: an owner and relays (bkruntime.view_relay).
    shared_view_owners: bool = True
    # How often each process checks which of the others are up (bkruntime.view_owners).
    peer_check_seconds: float = 1.0
    # ... once it has also taken none of them for this long (bkruntime.slow_viewers).
    slow_viewer_stall_seconds: float = 10.0
    # redis://...: the processes of every replica find each other there (bkruntime.peer_registry).
    peer_registry_url: str = ""
    # Where the other replicas reach this process's own port ("" : the local address).
    peer_address: str = ""

    @classmethod
    def from_environ(cls, environ: Environ) -> BokehServerSettings:
        # Behind the front, the public URLs follow from where browsers reach it (aperture.front_urls).
        environ = with_front_urls(environ)
        port = env_port(environ, "BOKEH_PORT", 5006)
        settings = cls(
            address=env_str(environ, "BOKEH_ADDRESS", "127.0.0.1"),
            port=port,
            processes=env_int(environ, "BOKEH_PROCESSES", default_process_count(), minimum=1),
            process_port_base=env_port(environ, "BOKEH_PROCESS_PORT_BASE", port + 1),
            allowed_origins=allowed_websocket_origins(environ),
            prefix=env_str(environ, "BOKEH_PREFIX", ""),
            session_ids=env_str(environ, "BOKEH_SESSION_IDS", "signed"),
            unused_session_lifetime_ms=env_int(environ, "BOKEH_UNUSED_SESSION_LIFETIME_MS", 15000, minimum=1),
            check_unused_sessions_ms=env_int(environ, "BOKEH_CHECK_UNUSED_SESSIONS_MS", 17000, minimum=1),
            use_xheaders=env_bool(environ, "BOKEH_USE_XHEADERS", False),
            gc_tuning=env_bool(environ, "BOKEH_GC_TUNING", True),
            recycle_after_sessions=env_int(environ, "BOKEH_RECYCLE_AFTER_SESSIONS", 0),
            recycle_above_mb=env_int(environ, "BOKEH_RECYCLE_ABOVE_MB", 0),
            log_level=env_str(environ, "BOKEH_SERVER_LOG_LEVEL", "info").lower(),
            log_format=log_format_setting(environ),
            metrics_token=env_str(environ, "METRICS_BEARER_TOKEN", ""),
            secret_key=resolve_bokeh_secret(environ),
            production=is_production(environ),
            site_login=SiteLoginSettings.from_environ(environ),
            slow_viewer_buffer_kb=env_int(environ, "BOKEH_SLOW_VIEWER_BUFFER_KB", 1024, minimum=16),
            shared_view_owners=env_bool(environ, "BOKEH_SHARED_VIEW_OWNERS", True),
            peer_check_seconds=env_float(environ, "BOKEH_PEER_CHECK_SECONDS", 1.0, minimum=0.1),
            slow_viewer_stall_seconds=env_float(environ, "BOKEH_SLOW_VIEWER_STALL_SECONDS", 10.0, minimum=0.5),
            peer_registry_url=env_str(environ, "BOKEH_PEER_REGISTRY_URL", ""),
            peer_address=env_str(environ, "BOKEH_PEER_ADDRESS", ""),
        )
        settings.validate()
        return settings

    def process_port(self, index: int) -> int:
        """The port only process ``index`` listens on (besides the shared ``port``)."""
        return self.process_port_base + index

    @property
    def peer_host(self) -> str:
        """The host other processes reach this one's own port at (``BOKEH_PEER_ADDRESS``, or the
        address it listens on, loopback for every address)."""
        if self.peer_address:
            return self.peer_address
        return "127.0.0.1" if self.address in ("", "0.0.0.0", "::") else self.address  # noqa: S104

    def validate(self) -> None:
        if self.peer_registry_url and not self.peer_registry_url.startswith(PEER_REGISTRY_SCHEMES):
            raise ConfigurationError(
                f"BOKEH_PEER_REGISTRY_URL must be a Redis URL (redis://host:port/db), not {self.peer_registry_url!r}"
            )
        if any(character in self.peer_address for character in "/ :"):
            raise ConfigurationError(
                f"BOKEH_PEER_ADDRESS takes a host name or IPv4 address, without a port or scheme: {self.peer_address!r}"
            )
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
        last = self.process_port(self.processes - 1)
        if last > MAX_PORT:
            raise ConfigurationError(
                f"BOKEH_PROCESS_PORT_BASE {self.process_port_base} leaves no port for process "
                f"{self.processes - 1} of BOKEH_PROCESSES={self.processes} (ports end at {MAX_PORT})"
            )
        if self.process_port_base <= self.port <= last:
            raise ConfigurationError(
                f"BOKEH_PORT {self.port} falls among the per-process ports "
                f"{self.process_port_base}..{last} (BOKEH_PROCESS_PORT_BASE)"
            )
