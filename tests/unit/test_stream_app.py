"""The ``stream`` app's document, built as the Bokeh server builds it, driven step by step.

The harness never runs callbacks on its own, so each test can see where data comes from: a
periodic callback, a next-tick callback a thread handed over, or a pool job's result.
"""

import threading

import pytest

from bkapps.catalog import CATALOG
from bkapps.lifecycle import AppServerState
from tests.support.app_documents import (
    ServedApp,
    next_tick_callbacks,
    periodic_callbacks,
    run_callback,
    run_next_ticks,
    wait_for_next_tick,
)

SCAN_MS = 2000


@pytest.fixture
def stream_app():
    app = ServedApp(CATALOG["stream"])
    yield app
    app.unload()


def session_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("stream-session-")]


def callback_with_period(doc, period):
    (callback,) = [callback for callback in periodic_callbacks(doc) if callback.period == period]
    return callback


def activity(session) -> dict[str, int]:
    data = session.select("server_activity").data
    return dict(zip(data["metric"], data["value"], strict=True))


def test_the_periodic_callback_streams_and_rolls_over(stream_app):
    session = stream_app.open("rate=100&window=10")
    host = session.select("host")
    sample = callback_with_period(session.document, 100)
    for count in range(1, 16):
        run_callback(sample)
        assert len(host.data["time"]) == min(count, 10)
    times = host.data["time"]
    assert times == sorted(times)
    assert all(0 <= value <= 100 for value in host.data["cpu"] + host.data["memory"])


def test_thread_results_arrive_only_through_next_tick_callbacks(stream_app):
    session = stream_app.open("rate=100")
    cores = session.select("cores")
    loads_before = cores.data["load"]
    wait_for_next_tick(session.document)
    # The thread has measured and handed over a callback, but the document is as it was.
    assert cores.data["load"] is loads_before
    assert run_next_ticks(session.document) >= 1
    assert cores.data["load"] is not loads_before
    assert len(cores.data["load"]) == len(cores.data["core"]) == len(session.select("cores_plot").x_range.factors)


def test_the_process_scan_runs_unlocked_on_the_pool_and_lands_next_tick(stream_app):
    session = stream_app.open("rate=5000")
    scan = callback_with_period(session.document, SCAN_MS)
    assert getattr(scan.callback, "nolock", False), "the scan must not hold the document lock"
    processes = session.select("processes")

    run_callback(scan)  # awaits the pool job, then hands the result over

    assert processes.data["pid"] == []
    assert next_tick_callbacks(session.document)
    run_next_ticks(session.document)
    assert 1 <= len(processes.data["pid"]) <= 5
    assert processes.data["rss_mb"] == sorted(processes.data["rss_mb"], reverse=True)


def test_pause_resume_and_rate_control_the_callbacks_and_the_thread(stream_app):
    session = stream_app.open("rate=400")
    doc = session.document
    (thread,) = AppServerState.of(stream_app.server_context).resources(session.id).threads
    assert sorted(callback.period for callback in periodic_callbacks(doc)) == [400, SCAN_MS]

    session.select("rate").value = 1500
    assert sorted(callback.period for callback in periodic_callbacks(doc)) == [1500, SCAN_MS]
    assert thread.period == 1.5

    session.select("pause").active = True
    assert periodic_callbacks(doc) == [] and thread.paused
    assert session.select("pause").label == "Resume"

    session.select("pause").active = False
    assert sorted(callback.period for callback in periodic_callbacks(doc)) == [1500, SCAN_MS]
    assert not thread.paused


def test_the_activity_table_shows_this_servers_sessions(stream_app):
    first = stream_app.open()
    second = stream_app.open()
    run_callback(callback_with_period(second.document, 500))
    assert activity(second) == {
        "live_sessions": 2,
        "sessions_created": 2,
        "sessions_destroyed": 0,
        "threads": 2,
        "periodic_callbacks": 4,
        "pending_jobs": 0,
    }
    stream_app.close(first)
    run_callback(callback_with_period(second.document, 500))
    assert activity(second)["live_sessions"] == 1 and activity(second)["sessions_destroyed"] == 1


def test_destroying_sessions_stops_their_threads_and_runs_the_hook(stream_app):
    threads_before = len(session_threads())
    sessions = [stream_app.open("rate=100") for _ in range(3)]
    assert len(session_threads()) == threads_before + 3
    for session in sessions:
        wait_for_next_tick(session.document)

    for session in sessions:
        stream_app.close(session)

    assert len(session_threads()) == threads_before
    state = AppServerState.of(stream_app.server_context)
    assert (state.sessions_destroyed, state.live_sessions) == (3, 0)
    assert stream_app.server_context.sessions == []
