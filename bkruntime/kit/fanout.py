"""Work a live app does once per Bokeh server, whose results all of its sessions share.

* ``FanOutThread``: one background thread calls ``produce()`` every ``tick`` seconds and hands the
  result to the server's event loop, which gives it to each subscribed session whose own period
  has passed, as a next-tick callback (run with that session's document locked);
* ``SharedJob``: a blocking job on the server's thread pool, run at most once at a time; every
  session asking while it runs, or while its result is fresh, gets that one result.

The thread never calls Bokeh: ``Document.add_next_tick_callback`` pushes the document on a
process-wide ``curdoc()`` stack, which races with the loop's own callbacks (and is left corrupt if
the document was destroyed meanwhile); ``IOLoop.add_callback`` is the thread-safe hand-over.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any

from bokeh.document import Document
from tornado.ioloop import IOLoop

# How long stopping a thread waits for it. It wakes as soon as it is told to stop, so this only
# matters when it is in the middle of producing.
JOIN_SECONDS = 2.0


def post_next_tick(doc: Document, callback: Callable[[], Any]) -> bool:
    """On the server's event loop: run ``callback`` next tick with ``doc`` locked.

    Returns False, and does nothing, if the session has been destroyed (``Document.destroy``
    clears the session context first); Bokeh's session hooks run only after that.
    """
    if doc.session_context is None:
        return False
    doc.add_next_tick_callback(callback)
    return True


class Subscription:
    """One session's share of a ``FanOutThread``: a delivery every ``period`` seconds unless paused.

    At most one delivery is on its way at a time: a server that falls behind skips turns instead
    of queueing callbacks (and memory) for every session. Used on the server's event loop only,
    like the document it delivers to.
    """

    def __init__(self, doc: Document, deliver: Callable[[Any], Any], period: float) -> None:
        self.period = period
        self.paused = False
        self._doc: Document | None = doc
        self._deliver = deliver
        self._due = 0.0  # the first delivery comes with the next result
        self._on_its_way = False

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        """Deliver again, starting with the next result."""
        self._due = 0.0
        self.paused = False

    @property
    def released(self) -> bool:
        return self._doc is None

    def offer(self, result: Any, now: float) -> bool:
        """Deliver ``result`` if this subscription's turn has come; False once its session is gone."""
        if self._doc is None:
            return False
        if self.paused or self._on_its_way or now < self._due:
            return True
        # Keep to the period on average (a turn a tick late does not delay the next ones), but
        # start afresh rather than deliver twice in a row to catch up.
        self._due += self.period
        if self._due <= now:
            self._due = now + self.period
        self._on_its_way = True
        return post_next_tick(self._doc, partial(self._hand_over, result))

    def _hand_over(self, result: Any) -> None:
        self._on_its_way = False
        if self._deliver is not None:
            self._deliver(result)

    def release(self) -> None:
        """Drop the references to the session (the document and its callback)."""
        self.paused = True
        self._doc = self._deliver = None  # type: ignore[assignment]


class FanOutThread(threading.Thread):
    """Calls ``produce()`` every ``tick`` seconds and offers each result to every subscription.

    ``loop`` is the server's event loop (the current one when the app's ``on_server_loaded``
    runs); results are offered there, and ``latest`` is set there, so sessions read it safely.
    """

    def __init__(self, produce: Callable[[], Any], tick: float, name: str, loop: IOLoop) -> None:
        super().__init__(name=name, daemon=True)
        self.tick = tick
        self.latest = produce()
        self._produce = produce
        self._loop = loop
        self._subscriptions: set[Subscription] = set()
        self._stop_event = threading.Event()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, doc: Document, deliver: Callable[[Any], Any], period: float) -> Subscription:
        """Deliver results to ``deliver`` on ``doc``, every ``period`` seconds (on the loop)."""
        subscription = Subscription(doc, deliver, period)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        subscription.release()

    def run(self) -> None:
        while not self._stop_event.wait(self.tick):
            self._loop.add_callback(self._offer, self._produce())

    def _offer(self, result: Any) -> None:
        """On the loop: make ``result`` the latest and give it to the subscriptions whose turn it is."""
        if self._stop_event.is_set():
            return
        self.latest = result
        now = time.monotonic()
        for subscription in list(self._subscriptions):
            if not subscription.offer(result, now):
                self.unsubscribe(subscription)

    def stop(self, join_seconds: float = JOIN_SECONDS) -> None:
        self._stop_event.set()
        if self is not threading.current_thread() and self.is_alive():
            self.join(join_seconds)
        subscriptions, self._subscriptions = self._subscriptions, set()
        for subscription in subscriptions:
            subscription.release()


class SharedJob:
    """``work()`` on ``executor``, at most one run at a time; a result younger than ``max_age`` is reused.

    Used from the server's event loop only (``await job.result()``), so it needs no lock.
    """

    def __init__(
        self,
        executor: Executor,
        work: Callable[[], Any],
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self._executor = executor
        self._work = work
        self._clock = clock
        self._running: asyncio.Future | None = None
        self._result: Any = None
        self._finished_at: float | None = None

    @property
    def pending(self) -> int:
        """1 while a run is queued or running on the pool, else 0."""
        return int(self._running is not None)

    async def result(self) -> Any:
        """The fresh result, running ``work()`` if there is none (and no run is under way)."""
        if self._running is None:
            if self._finished_at is not None and self._clock() - self._finished_at < self.max_age:
                return self._result
            self._running = asyncio.wrap_future(self._executor.submit(self._work))
            self._running.add_done_callback(self._finished)
        # One waiter giving up (its session ended) must not cancel the run the others wait for.
        return await asyncio.shield(self._running)

    def _finished(self, run: asyncio.Future) -> None:
        self._running = None
        if not run.cancelled() and run.exception() is None:
            self._result, self._finished_at = run.result(), self._clock()
