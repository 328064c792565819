"""The front door: render nginx's configuration from the environment, then run nginx in the foreground.

``python deploy/nginx/front.py`` (``make run-front``, the front container of docker-compose) writes
``$FRONT_RUNTIME_DIR/nginx.conf`` from ``aperture.conf.template`` beside this file, checks it with
``nginx -t`` and runs nginx in the foreground (logs on stdout/stderr), so the process manager
that started it stops it. Upstreams given by name (containers) are looked up again every few
seconds and nginx reloads when one moves. ``--render-only`` prints the configuration instead.

Standard library only: the front's container has Python but not the project's packages.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "aperture.conf.template"
PROJECT_ROOT = HERE.parent.parent
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")
_LISTEN = re.compile(r"^([0-9.]+:|\[[0-9a-fA-F:]+\]:)?\d{1,5}$")
_SIZE = re.compile(r"^\d+[kKmM]?$")
RESOLVE_INTERVAL_SECONDS = 5.0

PROXY_HEADERS = (
    "proxy_set_header Host $http_host;",
    "proxy_set_header X-Real-IP $remote_addr;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header X-Forwarded-Host $http_host;",
)
# Long-lived: a live app's websocket stays open as long as its page (Bokeh pings every 37 s).
WEBSOCKET_LINES = (
    "proxy_set_header Upgrade $http_upgrade;",
    "proxy_set_header Connection $connection_upgrade;",
    "proxy_read_timeout 3600s;",
    "proxy_send_timeout 3600s;",
    "proxy_buffering off;",
)


class FrontConfigError(ValueError):
    """A FRONT_* (or BOKEH_*) variable is malformed; the message names it."""


class _Template(string.Template):
    # nginx uses $ for its own variables.
    delimiter = "@"


def _text(environ: Mapping[str, str], name: str, default: str) -> str:
    return environ.get(name, "").strip() or default


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    text = _text(environ, name, str(default))
    if not text.isdigit() or int(text) < minimum:
        raise FrontConfigError(f"{name} must be an integer of at least {minimum}, not {text!r}")
    return int(text)


def _list(environ: Mapping[str, str], name: str) -> list[str]:
    return environ.get(name, "").replace(",", " ").split()


def _servers(name: str, entries: list[str]) -> list[str]:
    for entry in entries:
        if not _HOST_PORT.match(entry):
            raise FrontConfigError(f"{name} takes host:port entries, not {entry!r}")
    if not entries:
        raise FrontConfigError(f"{name} lists no server")
    return entries


def _listen(environ: Mapping[str, str], name: str, default: str) -> str:
    value = _text(environ, name, default)
    if not _LISTEN.match(value):
        raise FrontConfigError(f"{name} must be a port or address:port, not {value!r}")
    return value


def local_bokeh_processes(environ: Mapping[str, str]) -> list[str]:
    """The per-process ports of a local ``python -m bkapps`` (``BOKEH_PROCESS_PORT_BASE + i``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    processes = _int(environ, "BOKEH_PROCESSES", max(1, cores))
    port = _int(environ, "BOKEH_PORT", 5006)
    base = _int(environ, "BOKEH_PROCESS_PORT_BASE", port + 1)
    address = _text(environ, "BOKEH_ADDRESS", "127.0.0.1")
    if address in ("0.0.0.0", "::"):  # noqa: S104 (reached through loopback)
        address = "127.0.0.1"
    return [f"{address}:{base + index}" for index in range(processes)]


def front_settings(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """Everything the template needs, checked; raises ``FrontConfigError`` naming a bad variable."""
    bokeh = _list(environ, "FRONT_BOKEH_UPSTREAMS") or local_bokeh_processes(environ)
    default_runtime = Path(_text(environ, "APERTURE_INSTANCE_DIR", str(PROJECT_ROOT / "instance"))) / "front"
    max_body = _text(environ, "FRONT_MAX_BODY_SIZE", "1m")
    if not _SIZE.match(max_body):
        raise FrontConfigError(f"FRONT_MAX_BODY_SIZE must be a size like 1m or 64k, not {max_body!r}")
    return {
        # Where browsers reach the front (FRONT_PORT, read by the site and Bokeh too) is where it
        # listens, unless it sits behind a port mapping (compose) that says otherwise.
        "site_listen": _listen(environ, "FRONT_LISTEN", _text(environ, "FRONT_PORT", "8080")),
        "standalone_listen": _listen(
            environ, "FRONT_STANDALONE_LISTEN", _text(environ, "FRONT_STANDALONE_PORT", "5006")
        ),
        "web": _servers("FRONT_WEB_UPSTREAM", _list(environ, "FRONT_WEB_UPSTREAM") or ["127.0.0.1:8000"]),
        "bokeh": _servers("FRONT_BOKEH_UPSTREAMS", bokeh),
        "runtime_dir": Path(_text(environ, "FRONT_RUNTIME_DIR", str(default_runtime))).resolve(),
        "embedded_rate": _int(environ, "FRONT_EMBEDDED_SESSION_RATE", 10),
        "embedded_burst": _int(environ, "FRONT_EMBEDDED_SESSION_BURST", 40),
        "standalone_rate": _int(environ, "FRONT_STANDALONE_SESSION_RATE", 2),
        "standalone_burst": _int(environ, "FRONT_STANDALONE_SESSION_BURST", 10),
        "max_body_size": max_body,
        "access_log": _text(environ, "FRONT_ACCESS_LOG", "/dev/stdout"),
        "mime_types": _text(environ, "FRONT_MIME_TYPES", "/etc/nginx/mime.types"),
    }


def _lines(lines, indent: int) -> str:
    return "\n".join(" " * indent + line for line in lines)


def render(settings: Mapping[str, object]) -> str:
    """nginx.conf for ``settings`` (see ``front_settings``)."""
    bokeh = settings["bokeh"]
    websocket = _lines((*PROXY_HEADERS, *WEBSOCKET_LINES), 12)
    process_upstreams, process_locations = [], []
    for index, server in enumerate(bokeh):
        process_upstreams.append(f"    upstream bokeh_process_{index} {{\n        server {server};\n    }}")
        process_locations.append(
            f"        location ~ ^/bokeh-process/{index}(/[A-Za-z0-9_-]+/ws)$ {{\n"
            f"            limit_req zone=embedded_sessions burst={settings['embedded_burst']} nodelay;\n"
            f"            rewrite ^/bokeh-process/{index}(/.*)$ $1 break;\n"
            f"            proxy_pass http://bokeh_process_{index};\n"
            f"{websocket}\n"
            "        }"
        )
    user = ""
    if os.geteuid() == 0:
        # nginx started as root would run its workers as "nobody", who cannot write the runtime
        # folder; the front's container runs as an unprivileged user and never gets here.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};"
    values = {
        **{key: str(value) for key, value in settings.items() if key not in ("web", "bokeh")},
        "user_directive": user,
        "web_servers": _lines((f"server {server} max_fails=0;" for server in settings["web"]), 8),
        # A process that refuses is skipped for 10 s while the others take its share.
        "bokeh_servers": _lines((f"server {server} max_fails=1 fail_timeout=10s;" for server in bokeh), 8),
        "process_upstreams": "\n".join(process_upstreams),
        "process_locations": "\n".join(process_locations),
        "websocket_settings": websocket,
        "plain_proxy_headers": _lines((*PROXY_HEADERS, 'proxy_set_header Connection "";'), 12),
        # BokehJS is fetched plain and cached once; nginx compresses it for each client.
        "bokehjs_proxy_headers": _lines(
            (*PROXY_HEADERS, 'proxy_set_header Connection "";', 'proxy_set_header Accept-Encoding "";'), 12
        ),
    }
    return _Template(TEMPLATE.read_text()).substitute(values)


def nginx_binary(environ: Mapping[str, str] = os.environ) -> str:
    found = _text(environ, "FRONT_NGINX", "") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise FrontConfigError("nginx not found: install Debian's nginx package (apt-get install nginx)")
    return found


def write_config(settings: Mapping[str, object]) -> Path:
    """Render into the runtime folder (created, with nginx's temporary folders) and return the path."""
    runtime = Path(settings["runtime_dir"])
    for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
        (runtime / folder).mkdir(parents=True, exist_ok=True)
    path = runtime / "nginx.conf"
    path.write_text(render(settings))
    return path


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    try:
        settings = front_settings()
        if "--render-only" in argv:
            print(render(settings))
            return
        nginx = nginx_binary()
        config = write_config(settings)
    except FrontConfigError as error:
        sys.exit(f"front: {error}")
    command = [nginx, "-p", str(settings["runtime_dir"]), "-c", str(config), "-e", "stderr"]
    checked = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        sys.exit(f"front: nginx refuses {config}:\n{checked.stderr}")
    sys.stdout.flush()
    names = upstream_names(settings)
    if not names:
        os.execv(nginx, [*command, "-g", "daemon off;"])  # noqa: S606 (nginx, with our arguments)
    sys.exit(run_following_addresses([*command, "-g", "daemon off;"], names))


def upstream_names(settings: Mapping[str, object]) -> list[str]:
    """The upstreams' host names (not IP addresses), which nginx resolves only when it (re)loads."""
    names = []
    for server in (*settings["web"], *settings["bokeh"]):
        host = server.rsplit(":", 1)[0].strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            names.append(host)
    return sorted(set(names))


def addresses(names: list[str]) -> dict[str, tuple[str, ...]]:
    found = {}
    for name in names:
        try:
            found[name] = tuple(sorted({info[4][0] for info in socket.getaddrinfo(name, None)}))
        except OSError:
            found[name] = ()
    return found


def run_following_addresses(command: list[str], names: list[str]) -> int:
    """Run nginx, and reload it when an upstream's name resolves to new addresses.

    A container that is recreated (a new image, ``docker-compose up -d web``) comes back on
    another address, which nginx would never look up again; a reload re-resolves every name.
    """
    nginx = subprocess.Popen(command)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, lambda received, _frame: nginx.send_signal(received))
    known = addresses(names)
    while True:
        try:
            return nginx.wait(timeout=RESOLVE_INTERVAL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        current = addresses(names)
        # A name that does not resolve (its container stopped) would make the reload fail.
        if current != known and all(current.values()):
            print(f"front: upstream addresses changed ({current}); reloading nginx", file=sys.stderr, flush=True)
            nginx.send_signal(signal.SIGHUP)
            known = current


if __name__ == "__main__":
    main()
