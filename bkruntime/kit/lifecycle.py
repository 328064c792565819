"""What a live app keeps per Bokeh server and per session, and how its hooks end it all.

Bokeh runs an app's ``main.py`` once per session, but its ``app_hooks.py`` once per server. The
hooks keep one ``AppServerState`` on Bokeh's server context (``on_server_loaded``), where every
session's ``main.py`` finds it through ``curdoc().session_context.server_context``: data loaded
once, a thread pool, the server-wide producers sessions share (``bkruntime.kit.fanout``), counters, and
one ``SessionResources`` per open session.

Bokeh stops a destroyed session's periodic and next-tick callbacks itself; it knows nothing of
what the session holds of the server-wide producers. ``on_session_destroyed`` releases that
through ``AppServerState.session_destroyed``. Cleanup lives in that server hook rather than in
``Document.on_session_destroyed``, because Bokeh runs a full ``gc.collect()`` for every destroyed
document that registered such a callback (see ``session_cleanup``).

Everything a thread runs lives in modules like ``bkruntime.kit.fanout``, never in ``main.py``: Bokeh empties a
session's ``main.py`` module when it destroys the session, before the hooks run, and a thread
still looking up that module's globals would fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any

from bokeh.document import Document
from tornado.ioloop import IOLoop

from bkruntime.kit.fanout import FanOutThread, SharedJob, Subscription, post_next_tick

# The attribute of Bokeh's server context that holds an app's state (one context per app).
_STATE_ATTRIBUTE = "aperture_state"


class SessionResources:
    """One session's periodic callbacks and subscriptions, counted, and released by ``stop()``."""

    def __init__(self, session_id: str, server: AppServerState) -> None:
        self.session_id = session_id
        self._server = server
        self._stopped = False
        self._periodic: set[Any] = set()
        self._subscriptions: list[tuple[FanOutThread, Subscription]] = []
        # Shared jobs whose result is on its way to the document (at most one each).
        self._undelivered: set[SharedJob] = set()

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def subscriptions(self) -> list[Subscription]:
        return [subscription for _, subscription in self._subscriptions]

    def add_periodic_callback(self, doc: Document, callback: Callable[[], Any], period_ms: int) -> Any:
        """``doc.add_periodic_callback``, counted in the server's activity."""
        handle = doc.add_periodic_callback(callback, period_ms)
        self._periodic.add(handle)
        self._server.periodic_callbacks += 1
        return handle

    def remove_periodic_callback(self, doc: Document, handle: Any) -> None:
        doc.remove_periodic_callback(handle)
        if handle in self._periodic:
            self._periodic.discard(handle)
            self._server.periodic_callbacks -= 1

    def subscribe(
        self, producer: FanOutThread, doc: Document, deliver: Callable[[Any], Any], period: float
    ) -> Subscription:
        """Receive ``producer``'s results every ``period`` seconds, until this session ends."""
        if self.stopped:
            raise RuntimeError(f"session {self.session_id} is already stopped")
        subscription = producer.subscribe(doc, deliver, period)
        self._subscriptions.append((producer, subscription))
        return subscription

    async def fetch(self, doc: Document, job: SharedJob, deliver: Callable[[Any], Any]) -> None:
        """Wait for ``job``'s shared result and deliver it with the document locked.

        Await it from a callback decorated with ``without_document_lock``, so that other callbacks
        of the session keep running meanwhile. A session that ends meanwhile gets nothing, and
        one whose previous result has not been applied yet (a busy server) gets no second one.
        """
        if self.stopped or job in self._undelivered:
            return
        result = await job.result()
        if not self.stopped and job not in self._undelivered:
            self._undelivered.add(job)
            post_next_tick(doc, partial(self._hand_over, job, deliver, result))

    def _hand_over(self, job: SharedJob, deliver: Callable[[Any], Any], result: Any) -> None:
        self._undelivered.discard(job)
        deliver(result)

    def stop(self) -> None:
        """Cancel the subscriptions; Bokeh has removed the periodic callbacks (stop uncounts them)."""
        self._stopped = True
        for producer, subscription in self._subscriptions:
            producer.unsubscribe(subscription)
        self._subscriptions = []
        self._server.periodic_callbacks -= len(self._periodic)
        self._periodic.clear()


class AppServerState:
    """One app's state on one Bokeh server: shared data, a thread pool, producers, its sessions."""

    def __init__(self, app_name: str, data: Any = None, executor: Executor | None = None) -> None:
        self.app_name = app_name
        self.data = data
        self.executor = executor
        self.loaded_at = time.time()
        self.sessions_created = 0
        self.sessions_destroyed = 0
        # Counted as sessions add and remove them (SessionResources), never by walking sessions.
        self.periodic_callbacks = 0
        self._sessions: dict[str, SessionResources] = {}
        self._producers: list[FanOutThread] = []
        self._jobs: list[SharedJob] = []

    @classmethod
    def install(cls, server_context: Any, app_name: str, data: Any = None, executor: Executor | None = None):
        """Create the app's state and keep it on Bokeh's server context (``on_server_loaded``)."""
        state = cls(app_name, data=data, executor=executor)
        setattr(server_context, _STATE_ATTRIBUTE, state)
        return state

    @staticmethod
    def of(server_context: Any) -> AppServerState:
        """The app's state on ``server_context``; raises ``RuntimeError`` if the hooks did not run."""
        state = getattr(server_context, _STATE_ATTRIBUTE, None)
        if state is None:
            raise RuntimeError(
                "the app's on_server_loaded hook has not run: serve the app's folder "
                "(python -m bkapps), not its main.py alone"
            )
        return state

    @property
    def live_sessions(self) -> int:
        return len(self._sessions)

    def fan_out(self, produce: Callable[[], Any], tick: float) -> FanOutThread:
        """Start one thread calling ``produce()`` every ``tick`` seconds for every session.

        Call it from ``on_server_loaded``, which runs on the server's event loop: the results
        are offered to the sessions there.
        """
        name = f"{self.app_name}-fanout-{len(self._producers)}"
        producer = FanOutThread(produce, tick, name, loop=IOLoop.current())
        self._producers.append(producer)
        producer.start()
        return producer

    def shared_job(self, work: Callable[[], Any], max_age: float) -> SharedJob:
        """A pool job whose result every session shares for ``max_age`` seconds."""
        if self.executor is None:
            raise RuntimeError(f"{self.app_name}: install the app's state with an executor for pool jobs")
        job = SharedJob(self.executor, work, max_age)
        self._jobs.append(job)
        return job

    def resources(self, session_id: str) -> SessionResources:
        """The session's resources, created if ``on_session_created`` did not (it may have failed)."""
        if session_id not in self._sessions:
            self._sessions[session_id] = SessionResources(session_id, self)
        return self._sessions[session_id]

    def session_created(self, session_id: str) -> SessionResources:
        """Count a new session (``on_session_created``) and return its resources."""
        self.sessions_created += 1
        return self.resources(session_id)

    def session_destroyed(self, session_id: str) -> None:
        """Count a session's end (``on_session_destroyed``) and release what it held."""
        self.sessions_destroyed += 1
        resources = self._sessions.pop(session_id, None)
        if resources is not None:
            resources.stop()

    def close(self) -> None:
        """Release every session, stop the producers and the thread pool (``on_server_unloaded``)."""
        for session_id in list(self._sessions):
            self._sessions.pop(session_id).stop()
        for producer in self._producers:
            producer.stop()
        if self.executor is not None:
            # Waits for a job already running (a few milliseconds of work), never for queued ones.
            self.executor.shutdown(wait=True, cancel_futures=True)

    def activity(self) -> dict[str, int]:
        """Counts a test or a visitor can check, each kept up to date as things happen.

        Reading them costs the same with one session or thousands: no session is visited.
        """
        return {
            "live_sessions": self.live_sessions,
            "sessions_created": self.sessions_created,
            "sessions_destroyed": self.sessions_destroyed,
            "threads": sum(1 for producer in self._producers if producer.is_alive()),
            "subscriptions": sum(producer.subscribers for producer in self._producers),
            "periodic_callbacks": self.periodic_callbacks,
            "pending_jobs": sum(job.pending for job in self._jobs),
        }


# The hooks every app shares. An app's app_hooks.py imports them (Bokeh looks hooks up by name
# in that module) and defines on_server_loaded itself, which installs its AppServerState.


def on_server_unloaded(server_context: Any) -> None:
    """Release every session's share, stop the app's producers and its thread pool."""
    AppServerState.of(server_context).close()


def on_session_created(session_context: Any) -> None:
    """Count the session and give it its (still empty) resources."""
    AppServerState.of(session_context.server_context).session_created(session_context.id)


def on_session_destroyed(session_context: Any) -> None:
    """Count the end and cancel the session's subscriptions (Bokeh stopped its callbacks)."""
    AppServerState.of(session_context.server_context).session_destroyed(session_context.id)


def app_lifecycle(doc: Document) -> tuple[AppServerState, SessionResources]:
    """For ``main.py``: the app's server state and this session's resources."""
    context = doc.session_context
    if context is None:
        raise RuntimeError("this app runs only on a Bokeh server session")
    state = AppServerState.of(context.server_context)
    return state, state.resources(context.id)
