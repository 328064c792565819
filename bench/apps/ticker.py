"""A minimal live app for ``bench/shared_views.py``: one point a second into a line (rollover 100).

Each point carries the server's clock (``t``, ms since the epoch), so a client on the same machine
measures how long an update took to reach it. Shared or per visitor as its token says; a shared
view gets its count of viewers as the catalog's apps do (``bkruntime.kit.app_session``).
"""

import random
import time

from bokeh.models import ColumnDataSource
from bokeh.plotting import curdoc, figure

from aperture.session_token import SHARED_KEY
from bkruntime.kit.app_session import session_payload
from bkruntime.shared_views import add_viewer_count

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
if session_payload(doc).get(SHARED_KEY):
    add_viewer_count(doc)
