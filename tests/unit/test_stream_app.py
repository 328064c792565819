"""The ``stream`` app's document, built as the Bokeh server builds it, driven step by step.

The harness never runs callbacks on its own, so each test can see where data comes from: a
periodic callback, a next-tick callback the server-wide thread handed over, or the shared pool
job's result. The thread itself is real and runs from the app's ``on_server_loaded``.
"""

import asyncio
import threading
import time

import pytest

from aperture.catalog import CATALOG
from bkruntime.kit.lifecycle import AppServerState
from tests.support.app_documents import (
    WAIT_SECONDS,
    ServedApp,
    next_tick_callbacks,
    periodic_callbacks,
    run_callback,
    run_next_ticks,
    wait_for_next_tick,
)

SCAN_MS = 2000
ACTIVITY_MS = 1000


@pytest.fixture
def stream_app():
    app = ServedApp(CATALOG["stream"])
    yield app
    app.unload()


def state_of(app) -> AppServerState:
    return AppServerState.of(app.server_context)


def app_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("stream-")]


def callback_with_period(doc, period):
    (callback,) = [callback for callback in periodic_callbacks(doc) if callback.period == period]
    return callback


def activity(session) -> dict[str, int]:
    data = session.select("server_activity").data
    return dict(zip(data["metric"], data["value"], strict=True))


def wait_for_a_new_reading(app) -> None:
    """Run the server's loop until the thread's next reading has reached it."""
    machine = state_of(app).data.machine
    seen = machine.latest
    deadline = time.monotonic() + WAIT_SECONDS
    while machine.latest is seen:
        assert time.monotonic() < deadline, f"the sampler thread read nothing new within {WAIT_SECONDS:g} s"
        app.server_context.loop.run_sync(lambda: asyncio.sleep(0.01))


def test_the_periodic_callback_streams_each_new_reading_and_rolls_over(stream_app):
    session = stream_app.open("rate=100&window=10")
    host = session.select("host")
    sample = callback_with_period(session.document, 100)
    for count in range(1, 16):
        wait_for_a_new_reading(stream_app)
        run_callback(sample)
        assert len(host.data["time"]) == min(count, 10)
    times = host.data["time"]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(0 <= value <= 100 for value in host.data["cpu"] + host.data["memory"])


def test_thread_results_arrive_only_through_next_tick_callbacks(stream_app):
    session = stream_app.open("rate=100")
    cores = session.select("cores")
    loads_before = cores.data["load"]
    wait_for_next_tick(session.document)
    # The thread has read the counters and handed over a callback, but the document is as it was.
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


def test_sessions_share_one_process_scan(stream_app):
    first, second = stream_app.open(), stream_app.open()
    for session in (first, second):
        run_callback(callback_with_period(session.document, SCAN_MS))
        run_next_ticks(session.document)
    # One scan's columns, delivered to both (a second scan would have made new lists).
    assert first.select("processes").data["pid"] is second.select("processes").data["pid"]


def test_pause_resume_and_rate_control_the_callbacks_and_the_thread(stream_app):
    session = stream_app.open("rate=400")
    doc = session.document
    (feed,) = state_of(stream_app).resources(session.id).subscriptions
    assert sorted(callback.period for callback in periodic_callbacks(doc)) == [400, ACTIVITY_MS, SCAN_MS]
    assert feed.period == 0.4

    session.select("rate").value = 1500
    assert sorted(callback.period for callback in periodic_callbacks(doc)) == [ACTIVITY_MS, 1500, SCAN_MS]
    assert feed.period == 1.5

    session.select("pause").active = True
    # Only the activity table's refresh goes on, so that its counts stay true while paused.
    assert [callback.period for callback in periodic_callbacks(doc)] == [ACTIVITY_MS] and feed.paused
    assert session.select("pause").label == "Resume"
    assert state_of(stream_app).activity()["periodic_callbacks"] == 1

    session.select("pause").active = False
    assert sorted(callback.period for callback in periodic_callbacks(doc)) == [ACTIVITY_MS, 1500, SCAN_MS]
    assert not feed.paused


def true_counts(app) -> dict[str, int]:
    """What the server's sessions really hold, counted from the sessions themselves."""
    sessions = app.server_context.sessions
    state = state_of(app)
    return {
        "live_sessions": len(sessions),
        "subscriptions": sum(len(state.resources(session.id).subscriptions) for session in sessions),
        "periodic_callbacks": sum(len(periodic_callbacks(session.document)) for session in sessions),
    }


def shown(session, keys) -> dict[str, int]:
    return {key: activity(session)[key] for key in keys}


def refresh_table(session) -> None:
    run_callback(callback_with_period(session.document, ACTIVITY_MS))


def test_a_new_sessions_table_counts_its_own_callbacks_and_subscription(stream_app):
    # The only session: before any callback ran, its table already counts what it holds itself.
    session = stream_app.open()
    assert shown(session, ("live_sessions", "subscriptions", "periodic_callbacks")) == true_counts(stream_app)
    assert true_counts(stream_app) == {"live_sessions": 1, "subscriptions": 1, "periodic_callbacks": 3}
    assert activity(session)["threads"] == 1


def test_the_activity_table_shows_this_servers_counts(stream_app):
    first = stream_app.open()
    second = stream_app.open()
    refresh_table(first)
    assert activity(first) == {
        "live_sessions": 2,
        "sessions_created": 2,
        "sessions_destroyed": 0,
        "threads": 1,
        "subscriptions": 2,
        "periodic_callbacks": 6,
        "pending_jobs": 0,
    }
    assert shown(first, true_counts(stream_app)) == true_counts(stream_app)

    # Paused, a session keeps only its table's refresh, and every table says so.
    second.select("pause").active = True
    for session in (first, second):
        refresh_table(session)
        assert shown(session, true_counts(stream_app)) == true_counts(stream_app)
    assert activity(second)["periodic_callbacks"] == 4

    stream_app.close(first)
    refresh_table(second)
    assert activity(second)["live_sessions"] == 1 and activity(second)["sessions_destroyed"] == 1
    assert activity(second)["subscriptions"] == activity(second)["threads"] == 1
    assert shown(second, true_counts(stream_app)) == true_counts(stream_app)
    assert activity(second)["periodic_callbacks"] == len(periodic_callbacks(second.document)) == 1


def test_an_unchanged_activity_table_is_not_sent_again(stream_app):
    session = stream_app.open()
    events = len(session.events)
    # An unchanged table is not sent again: its refresh sends nothing while the counts hold.
    refresh_table(session)
    assert len(session.events) == events


def test_one_thread_serves_every_session_and_ended_sessions_leave_it(stream_app):
    threads_before = app_threads()
    sessions = [stream_app.open("rate=100") for _ in range(3)]
    assert app_threads() == threads_before, "a session must not start threads of its own"
    for session in sessions:
        wait_for_next_tick(session.document)
    machine = state_of(stream_app).data.machine
    assert machine.subscribers == 3

    for session in sessions:
        stream_app.close(session)

    assert machine.subscribers == 0 and machine.is_alive()
    state = state_of(stream_app)
    assert (state.sessions_destroyed, state.live_sessions, state.periodic_callbacks) == (3, 0, 0)
    assert stream_app.server_context.sessions == []


def test_unloading_the_app_stops_its_thread():
    app = ServedApp(CATALOG["stream"])
    machine = state_of(app).data.machine
    app.open()
    app.unload()
    assert not machine.is_alive()
    assert machine.subscribers == 0
