"""What both sides read about the Bokeh servers: allowed origins, session id modes, ports, process count.

The site checks its own settings against the same values the Bokeh processes start with (its
public URL among the allowed websocket origins, one port per process), so they are read here once.
"""

from __future__ import annotations

import os

from aperture.environment import ConfigurationError, Environ, env_int, env_list

# The public origins of the pages that open a websocket to the Bokeh server: the Flask site
# (embeds) and the Bokeh server itself (standalone visits).
DEFAULT_ORIGINS = ("localhost:8000", "127.0.0.1:8000", "localhost:5006", "127.0.0.1:5006")
SESSION_ID_MODES = ("signed", "external-signed")
MAX_PORT = 65535


def default_process_count() -> int:
    """One Bokeh process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def allowed_websocket_origins(environ: Environ) -> tuple[str, ...]:
    """``BOKEH_ALLOW_WEBSOCKET_ORIGIN``: read by the Bokeh processes and by the site, which checks
    that its public URLs are among them."""
    return env_list(environ, "BOKEH_ALLOW_WEBSOCKET_ORIGIN", DEFAULT_ORIGINS)


def origin_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether Bokeh accepts a websocket from a page on ``host`` (``netloc``), by Bokeh's own rule:
    a host without a port means port 80, on either side."""

    def normal(entry: str) -> str:
        entry = entry.lower()
        return entry if ":" in entry.rsplit("]", 1)[-1] else f"{entry}:80"

    return normal(host) in {normal(entry) for entry in allowed}


def env_port(environ: Environ, name: str, default: int) -> int:
    port = env_int(environ, name, default, minimum=1)
    if port > MAX_PORT:
        raise ConfigurationError(f"{name} must be a port from 1 to {MAX_PORT}, not {port}")
    return port
