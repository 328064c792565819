"""``python -m web.dev_server``: the site on Flask's development server, reloading, for ``make dev``.

Werkzeug's reloader restarts the site when its code or an apps folder's catalog file changes;
templates are read again on each request (debug mode). A bad setting or catalog entry does not
stop it: the line naming it is printed and every page answers it (500) until the next save.
Debug mode also tells the site's pages to reload once their live app comes back from a rebuild
(``static/live_session.js``). Development only: it refuses ``APERTURE_ENV=production``.
"""

from __future__ import annotations

import html
import os
import sys
from collections.abc import Callable, Iterable

from werkzeug.serving import is_running_from_reloader, run_simple

from aperture.catalog import CATALOG_FILE, apps_folders
from aperture.environment import ConfigurationError, env_str, is_production

# An open page may reconnect after a rebuild however long it has been open (BOKEH_TOKEN_LIFETIME).
DEV_TOKEN_LIFETIME_SECONDS = 24 * 3600

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def error_app(message: str) -> WsgiApp:
    """A site that answers every request with the configuration error."""
    body = (
        "<!DOCTYPE html><title>Aperture: configuration error</title>"
        f"<h1>The site cannot start</h1><p><code>{html.escape(message)}</code></p>"
        "<p>Fix it and save: the site reloads.</p>"
    ).encode()

    def answer(environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response("500 Internal Server Error", [("Content-Type", "text/html; charset=utf-8")])
        return [body]

    return answer


def build_site() -> WsgiApp:
    """The site in debug mode, its database migrated; or the page naming what stops it."""
    from sqlalchemy.exc import SQLAlchemyError

    from web import create_app
    from web.database import prepare_database
    from web.settings import load_settings

    try:
        prepare_database(load_settings())
        return create_app({"DEBUG": True, "TEMPLATES_AUTO_RELOAD": True})
    except (ConfigurationError, SQLAlchemyError) as error:
        print(f"web: {error}", file=sys.stderr, flush=True)
        return error_app(str(error))


def main() -> None:
    if is_production(os.environ):
        sys.exit("web.dev_server: development only (APERTURE_ENV=production runs gunicorn)")
    os.environ.setdefault("BOKEH_TOKEN_LIFETIME", str(DEV_TOKEN_LIFETIME_SECONDS))
    host, _, port = env_str(os.environ, "WEB_BIND", "127.0.0.1:8000").rpartition(":")
    catalogs = [str(folder / CATALOG_FILE) for folder in apps_folders(os.environ)]
    # The reloader's first process only watches and restarts the second, which serves.
    site = build_site() if is_running_from_reloader() else error_app("starting")
    run_simple(host, int(port), site, use_reloader=True, threaded=True, extra_files=catalogs, reloader_type="stat")


if __name__ == "__main__":
    main()
