"""Per-server and per-session state of the live apps (bkapps.lifecycle), without Bokeh's server."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bkapps.lifecycle import AppServerState, SessionResources, post_next_tick

WAIT_SECONDS = 30


class NextTickOnlyDocument:
    """A document a thread may reach only through ``add_next_tick_callback``; anything else fails."""

    def __init__(self) -> None:
        self.handed_over = []
        self.delivered = threading.Event()

    def add_next_tick_callback(self, callback):
        self.handed_over.append(callback)
        self.delivered.set()


class DestroyedDocument:
    def add_next_tick_callback(self, callback):
        # What Bokeh raises once Document.destroy() has torn down its callback machinery.
        raise AttributeError("'DocumentCallbackManager' object has no attribute '_change_callbacks'")


def test_a_producer_hands_results_over_as_next_tick_callbacks_and_stops_with_its_session():
    doc, delivered = NextTickOnlyDocument(), []
    resources = SessionResources("session-1", "test-session-1")
    thread = resources.start_producer(doc, produce=lambda: 42, deliver=delivered.append, period=0.01)
    assert doc.delivered.wait(WAIT_SECONDS)
    assert delivered == [], "results are delivered on the event loop, not by the thread"
    doc.handed_over[0]()
    assert delivered == [42]

    resources.stop()

    assert not thread.is_alive() and thread.name == "test-session-1"
    assert resources.threads == []


def test_a_paused_producer_resumes_and_still_stops_with_its_session():
    doc = NextTickOnlyDocument()
    resources = SessionResources("session-2", "test-session-2")
    thread = resources.start_producer(doc, produce=lambda: 1, deliver=print, period=0.01)
    thread.pause()
    assert thread.paused
    thread.resume()
    doc.delivered.clear()
    assert doc.delivered.wait(WAIT_SECONDS)
    thread.pause()
    resources.stop()
    assert not thread.is_alive()


def test_a_producer_ends_when_its_document_is_already_destroyed():
    resources = SessionResources("session-3", "test-session-3")
    thread = resources.start_producer(DestroyedDocument(), produce=lambda: 1, deliver=print, period=0.01)
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    assert post_next_tick(DestroyedDocument(), print) is False


def test_stopping_a_session_cancels_its_queued_pool_jobs_and_drops_running_ones():
    pool = ThreadPoolExecutor(max_workers=1)
    release = threading.Event()
    doc, delivered = NextTickOnlyDocument(), []
    resources = SessionResources("session-4", "test-session-4", executor=pool)

    async def session_ends_while_jobs_wait():
        running = asyncio.ensure_future(
            resources.run_blocking(doc, lambda: release.wait(WAIT_SECONDS), delivered.append)
        )
        queued = asyncio.ensure_future(resources.run_blocking(doc, lambda: "never run", delivered.append))
        while resources.pending_jobs < 2:
            await asyncio.sleep(0.005)
        resources.stop()
        release.set()
        await asyncio.gather(running, queued)

    try:
        asyncio.run(asyncio.wait_for(session_ends_while_jobs_wait(), WAIT_SECONDS))
    finally:
        pool.shutdown(cancel_futures=True)
    assert doc.handed_over == [] and delivered == []
    assert resources.pending_jobs == 0


def test_a_finished_pool_job_is_delivered_next_tick():
    doc, delivered = NextTickOnlyDocument(), []
    with ThreadPoolExecutor(max_workers=1) as pool:
        resources = SessionResources("session-5", "test-session-5", executor=pool)
        asyncio.run(resources.run_blocking(doc, lambda: "result", delivered.append))
    assert delivered == []
    doc.handed_over[0]()
    assert delivered == ["result"]


def test_server_state_lives_on_the_server_context_and_counts_sessions():
    class ServerContext:
        def __init__(self):
            self.sessions = []

    context = ServerContext()
    with pytest.raises(RuntimeError, match="on_server_loaded hook has not run"):
        AppServerState.of(context)
    pool = ThreadPoolExecutor(max_workers=1)
    state = AppServerState.install(context, "demo", data={"rows": 3}, executor=pool)
    assert AppServerState.of(context) is state

    resources = state.session_created("a" * 44)
    state.session_created("b" * 44)
    assert state.resources("a" * 44) is resources
    state.session_destroyed("a" * 44)
    assert resources.stopped
    assert state.activity(context)["live_sessions"] == 1
    assert (state.sessions_created, state.sessions_destroyed) == (2, 1)

    state.close()
    assert state.live_sessions == 0
    with pytest.raises(RuntimeError):
        pool.submit(print)
