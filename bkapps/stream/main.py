"""Stream: this machine's CPU, memory, per-core load and biggest processes, live.

Every way a Bokeh server app can push data, in one page:

* a periodic callback samples CPU and memory and ``stream()``s each sample into the main plot,
  keeping the last ``window`` samples (``rollover``);
* a background thread measures each core's load and hands every result to the document only
  through ``add_next_tick_callback``;
* an unlocked periodic callback (``without_document_lock``) runs the slow process scan on the
  server's thread pool; the result lands through a locked next-tick callback;
* Pause stops all three; the rate slider retimes the sampling and the thread.

The numbers are real: the machine is the one running the Bokeh server (read with psutil), and the
activity table is this server's own count of sessions, threads and callbacks. ``app_hooks.py``
stops a session's thread and drops its pool jobs when the session ends. Query arguments ``rate``
(ms) and ``window`` (samples), e.g. http://localhost:5006/stream?rate=250&window=240.
"""

from bokeh.document import without_document_lock
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div, Slider, Toggle
from bokeh.plotting import curdoc

from bkapps.app_session import build_app
from bkapps.catalog import CATALOG
from bkapps.lifecycle import app_lifecycle

from .data import CoreLoadMeter, HostMeter, activity_columns, top_processes
from .views import cores_plot, host_plot, table

RATE = CATALOG["stream"].param("rate")
PROCESS_SCAN_MS = 2000
ABOUT = (
    "<p><b>Live, real data</b> from the machine running the Bokeh server (psutil): CPU and memory are "
    "sampled by a periodic callback and streamed into the plot, which keeps the last {window} samples; "
    "the per-core load comes from a background thread; the process list from a thread pool. "
    "The table on the right is this Bokeh server's own count of sessions, threads and callbacks.</p>"
)


def build(doc, rate, window):
    state, session = app_lifecycle(doc)
    server_context = doc.session_context.server_context
    host_meter, core_meter = HostMeter(), CoreLoadMeter()
    core_labels = core_meter.labels

    pause = Toggle(label="Pause", name="pause", active=False, width=120)
    rate_slider = Slider(
        title="Sample every (ms)", name="rate", value=rate, start=RATE.minimum, end=RATE.maximum, step=100, width=320
    )

    host = ColumnDataSource(data=dict(time=[], cpu=[], memory=[]), name="host")
    cores = ColumnDataSource(data=dict(core=core_labels, load=[0.0] * len(core_labels)), name="cores")
    processes = ColumnDataSource(data=dict(pid=[], name=[], rss_mb=[]), name="processes")
    activity = ColumnDataSource(data=activity_columns(state.activity(server_context)), name="server_activity")

    plot = host_plot(host)
    core_bars = cores_plot(cores, core_labels)
    process_table = table(processes, "processes_table", {"name": "Biggest processes", "rss_mb": "MiB"})
    activity_table = table(activity, "activity_table", {"label": "This Bokeh server", "value": ""})

    def sample():
        host.stream(host_meter.sample(), rollover=window)
        activity.data = activity_columns(state.activity(server_context))

    def show_core_loads(loads):
        cores.data = dict(core=core_labels, load=loads)

    def show_processes(columns):
        processes.data = columns

    @without_document_lock
    async def scan_processes():
        # Runs without the document lock, so other callbacks go on while the pool works. A scan
        # still running (a slow machine) is not queued behind again.
        if not session.pending_jobs:
            await session.run_blocking(doc, top_processes, show_processes)

    running = {}

    def start():
        running["sample"] = doc.add_periodic_callback(sample, rate_slider.value)
        running["scan"] = doc.add_periodic_callback(scan_processes, PROCESS_SCAN_MS)
        producer.resume()

    def stop():
        for callback in running.values():
            doc.remove_periodic_callback(callback)
        running.clear()
        producer.pause()

    def pause_or_resume(attr, old, paused):
        pause.label = "Resume" if paused else "Pause"
        if paused:
            stop()
        else:
            start()

    def retime(attr, old, period_ms):
        producer.period = period_ms / 1000
        if "sample" in running:
            doc.remove_periodic_callback(running.pop("sample"))
            running["sample"] = doc.add_periodic_callback(sample, period_ms)

    pause.on_change("active", pause_or_resume)
    rate_slider.on_change("value", retime)

    layout = column(
        Div(text=ABOUT.format(window=window), width=940),
        row(pause, rate_slider),
        row(plot, core_bars),
        row(process_table, activity_table),
        name="layout",
    )

    producer = session.start_producer(doc, core_meter.measure, show_core_loads, period=rate / 1000)
    start()
    doc.add_root(layout)
    doc.title = "Stream"


build_app(curdoc(), "stream", build)
