"""Bokeh's own example server apps, served unchanged from an apps folder of their own.

The examples live beside the repository's parent folder (``shared/bokeh-examples``: test data,
like a seed, never copied into the project). ``examples_folder`` finds them or says why not;
``write_examples_catalog`` makes an apps folder outside the repository whose ``catalog.toml``
lists them, with links to the examples' files and folders as the sources (a catalog's sources sit
beside it; a link reads the example where it is).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from tests.support.servers import PROJECT_ROOT

# Where the examples are: overridable for a checkout that sits elsewhere.
EXAMPLES_ENV = "BOKEH_EXAMPLES_DIR"
DEFAULT_EXAMPLES = PROJECT_ROOT.parent / "shared" / "bokeh-examples"

# name -> (source, title): every app of the examples folder, as bokeh serve takes it.
EXAMPLES = {
    "sliders": ("sliders.py", "Sliders"),
    "selection_histogram": ("selection_histogram.py", "Selection histogram"),
    "crossfilter": ("crossfilter", "Crossfilter"),
    "export_csv": ("export_csv", "Export CSV"),
    "ohlc": ("ohlc", "OHLC"),
    "movies": ("movies", "Movies"),
    "weather": ("weather", "Weather"),
    "gapminder": ("gapminder", "Gapminder"),
}


def examples_folder() -> tuple[Path | None, str]:
    """The examples folder, or None and the reason it cannot be used."""
    folder = Path(os.environ.get(EXAMPLES_ENV) or DEFAULT_EXAMPLES).resolve()
    if not folder.is_dir():
        return None, f"Bokeh's example apps are not at {folder} (set {EXAMPLES_ENV} to where they are)"
    missing = [source for source, _ in EXAMPLES.values() if not (folder / source).exists()]
    if missing:
        return None, f"{folder} lacks the examples {', '.join(missing)}"
    return folder, ""


def write_examples_catalog(apps_folder: Path, examples: Path, extra_entries: str = "") -> Path:
    """``apps_folder`` with a ``catalog.toml`` listing every example, each source a link to it."""
    apps_folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (source, title) in EXAMPLES.items():
        (apps_folder / source).symlink_to(examples / source, target_is_directory=(examples / source).is_dir())
        entries.append(
            f'[[apps]]\nname = "{name}"\ntitle = "{title}"\n'
            f'description = "Bokeh\'s {title} example, unchanged."\nsource = "{source}"\n'
        )
    (apps_folder / "catalog.toml").write_text("\n".join(entries) + textwrap.dedent(extra_entries))
    return apps_folder
