"""Server-wide work shared by sessions (bkruntime.kit.fanout), without Bokeh's server."""

import asyncio
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from tornado.ioloop import IOLoop

from bkruntime.kit.fanout import FanOutThread, SharedJob, post_next_tick

WAIT_SECONDS = 30
TICK = 0.005


class NextTickOnlyDocument:
    """A session's document reached only through ``add_next_tick_callback``; it notes the caller's thread."""

    def __init__(self) -> None:
        self.session_context = object()
        self.handed_over = []
        self.callers = set()

    def add_next_tick_callback(self, callback):
        self.callers.add(threading.current_thread())
        self.handed_over.append(callback)

    @property
    def count(self) -> int:
        return len(self.handed_over)

    def destroy(self):
        # What Document.destroy() does first; adding callbacks afterwards would fail.
        self.session_context = None


@pytest.fixture
def loop():
    loop = IOLoop(make_current=False)
    yield loop
    loop.close(all_fds=True)


@pytest.fixture
def producer(loop):
    counter = itertools.count()
    thread = FanOutThread(lambda: next(counter), TICK, name="test-fanout", loop=loop)
    thread.start()
    yield thread
    thread.stop()
    assert not thread.is_alive()


def run_loop_until(loop, condition, what: str) -> None:
    """Run the event loop (standing for the server's) until ``condition()`` holds."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {WAIT_SECONDS} s"
        loop.run_sync(lambda: asyncio.sleep(0.002))


def test_results_reach_a_session_only_as_next_tick_callbacks_on_the_loop(loop, producer):
    doc, delivered = NextTickOnlyDocument(), []
    producer.subscribe(doc, delivered.append, period=0)
    run_loop_until(loop, lambda: doc.count == 1, "a delivery")
    assert delivered == [], "nothing runs the session's code but its next-tick callbacks"
    assert doc.callers == {threading.current_thread()}, "only the loop's thread calls the document"
    doc.handed_over[0]()
    run_loop_until(loop, lambda: doc.count == 2, "a second delivery")
    doc.handed_over[1]()
    assert delivered[0] < delivered[1] <= producer.latest


def test_a_session_whose_delivery_has_not_run_gets_no_other(loop, producer):
    doc = NextTickOnlyDocument()
    producer.subscribe(doc, print, period=0)
    run_loop_until(loop, lambda: doc.count == 1, "a delivery")
    seen = producer.latest
    run_loop_until(loop, lambda: producer.latest >= seen + 3, "three more rounds")
    assert doc.count == 1, "a busy server queues nothing more for the session"
    doc.handed_over[0]()
    run_loop_until(loop, lambda: doc.count == 2, "the next delivery, once the first has run")


def test_without_the_loop_running_nothing_is_delivered(producer):
    doc = NextTickOnlyDocument()
    first = producer.latest
    producer.subscribe(doc, print, period=0)
    deadline = time.monotonic() + 0.1
    while time.monotonic() < deadline:  # the thread goes on producing meanwhile
        time.sleep(TICK)
    assert doc.count == 0 and producer.latest == first


def test_each_subscription_gets_results_at_its_own_period(loop, producer):
    fast, slow = NextTickOnlyDocument(), NextTickOnlyDocument()
    producer.subscribe(fast, print, period=0)
    producer.subscribe(slow, print, period=3600)
    for count in range(1, 6):
        run_loop_until(loop, lambda count=count: fast.count == count, "a delivery to the fast subscription")
        fast.handed_over[-1]()
        slow.handed_over[-1]()
    assert slow.count == 1, "the first result, then nothing for an hour"


def test_a_paused_subscription_gets_nothing_until_it_resumes(loop, producer):
    fast, paused = NextTickOnlyDocument(), NextTickOnlyDocument()
    producer.subscribe(fast, print, period=0)
    subscription = producer.subscribe(paused, print, period=0)
    subscription.pause()
    for count in range(1, 4):
        run_loop_until(loop, lambda count=count: fast.count == count, "a round")
        fast.handed_over[-1]()
    assert paused.count == 0

    subscription.resume()
    run_loop_until(loop, lambda: paused.count > 0, "a delivery after resuming")


def test_a_destroyed_session_is_unsubscribed_without_touching_its_document(loop, producer):
    doc = NextTickOnlyDocument()
    producer.subscribe(doc, print, period=0)
    doc.destroy()
    run_loop_until(loop, lambda: producer.subscribers == 0, "unsubscribing the destroyed session")
    assert doc.count == 0
    assert post_next_tick(doc, print) is False


def test_unsubscribing_drops_the_session(loop, producer):
    doc = NextTickOnlyDocument()
    subscription = producer.subscribe(doc, print, period=0)
    producer.unsubscribe(subscription)
    assert producer.subscribers == 0 and subscription.released
    seen = producer.latest
    run_loop_until(loop, lambda: producer.latest != seen, "another round")
    assert doc.count == 0


def test_stopping_the_thread_releases_every_subscription(loop):
    thread = FanOutThread(lambda: 1, TICK, name="test-fanout-stop", loop=loop)
    thread.start()
    subscription = thread.subscribe(NextTickOnlyDocument(), print, period=0)
    thread.stop()
    assert not thread.is_alive() and thread.subscribers == 0
    assert subscription.released


def test_a_shared_job_runs_once_for_everyone_waiting():
    runs, release = [], threading.Event()

    def scan():
        runs.append(1)
        release.wait(WAIT_SECONDS)
        return {"rows": len(runs)}

    async def many_sessions_ask():
        waiting = [asyncio.ensure_future(job.result()) for _ in range(5)]
        while not runs:
            await asyncio.sleep(0.001)
        assert job.pending == 1
        release.set()
        return await asyncio.gather(*waiting)

    with ThreadPoolExecutor(max_workers=1) as pool:
        job = SharedJob(pool, scan, max_age=3600)
        results = asyncio.run(asyncio.wait_for(many_sessions_ask(), WAIT_SECONDS))
        assert job.pending == 0
        assert all(result is results[0] for result in results) and runs == [1]
        assert asyncio.run(job.result()) is results[0], "a fresh result is reused"


def test_a_stale_result_is_computed_again():
    now = [0.0]
    calls = itertools.count(1)
    with ThreadPoolExecutor(max_workers=1) as pool:
        job = SharedJob(pool, lambda: next(calls), max_age=2.0, clock=lambda: now[0])
        assert asyncio.run(job.result()) == 1
        now[0] = 1.9
        assert asyncio.run(job.result()) == 1
        now[0] = 2.0
        assert asyncio.run(job.result()) == 2


def test_a_waiter_giving_up_does_not_cancel_the_run_for_the_others():
    release = threading.Event()

    async def one_session_leaves():
        leaving = asyncio.ensure_future(job.result())
        staying = asyncio.ensure_future(job.result())
        while job.pending == 0:
            await asyncio.sleep(0.001)
        leaving.cancel()
        release.set()
        return await staying

    with ThreadPoolExecutor(max_workers=1) as pool:
        job = SharedJob(pool, lambda: release.wait(WAIT_SECONDS) and "scanned", max_age=3600)
        assert asyncio.run(asyncio.wait_for(one_session_leaves(), WAIT_SECONDS)) == "scanned"


def test_a_failed_run_is_not_kept():
    outcomes = iter([RuntimeError("unreadable"), "scanned"])

    def scan():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with ThreadPoolExecutor(max_workers=1) as pool:
        job = SharedJob(pool, scan, max_age=3600)
        with pytest.raises(RuntimeError, match="unreadable"):
            asyncio.run(job.result())
        assert job.pending == 0
        assert asyncio.run(job.result()) == "scanned"
