"""``python -m bkapps``: run the catalog's apps on ``BOKEH_PROCESSES`` Bokeh server processes.

The one way to run the Bokeh side: the Procfile, docker-compose and the test fixtures all run it.
It resolves the settings and reads the catalog files (a bad setting or catalog entry stops it
with one line naming the variable, or the file and the entry), then hands over
to the supervisor (``bkruntime.supervisor``), which listens on ``BOKEH_PORT`` and starts one
``bokeh serve`` process per core (``bkruntime.server_process``) sharing that socket.
``--print-command`` prints the ``bokeh serve`` command each process runs, and exits; ``--dev``
rebuilds an app in place when one of its files is saved, and restarts the processes when a catalog
file changes (``bkruntime.dev_reload``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aperture.catalog import CATALOG, AppCatalog
from aperture.environment import ConfigurationError
from bkruntime.settings import BokehServerSettings

# The server's own files (its index page, its auth module), whatever folders the apps come from.
PACKAGE_DIR = Path(__file__).resolve().parent


def build_command(settings: BokehServerSettings, catalog: AppCatalog = CATALOG) -> list[str]:
    """The ``bokeh serve`` argument list one server process runs, for every app of ``catalog``."""
    command = ["bokeh", "serve", *(str(spec.path) for spec in catalog)]
    options = {
        "--address": settings.address,
        "--port": str(settings.port),
        "--session-ids": settings.session_ids,
        "--unused-session-lifetime": str(settings.unused_session_lifetime_ms),
        "--check-unused-sessions": str(settings.check_unused_sessions_ms),
        "--log-level": settings.log_level,
        "--index": str(PACKAGE_DIR / "index.html"),
        # Each process is a server of its own; the supervisor runs several of them on one
        # socket, so that it can restart them one by one and route pulled sessions to theirs.
        "--num-procs": "1",
        # One login for the site and the standalone apps: the site's session cookie.
        "--auth-module": str(PACKAGE_DIR / "auth_module.py"),
    }
    if settings.prefix:
        options["--prefix"] = settings.prefix
    for flag, value in options.items():
        command += [flag, value]
    for origin in settings.allowed_origins:
        command += ["--allow-websocket-origin", origin]
    if settings.use_xheaders:
        command.append("--use-xheaders")
    # A standalone page's token (readable in the page) must not carry the HttpOnly login cookie,
    # neither as a cookie nor inside the Cookie header.
    command += ["--exclude-cookies", settings.site_login.cookie_name, "--exclude-headers", "Cookie"]
    return command


def load_settings(catalog: bool = True) -> BokehServerSettings:
    """The settings and (unless told not to) the catalog files, checked; exits with one clear line
    if one is bad."""
    try:
        settings = BokehServerSettings.from_environ(os.environ)
        if catalog:
            CATALOG.load()
    except ConfigurationError as error:
        sys.exit(f"bkapps: {error}")
    return settings


def main(argv: Sequence[str] | None = None) -> None:
    """Resolve the settings and run the supervised Bokeh server processes."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--dev" in argv:
        # The development supervisor reads the catalog itself, and waits for a bad one to be fixed.
        from bkruntime.dev_reload import DevSupervisor

        settings = load_settings(catalog=False)
        try:
            supervisor = DevSupervisor(settings)
        except ConfigurationError as error:
            sys.exit(f"bkapps: {error}")
        sys.exit(supervisor.run())
    settings = load_settings()
    if "--print-command" in argv:
        print(" ".join(build_command(settings)))
        return
    from bkruntime.supervisor import Supervisor

    sys.exit(Supervisor(settings).run())
