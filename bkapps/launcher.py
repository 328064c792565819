"""Start ``bokeh serve`` over every app in the catalog, configured from the environment.

The one way to run the Bokeh side: the Procfile, docker-compose and the test fixtures all run
``python -m bkapps``. It runs Bokeh's own ``serve`` command in this process, after exporting the
signing secret and making Bokeh's discarding of expired sessions cheap (see ``session_cleanup``), so
signals from honcho, Docker or a test go straight to the server.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from bkapps.catalog import APPS_DIR, CATALOG, AppCatalog
from bkapps.config import ConfigurationError
from bkapps.settings import BokehServerSettings
from bkapps.signing import export_bokeh_signing

# Bokeh adds this variable's origins to --allow-websocket-origin on its own; it must not
# widen what BOKEH_ALLOW_WEBSOCKET_ORIGIN allows behind the settings' back.
_BOKEH_OWN_ORIGIN_ENV = "BOKEH_ALLOW_WS_ORIGIN"


def build_command(settings: BokehServerSettings, catalog: AppCatalog = CATALOG) -> list[str]:
    """The full ``bokeh serve`` argument list for ``settings`` and every app of ``catalog``."""
    command = ["bokeh", "serve", *(str(spec.path) for spec in catalog)]
    options = {
        "--address": settings.address,
        "--port": str(settings.port),
        "--session-ids": settings.session_ids,
        "--unused-session-lifetime": str(settings.unused_session_lifetime_ms),
        "--check-unused-sessions": str(settings.check_unused_sessions_ms),
        "--log-level": settings.log_level,
        "--index": str(APPS_DIR / "index.html"),
        # One process: a pulled session lives in the process that built it, and with
        # --num-procs the browser may reach another one and get a default session instead.
        "--num-procs": "1",
    }
    if settings.prefix:
        options["--prefix"] = settings.prefix
    for flag, value in options.items():
        command += [flag, value]
    for origin in settings.allowed_origins:
        command += ["--allow-websocket-origin", origin]
    if settings.use_xheaders:
        command.append("--use-xheaders")
    return command


def missing_app_sources(catalog: AppCatalog = CATALOG) -> list[str]:
    return [f"{spec.name}: {spec.path}" for spec in catalog if not spec.path.exists()]


def main(argv: Sequence[str] | None = None) -> None:
    """Resolve the settings, export the signing secret and run ``bokeh serve``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = BokehServerSettings.from_environ(os.environ)
        missing = missing_app_sources()
        if missing:
            raise ConfigurationError("catalog apps without source: " + "; ".join(missing))
    except ConfigurationError as error:
        sys.exit(f"bkapps: {error}")
    command = build_command(settings)
    if "--print-command" in argv:
        print(" ".join(command))
        return
    export_bokeh_signing(settings.secret_key)
    os.environ.pop(_BOKEH_OWN_ORIGIN_ENV, None)

    from bokeh.command.bootstrap import main as bokeh_main

    from bkapps import session_cleanup

    session_cleanup.install()
    bokeh_main(command)
