"""The Bokeh figures of the classic pages, built in the Flask process for ``components()``.

Unlike the live apps, these documents never reach a Bokeh server: they are serialised into the
page once, and afterwards only BokehJS runs (the stream's sources poll this site's JSON API).
The names given to models let tests and scripts find them in ``Bokeh.documents``.
"""

from __future__ import annotations

from bokeh.models import AjaxDataSource, ColumnDataSource, CustomJS
from bokeh.plotting import figure

from showcase.iris import FEATURES, Histogram
from showcase.iris_figure import histogram_columns, histogram_figure
from web.pages.stream_signal import MAX_BATCH_TICKS

POLL_INTERVAL_MS = 1000

# The append-mode source keeps its cursor (the last tick it holds) in its own data_url, so that
# each poll asks for the ticks after it. A response that arrives late, after a newer one, may
# overlap what the plot already has: only ticks past the cursor are kept.
_APPEND_AFTER_CURSOR = """
const response = cb_data.response;
const url = new URL(cb_obj.data_url, document.baseURI);
const cursor = Number(url.searchParams.get("after"));
const fresh = response.tick.flatMap((tick, i) => (tick > cursor ? [i] : []));
if (fresh.length > 0) {
    url.searchParams.set("after", String(response.tick[fresh[fresh.length - 1]]));
    cb_obj.data_url = url.toString();
}
return {time: fresh.map((i) => response.time[i]), value: fresh.map((i) => response.value[i])};
"""


def iris_histogram_figure(counts: Histogram):
    """The Iris histogram of ``counts``, stacked by species, as the live ``iris`` app draws it."""
    source = ColumnDataSource(data=histogram_columns(counts), name="histogram")
    return histogram_figure(
        source,
        title=f"Iris — {FEATURES[counts.feature]}, {len(counts.left)} bins",
        x_axis_label=FEATURES[counts.feature],
    )


def appending_source(data_url: str, max_size: int = MAX_BATCH_TICKS) -> AjaxDataSource:
    """Polls ``data_url`` (which must carry ``after=<tick>``) and appends what is new.

    ``max_size`` drops the oldest points beyond it, so a page left open does not grow forever.
    """
    return AjaxDataSource(
        name="stream_append",
        data_url=data_url,
        # GET: the poll only reads, so there is no request body and nothing for CSRF to protect.
        method="GET",
        polling_interval=POLL_INTERVAL_MS,
        mode="append",
        max_size=max_size,
        adapter=CustomJS(code=_APPEND_AFTER_CURSOR),
        data={"time": [], "value": []},
    )


def replacing_source(data_url: str) -> AjaxDataSource:
    """Polls ``data_url`` and replaces the whole data with each answer (a sliding window)."""
    return AjaxDataSource(
        name="stream_replace",
        data_url=data_url,
        method="GET",
        polling_interval=POLL_INTERVAL_MS,
        mode="replace",
        data={"tick": [], "time": [], "value": []},
    )


def stream_figure(source: AjaxDataSource, title: str, name: str):
    """A line of the signal against time, fed by ``source``."""
    plot = figure(
        name=name,
        title=title,
        height=300,
        # As wide as the page allows (a phone's width too), at most 600 px.
        sizing_mode="stretch_width",
        min_width=260,
        max_width=600,
        x_axis_type="datetime",
        tools="pan,wheel_zoom,reset,save",
        y_axis_label="Signal",
    )
    plot.line(x="time", y="value", source=source, line_width=2)
    plot.scatter(x="time", y="value", source=source, size=4)
    # Few enough time labels not to overlap on a phone's width.
    plot.xaxis.ticker.desired_num_ticks = 4
    return plot
