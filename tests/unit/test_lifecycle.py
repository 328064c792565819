"""Per-server and per-session state of the live apps (bkruntime.kit.lifecycle), without Bokeh's server."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from tornado.ioloop import IOLoop

from bkruntime.kit.lifecycle import AppServerState

WAIT_SECONDS = 30


class NextTickOnlyDocument:
    """A document reached only through ``add_next_tick_callback`` and periodic callbacks."""

    def __init__(self) -> None:
        self.session_context = object()
        self.handed_over = []
        self.periodic = []

    def add_next_tick_callback(self, callback):
        self.handed_over.append(callback)

    def add_periodic_callback(self, callback, period_ms):
        handle = (callback, period_ms)
        self.periodic.append(handle)
        return handle

    def remove_periodic_callback(self, handle):
        self.periodic.remove(handle)


class ServerContext:
    def __init__(self):
        self.sessions = []


@pytest.fixture
def state():
    pool = ThreadPoolExecutor(max_workers=1)
    state = AppServerState.install(ServerContext(), "demo", executor=pool)
    yield state
    state.close()


@pytest.fixture
def fan_out(state):
    """``state.fan_out`` as ``on_server_loaded`` calls it: on the server's (here: a test's) loop."""
    loop = IOLoop(make_current=False)

    def start(produce):
        async def on_the_loop():
            return state.fan_out(produce, tick=0.005)

        return loop.run_sync(on_the_loop)

    yield start
    state.close()
    loop.close(all_fds=True)


def test_server_state_lives_on_the_server_context_and_counts_sessions():
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
    assert state.activity()["live_sessions"] == 1
    assert (state.sessions_created, state.sessions_destroyed) == (2, 1)

    state.close()
    assert state.live_sessions == 0
    with pytest.raises(RuntimeError):
        pool.submit(print)


def test_periodic_callbacks_are_counted_as_sessions_add_remove_and_end(state):
    first, second = NextTickOnlyDocument(), NextTickOnlyDocument()
    resources = state.session_created("first")
    handle = resources.add_periodic_callback(first, print, 100)
    resources.add_periodic_callback(first, print, 2000)
    state.session_created("second").add_periodic_callback(second, print, 500)
    assert state.activity()["periodic_callbacks"] == 3

    resources.remove_periodic_callback(first, handle)
    assert state.activity()["periodic_callbacks"] == 2 and len(first.periodic) == 1

    # Bokeh removes a destroyed session's callbacks itself; the count follows.
    state.session_destroyed("first")
    assert state.activity()["periodic_callbacks"] == 1


def test_a_session_end_cancels_its_subscriptions_and_the_producer_goes_on(state, fan_out):
    producer = fan_out(lambda: "reading")
    resources = state.session_created("s")
    subscription = resources.subscribe(producer, NextTickOnlyDocument(), print, period=1)
    other = state.session_created("t").subscribe(producer, NextTickOnlyDocument(), print, period=1)
    assert resources.subscriptions == [subscription]
    assert state.activity()["subscriptions"] == 2 and state.activity()["threads"] == 1

    state.session_destroyed("s")

    assert state.activity()["subscriptions"] == 1 and producer.is_alive()
    assert subscription.released and not other.released
    with pytest.raises(RuntimeError, match="already stopped"):
        resources.subscribe(producer, NextTickOnlyDocument(), print, period=1)


def test_closing_the_state_stops_its_producers(state, fan_out):
    producer = fan_out(lambda: 1)
    state.session_created("s").subscribe(producer, NextTickOnlyDocument(), print, period=1)
    state.close()
    assert not producer.is_alive()
    assert state.activity()["threads"] == state.activity()["subscriptions"] == 0


def test_a_shared_result_is_delivered_next_tick_and_not_after_the_session_ended(state):
    release = threading.Event()
    job = state.shared_job(lambda: release.wait(WAIT_SECONDS) and "scanned", max_age=3600)
    staying_doc, leaving_doc = NextTickOnlyDocument(), NextTickOnlyDocument()
    staying, leaving = state.session_created("staying"), state.session_created("leaving")
    delivered = []

    async def one_session_ends_while_the_job_runs():
        waits = [
            asyncio.ensure_future(staying.fetch(staying_doc, job, delivered.append)),
            asyncio.ensure_future(leaving.fetch(leaving_doc, job, delivered.append)),
        ]
        while state.activity()["pending_jobs"] == 0:
            await asyncio.sleep(0.001)
        state.session_destroyed("leaving")
        release.set()
        await asyncio.gather(*waits)

    asyncio.run(asyncio.wait_for(one_session_ends_while_the_job_runs(), WAIT_SECONDS))
    assert leaving_doc.handed_over == [] and delivered == []
    # Until the result has been applied, asking again hands nothing more over.
    asyncio.run(staying.fetch(staying_doc, job, delivered.append))
    (deliver,) = staying_doc.handed_over
    deliver()
    assert delivered == ["scanned"] and state.activity()["pending_jobs"] == 0
    asyncio.run(staying.fetch(staying_doc, job, delivered.append))
    assert len(staying_doc.handed_over) == 2


def test_pool_jobs_need_the_state_to_have_a_pool():
    state = AppServerState("demo")
    with pytest.raises(RuntimeError, match="executor"):
        state.shared_job(print, max_age=1)
