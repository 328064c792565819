"""What every page of the site's chrome needs: the navigation (the pages the catalog supports) and the
versions in the footer."""

from __future__ import annotations

from importlib.metadata import version

from flask import Flask, current_app, url_for

from aperture.catalog import CATALOG
from web.accounts.access import access_to
from web.pages.site_pages import served_navigation

_VERSIONS = {name: version(name) for name in ("flask", "bokeh")}


def standalone_url(app_name: str) -> str:
    """Where the app opens on its own: the Bokeh server's public URL, or with
    ``BOKEH_SESSION_IDS=external-signed`` the site's route that mints the session id first."""
    if current_app.config["BOKEH_SESSION_IDS"] == "external-signed":
        return url_for("standalone.open_app", name=app_name)
    return f"{current_app.config['BOKEH_STANDALONE_URL']}/{app_name}"


def navigation_serves(endpoint: str) -> bool:
    """Whether the navigation links to ``endpoint`` (its page is served with this catalog)."""
    return any(link.endpoint == endpoint for link in served_navigation())


def init_app(app: Flask) -> None:
    @app.context_processor
    def site_chrome() -> dict[str, object]:
        return {
            "catalog": CATALOG,
            "versions": _VERSIONS,
            "standalone_url": standalone_url,
            "access_to": access_to,
            "navigation": served_navigation,
            "navigation_serves": navigation_serves,
        }
