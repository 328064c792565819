"""A minimal live app for ``bench/shared_views.py``: one point a second into a line (rollover 100).

Each point carries the server's clock (``t``, ms since the epoch), so a client on the same machine
measures how long an update took to reach it. A plain Bokeh app: shared or per visitor as its token
says, and the runtime gives a shared view its count of viewers as it does for any app.
"""

import random
import time

from bokeh.models import ColumnDataSource
from bokeh.plotting import curdoc, figure

PERIOD_MS = 1000
ROLLOVER = 100

doc = curdoc()
source = ColumnDataSource(data={"t": [], "y": []}, name="ticks")
plot = figure(height=250, width=600, x_axis_type="datetime", tools="")
plot.line("t", "y", source=source)


def tick():
    source.stream({"t": [time.time() * 1000], "y": [random.random()]}, rollover=ROLLOVER)  # noqa: S311


doc.add_periodic_callback(tick, PERIOD_MS)
doc.add_root(plot)
