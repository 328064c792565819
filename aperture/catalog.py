"""The one catalog of live apps: what exists, what each is called, which arguments it takes.

``CATALOG`` holds the apps declared in the ``catalog.toml`` of each folder ``APERTURE_APPS`` names
(default: the project's own, ``bkapps/``; ``aperture.catalog_file`` reads and checks the files). The
launcher serves exactly these apps, Flask lists, validates and embeds exactly these, and each app
reads its query arguments through its entry. Page options are the other half of a session's
start: a site page may set them (the main plot's title...), a visitor's query string never can;
they travel only inside the signed session token. Adding an app means adding its folder (or
module) beside a catalog file and one entry there; no code of the product changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aperture.environment import Environ
from aperture.params import Param, TextParam, parse_arguments

# The project's own apps folder (the default of APERTURE_APPS), with the theme its apps share.
APPS_DIR = Path(__file__).resolve().parent.parent / "bkapps"
# Folders of apps, each with a CATALOG_FILE, separated by os.pathsep (":" on Linux).
APPS_ENV = "APERTURE_APPS"
CATALOG_FILE = "catalog.toml"

# Bokeh maps an app to the URL path "/<name>"; keep names to what needs no escaping anywhere.
_APP_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

# The figure every app names this way is the one page options (and Flask's pulls) adjust.
MAIN_PLOT_NAME = "main_plot"

# What a page embedding any app may set, applied by the app as it builds the document
# (``bkruntime.kit.app_session``). An empty title keeps the app's own.
PAGE_OPTIONS: tuple[Param, ...] = (TextParam("title", default="", max_length=80, help="title of the app's main plot"),)

# The optional BokehJS bundles (besides bokeh.min.js) an app's document may need. Pages load
# exactly what the catalog declares; a test checks each declaration against the real document.
BOKEHJS_BUNDLES = ("gl", "widgets", "tables", "mathjax")

# per_visitor: every page view builds a document of its own; shared: every viewer of one view
# (app, arguments, page options) watches one document.
SHARING_MODES = ("per_visitor", "shared")


@dataclass(frozen=True)
class AppSpec:
    """One live app: its URL name, how it is presented, and the query arguments it declares."""

    name: str
    title: str
    description: str
    source: str  # file or folder in ``folder``, as ``bokeh serve`` takes it
    params: tuple[Param, ...] = ()
    options: tuple[Param, ...] = PAGE_OPTIONS
    bokehjs: tuple[str, ...] = ()
    # A private app needs a signed-in visitor, with one of ``roles`` if it lists any (admins may
    # open every app); ``aperture.access`` applies the rule on both sides.
    public: bool = True
    roles: tuple[str, ...] = ()
    sharing: str = "per_visitor"
    # Whether the app builds through the project's app kit (``bkruntime.kit.app_session.build_app``),
    # which applies page options, the theme and the visitor; a plain Bokeh app does not.
    kit: bool = True
    # The apps folder whose catalog file declares the app.
    folder: Path = APPS_DIR

    def __post_init__(self) -> None:
        if not _APP_NAME.match(self.name):
            raise ValueError(f"app name {self.name!r} must match {_APP_NAME.pattern}")
        if self.roles and self.public:
            raise ValueError(f"app {self.name!r} is public: roles would restrict nobody")
        unknown = set(self.bokehjs) - set(BOKEHJS_BUNDLES)
        if unknown:
            raise ValueError(f"app {self.name!r} asks for unknown BokehJS bundles {sorted(unknown)}")
        if self.sharing not in SHARING_MODES:
            modes = ", ".join(SHARING_MODES)
            raise ValueError(f"app {self.name!r}: sharing must be one of {modes}, not {self.sharing!r}")

    def param(self, name: str) -> Param:
        """The declared query parameter ``name``; ``KeyError`` if the app has none of that name."""
        return _named(self.params, name)

    def option(self, name: str) -> Param:
        """The declared page option ``name``; ``KeyError`` if there is none."""
        return _named(self.options, name)

    @property
    def shared(self) -> bool:
        """True when every viewer of the same view shares one document."""
        return self.sharing == "shared"

    @property
    def path(self) -> Path:
        """The app's file or folder, as ``bokeh serve`` takes it."""
        return self.folder / self.source

    def parse_arguments(self, raw: Mapping[str, Sequence[str]]) -> dict[str, object]:
        """Typed, validated arguments with defaults filled in; raises ``InvalidArgument``."""
        return parse_arguments(self.params, raw)

    def parse_options(self, raw: Mapping[str, str]) -> dict[str, object]:
        """Typed, validated page options (one value each) with defaults; raises ``InvalidArgument``."""
        return parse_arguments(self.options, {name: [value] for name, value in raw.items()})


def _named(params: Sequence[Param], name: str) -> Param:
    for param in params:
        if param.name == name:
            return param
    raise KeyError(name)


# The site pages a catalog file may fill with views of its apps ([[dashboard]], [[wall]] tables).
CATALOG_PAGES = ("dashboard", "wall")


@dataclass(frozen=True)
class PageView:
    """One app on a page a catalog file declares (the dashboard, the wall): which app, with which
    arguments (checked against the app's params), under which caption (empty: the app's title)."""

    app: str
    arguments: Mapping[str, object] = field(default_factory=dict)
    caption: str = ""


@dataclass(frozen=True)
class AppNeed:
    """An app a site page is built on, as its code knows it: a name in one apps folder's catalog.

    A page that reaches into an app's document or reads its declarations (Match the wave draws
    into ``sliders``' plot) needs that very app; a team's app that happens to share the name is
    another app, and the page is then not served.
    """

    name: str
    folder: Path = APPS_DIR

    def find(self, catalog: AppCatalog) -> AppSpec | None:
        """The needed app's entry in ``catalog``, or None when the catalog does not serve it."""
        spec = catalog.get(self.name)
        return spec if spec is not None and spec.folder == self.folder else None


class AppCatalog:
    """An ordered, name-indexed set of ``AppSpec``, and the views its files declare for site pages."""

    def __init__(self, specs: Sequence[AppSpec], pages: Mapping[str, Sequence[PageView]] | None = None) -> None:
        self._specs: dict[str, AppSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"app {spec.name!r} is declared twice")
            self._specs[spec.name] = spec
        self._pages = {page: tuple((pages or {}).get(page, ())) for page in CATALOG_PAGES}

    def _by_name(self) -> dict[str, AppSpec]:
        return self._specs

    def _page_views(self) -> dict[str, tuple[PageView, ...]]:
        return self._pages

    def page_views(self, page: str) -> tuple[PageView, ...]:
        """The views the catalog files declare for ``page`` (one of ``CATALOG_PAGES``), in order."""
        return self._page_views()[page]

    def __iter__(self) -> Iterator[AppSpec]:
        return iter(self._by_name().values())

    def __len__(self) -> int:
        return len(self._by_name())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name()

    def __getitem__(self, name: str) -> AppSpec:
        return self._by_name()[name]

    def get(self, name: str) -> AppSpec | None:
        return self._by_name().get(name)

    @property
    def names(self) -> list[str]:
        return list(self._by_name())


def apps_folders(environ: Environ) -> tuple[Path, ...]:
    """The folders ``APERTURE_APPS`` names (``os.pathsep``-separated), or the project's own."""
    listed = [entry.strip() for entry in environ.get(APPS_ENV, "").split(os.pathsep)]
    # dict: each folder once, in the order given
    folders = dict.fromkeys(Path(entry).expanduser().resolve() for entry in listed if entry)
    return tuple(folders) or (APPS_DIR,)


class ConfiguredCatalog(AppCatalog):
    """The catalog of ``APERTURE_APPS``, read from its files once, when first used.

    Entry points call ``load()`` first, so that a bad catalog file stops them with one line
    (``aperture.catalog_file.CatalogError`` names the file and the entry) rather than at an import.
    """

    def __init__(self, environ: Environ) -> None:
        self._environ = environ
        self._loaded: AppCatalog | None = None

    def load(self) -> AppCatalog:
        """The catalog, read now if it has not been; raises ``CatalogError``."""
        if self._loaded is None:
            # Imported here: the file reader builds ``AppSpec``s, so it imports this module.
            from aperture.catalog_file import read_catalogs

            self._loaded = read_catalogs(apps_folders(self._environ))
        return self._loaded

    def _by_name(self) -> dict[str, AppSpec]:
        return self.load()._by_name()

    def _page_views(self) -> dict[str, tuple[PageView, ...]]:
        return self.load()._page_views()


CATALOG = ConfiguredCatalog(os.environ)
