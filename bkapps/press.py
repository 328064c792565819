"""Press Me: each press of the button adds a number at a random place, in one of three colours.

Bokeh's single-module app format: this one file is the whole app (``bokeh serve press.py`` would
serve it alone; ``python -m bkapps`` serves it with the others at http://localhost:5006/press).
Each press replaces the text source's ``.data`` with a new dict in one step, so the browser gets
one update with all four columns consistent, rather than four half-updated states.

A single module has no ``theme.yaml`` of its own, so it takes the site's look from the shared
helper. It takes no query arguments and keeps nothing that needs cleaning up when its session ends.
"""

from itertools import count
from random import random

from bokeh.layouts import column
from bokeh.models import Button
from bokeh.palettes import Dark2_3
from bokeh.plotting import curdoc, figure

from bkruntime.kit.app_session import MAIN_PLOT_NAME, build_app, use_site_theme
from bkruntime.kit.fit_width import fit_width


def with_new_number(data, number, place):
    """The text columns plus one number at ``place`` (x, y), coloured by the number."""
    x, y = place
    return dict(
        x=[*data["x"], x],
        y=[*data["y"], y],
        text=[*data["text"], str(number)],
        text_color=[*data["text_color"], Dark2_3[number % 3]],
    )


def build(doc):
    """The button and the plot it writes numbers into."""
    use_site_theme(doc)
    button = Button(label="Press Me", name="press_button", button_type="primary")

    plot = figure(
        name=MAIN_PLOT_NAME,
        title="Press Me",
        x_range=(0, 100),
        y_range=(0, 100),
        height=500,
        toolbar_location=None,
    )
    plot.grid.grid_line_color = None
    plot.axis.visible = False
    numbers = plot.text(
        x=[],
        y=[],
        text=[],
        text_color=[],
        text_font_size="26px",
        text_baseline="middle",
        text_align="center",
    )
    source = numbers.data_source
    source.name = "numbers"
    presses = count()

    def add_number():
        # Keep numbers 15 units away from the edges so that none is cut off.
        place = (random() * 70 + 15, random() * 70 + 15)  # noqa: S311 (placement, not security)
        source.data = with_new_number(source.data, next(presses), place)

    button.on_event("button_click", add_number)

    doc.add_root(column(button, fit_width(plot, 500), name="layout", sizing_mode="stretch_width"))
    doc.title = "Press Me"


build_app(curdoc(), "press", build)
