"""The public URLs of a stack behind the front, all from where browsers reach it.

Behind the front (docker-compose, ``make run-front``) every public URL of both sides follows from
two origins: the site's, ``APERTURE_PUBLIC_ORIGIN`` (default ``http://localhost:FRONT_PORT``), and
the standalone apps', ``APERTURE_STANDALONE_ORIGIN`` (default: the site's scheme and host on
``FRONT_STANDALONE_PORT``). Any of these four set turns the derivation on; a URL set on its own
(``BOKEH_PUBLIC_URL``...) still wins. Both settings modules apply it first, so one change of the
public port moves the site's URLs, the Bokeh server's login redirect and the allowed origins.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aperture.environment import ConfigurationError, Environ, env_int

PUBLIC_ORIGIN_ENV = "APERTURE_PUBLIC_ORIGIN"
STANDALONE_ORIGIN_ENV = "APERTURE_STANDALONE_ORIGIN"
FRONT_PORT_ENV = "FRONT_PORT"
FRONT_STANDALONE_PORT_ENV = "FRONT_STANDALONE_PORT"
FRONT_SETTINGS = (PUBLIC_ORIGIN_ENV, STANDALONE_ORIGIN_ENV, FRONT_PORT_ENV, FRONT_STANDALONE_PORT_ENV)
# A browser on this machine may use either name for it.
_LOOPBACK_TWINS = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}


def with_front_urls(environ: Environ) -> Environ:
    """``environ`` with the public URLs behind the front filled in where they are not set."""
    if not any(environ.get(name, "").strip() for name in FRONT_SETTINGS):
        return environ
    public = _origin(environ, PUBLIC_ORIGIN_ENV, f"http://localhost:{_port(environ, FRONT_PORT_ENV, 8080)}")
    scheme, host = urlsplit(public).scheme, _host(public)
    standalone_default = f"{scheme}://{host}:{_port(environ, FRONT_STANDALONE_PORT_ENV, 5006)}"
    standalone = _origin(environ, STANDALONE_ORIGIN_ENV, standalone_default)
    derived = {
        "SITE_PUBLIC_URL": public,
        "BOKEH_PUBLIC_URL": f"{public}/bokeh",
        "BOKEH_PROCESS_PUBLIC_URLS": f"{public}/bokeh-process/{{i}}",
        "BOKEH_STANDALONE_URL": standalone,
        "BOKEH_ALLOW_WEBSOCKET_ORIGIN": ",".join(websocket_origins(public, standalone)),
    }
    return {**derived, **{name: value for name, value in environ.items() if value.strip()}}


def websocket_origins(*origins: str) -> list[str]:
    """The host[:port] entries Bokeh must allow for pages at ``origins`` (loopback by both names)."""
    allowed = []
    for origin in origins:
        netloc = urlsplit(origin).netloc
        twin = _LOOPBACK_TWINS.get(_host(origin))
        allowed += [netloc, netloc.replace(_host(origin), twin, 1)] if twin else [netloc]
    return list(dict.fromkeys(allowed))


def _origin(environ: Environ, name: str, default: str) -> str:
    origin = environ.get(name, "").strip().rstrip("/") or default
    parts = urlsplit(origin)
    try:
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must be an origin like http://localhost:8080 (no path), not {origin!r}")
    return origin


def _port(environ: Environ, name: str, default: int) -> int:
    port = env_int(environ, name, default, minimum=1)
    if port > 65535:
        raise ConfigurationError(f"{name} must be a port from 1 to 65535, not {port}")
    return port


def _host(origin: str) -> str:
    parts = urlsplit(origin)
    return parts.netloc.removesuffix(f":{parts.port}") if parts.port is not None else parts.netloc
