"""Stream: this machine's CPU, memory, per-core load and biggest processes, live.

Every way a Bokeh server app can push data, in one page:

* a periodic callback ``stream()``s a row of CPU and memory into the main plot at the session's
  rate, keeping the last ``window`` samples (``rollover``);
* a background thread reads the per-core counters, which reach the document only through
  ``add_next_tick_callback``, at the session's rate;
* an unlocked periodic callback (``without_document_lock``) waits for the process scan on the
  server's thread pool; the result lands through a locked next-tick callback;
* Pause stops all three; the rate slider retimes the sampling and the thread's deliveries;
* the activity table is refreshed by a periodic callback of its own, which Pause leaves running,
  so that its counts stay true while the page is paused and when other sessions come and go.

The numbers are real (psutil, on the machine running the Bokeh server), and read once per server
for all sessions (``app_hooks.py``); the activity table is this server's own count of sessions,
threads and callbacks. Query arguments ``rate`` (ms) and ``window`` (samples), e.g.
http://localhost:5006/stream?rate=250&window=240.
"""

from bokeh.document import without_document_lock
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, Slider, Toggle
from bokeh.plotting import curdoc

from bkruntime.kit.app_session import CATALOG, build_app
from bkruntime.kit.fit_width import fit_width, wrapping_row
from bkruntime.kit.lifecycle import app_lifecycle

from .data import CoreLoadMeter, HostMeter, activity_columns
from .views import cores_plot, host_plot, table

RATE = CATALOG["stream"].param("rate")
PROCESS_SCAN_MS = 2000
ACTIVITY_REFRESH_MS = 1000
ABOUT = (
    "<p><b>Live, real data</b> from the machine running the Bokeh server (psutil), read once for all "
    "sessions: CPU and memory are streamed into the plot by a periodic callback, which keeps the last "
    "{window} samples; the per-core load comes from a background thread; the process list from a thread "
    "pool. The table headed “This Bokeh server” is this Bokeh server's own count of sessions, threads "
    "and callbacks.</p>"
)


def build(doc, rate, window):
    state, session = app_lifecycle(doc)
    feeds = state.data
    host_meter, core_meter = HostMeter(feeds.machine.latest), CoreLoadMeter(feeds.machine.latest)
    core_labels = core_meter.labels

    pause = Toggle(label="Pause", name="pause", active=False, width=120)
    rate_slider = Slider(
        title="Sample every (ms)", name="rate", value=rate, start=RATE.minimum, end=RATE.maximum, step=100
    )

    host = ColumnDataSource(data=dict(time=[], cpu=[], memory=[]), name="host")
    cores = ColumnDataSource(data=dict(core=core_labels, load=[0.0] * len(core_labels)), name="cores")
    processes = ColumnDataSource(data=dict(pid=[], name=[], rss_mb=[]), name="processes")
    activity = ColumnDataSource(data=activity_columns(state.activity()), name="server_activity")

    plot = host_plot(host)
    core_bars = cores_plot(cores, core_labels)
    process_table = table(processes, "processes_table", {"name": "Biggest processes", "rss_mb": "MiB"})
    activity_table = table(activity, "activity_table", {"label": "This Bokeh server", "value": ""})

    def sample():
        new_row = host_meter.row(feeds.machine.latest)
        if new_row is not None:
            host.stream(new_row, rollover=window)

    def show_core_loads(reading):
        cores.data = dict(core=core_labels, load=core_meter.measure(reading))

    def show_processes(columns):
        processes.data = columns

    def show_activity():
        counts = activity_columns(state.activity())
        # Unchanged counts would still be sent to the browser.
        if counts["value"] != activity.data["value"]:
            activity.data = counts

    @without_document_lock
    async def scan_processes():
        # Runs without the document lock, so other callbacks go on while the pool works.
        await session.fetch(doc, feeds.processes, show_processes)

    running = {}

    def start():
        running["sample"] = session.add_periodic_callback(doc, sample, rate_slider.value)
        running["scan"] = session.add_periodic_callback(doc, scan_processes, PROCESS_SCAN_MS)
        core_feed.resume()

    def stop():
        for callback in running.values():
            session.remove_periodic_callback(doc, callback)
        running.clear()
        core_feed.pause()

    def pause_or_resume(attr, old, paused):
        pause.label = "Resume" if paused else "Pause"
        if paused:
            stop()
        else:
            start()

    def retime(attr, old, period_ms):
        core_feed.period = period_ms / 1000
        if "sample" in running:
            session.remove_periodic_callback(doc, running.pop("sample"))
            running["sample"] = session.add_periodic_callback(doc, sample, period_ms)

    pause.on_change("active", pause_or_resume)
    rate_slider.on_change("value", retime)

    layout = column(
        fit_width(Div(text=ABOUT.format(window=window)), 940),
        wrapping_row(pause, fit_width(rate_slider, 320, min_width=200)),
        wrapping_row(plot, core_bars),
        wrapping_row(process_table, activity_table),
        name="layout",
        sizing_mode="stretch_width",
    )

    core_feed = session.subscribe(feeds.machine, doc, show_core_loads, period=rate / 1000)
    start()
    session.add_periodic_callback(doc, show_activity, ACTIVITY_REFRESH_MS)
    # The counts the table was made with predate this session's own subscription and callbacks.
    show_activity()
    doc.add_root(layout)
    doc.title = "Stream"


build_app(curdoc(), "stream", build)
