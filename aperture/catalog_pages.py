"""The site pages a catalog file fills: its ``[[dashboard]]`` and ``[[wall]]`` tables.

Each table is one view of an app on that page: ``app`` (a name the served catalog declares),
``arguments`` (checked against the app's params as a visitor's query string would be) and an
optional ``caption``. A team declares its own dashboard and wall this way, without code. The
views of every served catalog file are shown, in ``APERTURE_APPS`` order; a page no file fills is
not served. Mistakes raise ``PageViewError`` with one line, which ``aperture.catalog_file`` prefixes
with the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aperture.catalog import CATALOG_PAGES, AppCatalog, PageView
from aperture.params import InvalidArgument

# key: (types it may have, required)
VIEW_KEYS: dict[str, tuple[tuple[type, ...], bool]] = {
    "app": ((str,), True),
    "arguments": ((dict,), False),
    "caption": ((str,), False),
}
_ARGUMENT_TYPES = (str, int, float)


class PageViewError(ValueError):
    """A page view a catalog file declares that the site could not show."""


def read_page_views(document: Mapping[str, Any]) -> dict[str, tuple[PageView, ...]]:
    """The views a catalog file's ``document`` declares per page, checked for shape only (which
    apps exist is known once every file is read: ``check_page_views``)."""
    pages: dict[str, tuple[PageView, ...]] = {}
    for page in CATALOG_PAGES:
        tables = document.get(page, [])
        if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
            raise PageViewError(f"{page} must be [[{page}]] tables, one per app shown")
        pages[page] = tuple(_view(page, index, table) for index, table in enumerate(tables))
    return pages


def _view(page: str, index: int, table: Mapping[str, Any]) -> PageView:
    where = f"{page} view {index + 1}"
    for key, value in table.items():
        if key not in VIEW_KEYS:
            raise PageViewError(f"{where}: unknown key {key!r} (allowed: {', '.join(VIEW_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, VIEW_KEYS[key][0]):
            kind = "a table" if key == "arguments" else "a string"
            raise PageViewError(f"{where}: {key!r} must be {kind}")
    if "app" not in table:
        raise PageViewError(f"{where}: 'app' is missing (the name of the app to show)")
    arguments = table.get("arguments", {})
    for name, value in arguments.items():
        if isinstance(value, bool) or not isinstance(value, _ARGUMENT_TYPES):
            raise PageViewError(f"{where} ({table['app']}): argument {name!r} must be a number or a string")
    return PageView(app=table["app"], arguments=dict(arguments), caption=table.get("caption", ""))


def check_page_views(page: str, views: Sequence[PageView], catalog: AppCatalog) -> None:
    """Every view names an app of ``catalog`` with arguments that app accepts; raises ``PageViewError``."""
    for index, view in enumerate(views):
        where = f"{page} view {index + 1}"
        spec = catalog.get(view.app)
        if spec is None:
            served = ", ".join(catalog.names)
            raise PageViewError(f"{where}: no app {view.app!r} is served (the catalog holds {served})")
        try:
            spec.parse_arguments({name: [str(value)] for name, value in view.arguments.items()})
        except InvalidArgument as error:
            raise PageViewError(f"{where} ({view.app}): invalid argument {error}") from None
