"""What every page of the site's chrome needs: the navigation and the versions in the footer."""

from __future__ import annotations

from importlib.metadata import version

from flask import Flask, current_app

from bkapps.catalog import CATALOG

_VERSIONS = {name: version(name) for name in ("flask", "bokeh")}


def standalone_url(app_name: str) -> str:
    """Where the app opens on its own, on the Bokeh server's public URL."""
    return f"{current_app.config['BOKEH_PUBLIC_URL']}/{app_name}"


def init_app(app: Flask) -> None:
    @app.context_processor
    def site_chrome() -> dict[str, object]:
        return {"catalog": CATALOG, "versions": _VERSIONS, "standalone_url": standalone_url}
