"""Apps folders outside the project for tests: a ``catalog.toml`` and the apps' files beside it."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

# A Bokeh app as people write it for ``bokeh serve``, knowing nothing of this project: a directory
# app whose main.py imports its data module relatively (a package, as Bokeh loads it) and whose
# button runs a Python callback.
PLAIN_APP = {
    "plain/__init__.py": "",
    "plain/data.py": """
        POINTS = [(1, 1), (2, 4), (3, 9), (4, 16)]
    """,
    "plain/main.py": """
        from bokeh.io import curdoc
        from bokeh.layouts import column
        from bokeh.models import Button, ColumnDataSource
        from bokeh.plotting import figure

        from .data import POINTS

        source = ColumnDataSource(data={"x": [x for x, _ in POINTS], "y": [y for _, y in POINTS]})
        plot = figure(title="A plain Bokeh app", name="plain_plot", height=300)
        plot.line("x", "y", source=source)
        button = Button(label="Add a point", name="add_point")


        def add_point():
            x = len(source.data["x"]) + 1
            source.stream({"x": [x], "y": [x * x]})
            button.label = f"{len(source.data['x'])} points"


        button.on_click(add_point)
        curdoc().add_root(column(button, plot))
        curdoc().title = "Plain"
    """,
}

PLAIN_ENTRY = """
    [[apps]]
    name = "plain"
    title = "Plain"
    description = "A Bokeh app as bokeh serve takes it."
    source = "plain"
    bokehjs = ["widgets"]
"""


def write_apps_folder(folder: Path, catalog: str, files: Mapping[str, str] = PLAIN_APP) -> Path:
    """``folder`` with ``catalog`` as its catalog.toml and ``files`` (path -> text) beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.toml").write_text(textwrap.dedent(catalog))
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder
