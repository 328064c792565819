"""Orders per week: a plain Bokeh app, as `bokeh serve` runs it.

The page's `weeks` argument says how many weeks it shows; the slider smooths the line, in Python.
"""

import numpy as np
from bokeh.io import curdoc
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Slider
from bokeh.plotting import figure

# Query arguments arrive as Bokeh gives them: lists of bytes. Aperture has already checked them
# against catalog.toml, so `weeks` is a whole number from 4 to 52 here.
arguments = curdoc().session_context.request.arguments
weeks = int(arguments.get("weeks", [b"12"])[0])

orders = 200 + np.random.default_rng(seed=7).normal(0, 25, weeks).cumsum()
source = ColumnDataSource(data={"week": np.arange(1, weeks + 1), "orders": orders}, name="orders")

plot = figure(title=f"Orders, last {weeks} weeks", name="orders_plot", height=320, sizing_mode="stretch_width")
plot.line("week", "orders", source=source, line_width=2)
smoothing = Slider(title="Smoothing (weeks)", start=1, end=8, step=1, value=1, name="smoothing")


def smooth(attr, old, new):
    kernel = np.ones(new) / new
    source.data = {"week": source.data["week"], "orders": np.convolve(orders, kernel, mode="same")}


smoothing.on_change("value", smooth)
curdoc().add_root(column(smoothing, plot, sizing_mode="stretch_width"))
curdoc().title = "Orders"
