"""Which of the site's pages the served catalog supports: the navigation lists them, the rest 404.

Some pages are built on apps. Match the wave draws into the project's ``sliders`` and the classic
Iris pages take the project's ``iris`` declarations: each declares the app it needs as an
``AppNeed`` (a name in the project's catalog file), and is served only while that very app is;
a team's app of the same name is another app. The dashboard and the wall show the views the
catalog files declare (``[[dashboard]]``, ``[[wall]]``) and are served when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import abort

from aperture.catalog import CATALOG, AppCatalog, AppNeed, AppSpec, PageView

# Match the wave adds its target to this app's main plot, reading its "wave" data source.
WAVE_MATCH_NEEDS = AppNeed("sliders")
# The classic Iris page and /api/iris/histogram validate with this app's params.
CLASSIC_IRIS_NEEDS = AppNeed("iris")


def needed_app_or_404(need: AppNeed) -> AppSpec:
    """The catalog entry of the app a page needs, or the site's 404 page when it is not served."""
    spec = need.find(CATALOG)
    if spec is None:
        abort(404, description="This page is built on an app this site does not serve.")
    return spec


def page_views_or_404(page: str) -> tuple[PageView, ...]:
    """The views the catalog files declare for ``page``, or the site's 404 page when there are none."""
    views = CATALOG.page_views(page)
    if not views:
        abort(404, description="No catalog file of this site declares views for this page.")
    return views


def _always(_catalog: AppCatalog) -> bool:
    return True


@dataclass(frozen=True)
class NavLink:
    """One link of the site's navigation, shown when ``served(catalog)``."""

    endpoint: str
    label: str
    served: Callable[[AppCatalog], bool] = _always


NAVIGATION = (
    NavLink("gallery.index", "Gallery"),
    NavLink("dashboard.show", "Dashboard", lambda catalog: bool(catalog.page_views("dashboard"))),
    NavLink("wall.show", "Wall", lambda catalog: bool(catalog.page_views("wall"))),
    NavLink("wave_match.match", "Match the wave", lambda catalog: WAVE_MATCH_NEEDS.find(catalog) is not None),
    NavLink("classic.iris", "Classic Iris", lambda catalog: CLASSIC_IRIS_NEEDS.find(catalog) is not None),
    NavLink("classic.stream", "Classic stream"),
)


def served_navigation() -> list[NavLink]:
    """The navigation's links to the pages the served catalog supports, in order."""
    return [link for link in NAVIGATION if link.served(CATALOG)]
