"""The one catalog of live apps: what exists, what each is called, which arguments it takes.

The launcher serves exactly these apps, Flask lists, validates and embeds exactly these, and each
app reads its query arguments through its entry here. Page options are the other half of a
session's start: a site page may set them (the main plot's title...), a visitor's query string
never can; they travel only inside the signed session token. Adding an app means adding its folder
(or module) under ``bkapps/`` and one ``AppSpec`` below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bkapps.params import ChoiceParam, IntParam, Param, TextParam, parse_arguments

APPS_DIR = Path(__file__).resolve().parent

# Bokeh maps an app to the URL path "/<name>"; keep names to what needs no escaping anywhere.
_APP_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

# The figure every app names this way is the one page options (and Flask's pulls) adjust.
MAIN_PLOT_NAME = "main_plot"

# What a page embedding any app may set, applied by the app as it builds the document
# (``bkapps.app_session``). An empty title keeps the app's own.
PAGE_OPTIONS: tuple[Param, ...] = (TextParam("title", default="", max_length=80, help="title of the app's main plot"),)

# The optional BokehJS bundles (besides bokeh.min.js) an app's document may need. Pages load
# exactly what the catalog declares; a test checks each declaration against the real document.
BOKEHJS_BUNDLES = ("gl", "widgets", "tables", "mathjax")

# How an app's sessions are held: one document per page view (``per_visitor``), or one document for
# every viewer of the same view on a process (``shared``: same app, arguments and page options).
SHARING_MODES = ("per_visitor", "shared")

# The Iris measurements; bkapps/iris/data.py labels and computes them (a test keeps both in step).
IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


@dataclass(frozen=True)
class AppSpec:
    """One live app: its URL name, how it is presented, and the query arguments it declares."""

    name: str
    title: str
    description: str
    source: str  # file or folder under bkapps/, as ``bokeh serve`` takes it
    params: tuple[Param, ...] = ()
    options: tuple[Param, ...] = PAGE_OPTIONS
    bokehjs: tuple[str, ...] = ()
    # A private app needs a signed-in visitor, with one of ``roles`` if it lists any (admins may
    # open every app); ``bkapps.access`` applies the rule on both sides.
    public: bool = True
    roles: tuple[str, ...] = ()
    sharing: str = "per_visitor"

    def __post_init__(self) -> None:
        if not _APP_NAME.match(self.name):
            raise ValueError(f"app name {self.name!r} must match {_APP_NAME.pattern}")
        if self.roles and self.public:
            raise ValueError(f"app {self.name!r} is public: roles would restrict nobody")
        unknown = set(self.bokehjs) - set(BOKEHJS_BUNDLES)
        if unknown:
            raise ValueError(f"app {self.name!r} asks for unknown BokehJS bundles {sorted(unknown)}")
        if self.sharing not in SHARING_MODES:
            raise ValueError(f"app {self.name!r}: sharing must be one of {SHARING_MODES}, not {self.sharing!r}")

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
        return APPS_DIR / self.source

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


class AppCatalog:
    """An ordered, name-indexed set of ``AppSpec``."""

    def __init__(self, specs: Sequence[AppSpec]) -> None:
        self._specs: dict[str, AppSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ValueError(f"app {spec.name!r} is declared twice")
            self._specs[spec.name] = spec

    def __iter__(self) -> Iterator[AppSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __getitem__(self, name: str) -> AppSpec:
        return self._specs[name]

    def get(self, name: str) -> AppSpec | None:
        return self._specs.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._specs)


CATALOG = AppCatalog(
    [
        AppSpec(
            name="sliders",
            title="Sliders",
            description="A sine wave shaped live by amplitude, frequency, phase and offset sliders.",
            source="sliders",
            params=(IntParam("N", default=200, minimum=10, maximum=2000, help="number of points"),),
            bokehjs=("widgets",),
        ),
        AppSpec(
            name="iris",
            title="Iris",
            description="Fisher's Iris measurements as a histogram per species; pick the feature and bins.",
            source="iris",
            params=(
                ChoiceParam(
                    "feature",
                    default="sepal_length",
                    choices=IRIS_FEATURES,
                    help="measurement to histogram",
                ),
                IntParam("bins", default=10, minimum=3, maximum=50, help="number of bins"),
            ),
            bokehjs=("widgets",),
        ),
        AppSpec(
            name="press",
            title="Press Me",
            description="A button that adds a number at a random place in one of three colours: "
            "Bokeh's single-module app format.",
            source="press.py",
            bokehjs=("widgets",),
        ),
        AppSpec(
            name="stream",
            title="Stream",
            description="This server's CPU, memory, per-core load and biggest processes, live: periodic "
            "callbacks, a background thread and a thread pool feeding one page.",
            source="stream",
            params=(
                IntParam("rate", default=500, minimum=100, maximum=5000, help="milliseconds between samples"),
                IntParam("window", default=120, minimum=10, maximum=2000, help="samples kept in the plot"),
            ),
            bokehjs=("widgets", "tables"),
            sharing="shared",
        ),
        AppSpec(
            name="portfolio",
            title="Portfolio",
            description="A simulated portfolio's value over time, for signed-in users only: it greets "
            "you by name, and admins also get a stress-test control.",
            source="portfolio",
            params=(IntParam("days", default=180, minimum=30, maximum=730, help="trading days simulated"),),
            bokehjs=("widgets",),
            public=False,
        ),
    ]
)
