"""What a live app keeps per Bokeh server and per session, and how its hooks end it all.

Bokeh runs an app's ``main.py`` once per session, but its ``app_hooks.py`` once per server. The
hooks keep one ``AppServerState`` on Bokeh's server context (``on_server_loaded``), where every
session's ``main.py`` finds it through ``curdoc().session_context.server_context``: data loaded
once, a thread pool, session counters, and one ``SessionResources`` per open session.

Bokeh stops a destroyed session's periodic and next-tick callbacks itself; it knows nothing of
the threads and thread-pool jobs the session started. ``on_session_destroyed`` ends those through
``AppServerState.session_destroyed``. Cleanup lives in that server hook rather than in
``Document.on_session_destroyed``, because Bokeh runs a full ``gc.collect()`` for every destroyed
document that registered such a callback (see ``session_cleanup``).

Everything a thread runs lives in modules like this one, never in ``main.py``: Bokeh empties a
session's ``main.py`` module when it destroys the session, before the hooks run, and a thread
still looking up that module's globals would fail.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any

from bokeh.document import Document
from bokeh.server.callbacks import PeriodicCallback

# The attribute of Bokeh's server context that holds an app's state (one context per app).
_STATE_ATTRIBUTE = "aperture_state"
# How long stopping a session waits for each of its threads. A thread wakes as soon as it is told
# to stop, so this only matters when it is in the middle of producing.
JOIN_SECONDS = 2.0


def post_next_tick(doc: Document, callback: Callable[[], Any]) -> bool:
    """Hand ``callback`` to the document's event loop; False if the document is already destroyed.

    ``add_next_tick_callback`` is the only document method that is safe from another thread.
    A session can be destroyed between a thread's last stop check and this call: Bokeh has then
    torn down the document's callback machinery, and there is nothing left to deliver to.
    """
    try:
        doc.add_next_tick_callback(callback)
    except (AttributeError, RuntimeError):
        return False
    return True


class ProducerThread(threading.Thread):
    """Calls ``produce()`` every ``period`` seconds and delivers each result on the event loop.

    The thread never touches the document: each result reaches ``deliver`` through a next-tick
    callback, which Bokeh runs with the document locked.
    """

    def __init__(
        self,
        doc: Document,
        produce: Callable[[], Any],
        deliver: Callable[[Any], Any],
        period: float,
        stop: threading.Event,
        name: str,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.period = period
        self._doc = doc
        self._produce = produce
        self._deliver = deliver
        self._stop_event = stop
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        """Keep the thread alive but stop producing until ``resume()``."""
        self._running.clear()

    def resume(self) -> None:
        """Produce again, from the next period on."""
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def run(self) -> None:
        while not self._stop_event.wait(self.period):
            if not self._running.is_set():
                continue
            result = self._produce()
            if self._stop_event.is_set() or not post_next_tick(self._doc, partial(self._deliver, result)):
                break
        # The document may be long gone; do not keep it alive through this thread object.
        self._doc = None  # type: ignore[assignment]


class SessionResources:
    """The threads and thread-pool jobs of one session, stopped together by ``stop()``."""

    def __init__(self, session_id: str, thread_name: str, executor: Executor | None = None) -> None:
        self.session_id = session_id
        self._thread_name = thread_name
        self._executor = executor
        self._stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._jobs: set[Future] = set()

    @property
    def stopped(self) -> bool:
        return self._stop_event.is_set()

    @property
    def pending_jobs(self) -> int:
        """Pool jobs of this session queued or running."""
        return sum(1 for job in list(self._jobs) if not job.done())

    @property
    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    def start_producer(
        self, doc: Document, produce: Callable[[], Any], deliver: Callable[[Any], Any], period: float
    ) -> ProducerThread:
        """Start a ``ProducerThread`` that ends when this session does."""
        if self.stopped:
            raise RuntimeError(f"session {self.session_id} is already stopped")
        thread = ProducerThread(doc, produce, deliver, period, self._stop_event, name=self._thread_name)
        self._threads.append(thread)
        thread.start()
        return thread

    async def run_blocking(self, doc: Document, work: Callable[[], Any], deliver: Callable[[Any], Any]) -> None:
        """Run ``work()`` on the server's thread pool and deliver its result with the document locked.

        Await it from a callback decorated with ``without_document_lock``, so that other callbacks
        of the session keep running meanwhile. Nothing happens if the session has ended, and a job
        the session's end cancelled is simply dropped.
        """
        if self.stopped or self._executor is None:
            return
        job = self._executor.submit(work)
        self._jobs.add(job)
        try:
            result = await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if job.cancelled():
                return
            raise
        finally:
            self._jobs.discard(job)
        if not self.stopped:
            post_next_tick(doc, partial(deliver, result))

    def stop(self, join_seconds: float = JOIN_SECONDS) -> None:
        """Stop the threads (waiting up to ``join_seconds`` each) and cancel queued jobs."""
        self._stop_event.set()
        for job in list(self._jobs):
            # A job already running cannot be cancelled; run_blocking drops its result.
            job.cancel()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(join_seconds)
        self._threads = [thread for thread in self._threads if thread.is_alive()]


class AppServerState:
    """One app's state on one Bokeh server: shared data, a thread pool, its sessions."""

    def __init__(self, app_name: str, data: Any = None, executor: Executor | None = None) -> None:
        self.app_name = app_name
        self.data = data
        self.executor = executor
        self.loaded_at = time.time()
        self.sessions_created = 0
        self.sessions_destroyed = 0
        self._sessions: dict[str, SessionResources] = {}

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
    def thread_prefix(self) -> str:
        return f"{self.app_name}-session-"

    @property
    def live_sessions(self) -> int:
        return len(self._sessions)

    def resources(self, session_id: str) -> SessionResources:
        """The session's resources, created if ``on_session_created`` did not (it may have failed)."""
        if session_id not in self._sessions:
            name = f"{self.thread_prefix}{session_id[:8]}"
            self._sessions[session_id] = SessionResources(session_id, name, self.executor)
        return self._sessions[session_id]

    def session_created(self, session_id: str) -> SessionResources:
        """Count a new session (``on_session_created``) and return its resources."""
        self.sessions_created += 1
        return self.resources(session_id)

    def session_destroyed(self, session_id: str) -> None:
        """Count a session's end (``on_session_destroyed``) and stop its threads and jobs."""
        self.sessions_destroyed += 1
        resources = self._sessions.pop(session_id, None)
        if resources is not None:
            resources.stop()

    def close(self) -> None:
        """Stop every session's resources and the thread pool (``on_server_unloaded``)."""
        for session_id in list(self._sessions):
            self._sessions.pop(session_id).stop()
        if self.executor is not None:
            # Waits for a job already running (a few milliseconds of work), never for queued ones.
            self.executor.shutdown(wait=True, cancel_futures=True)

    def activity(self, server_context: Any) -> dict[str, int]:
        """Counts a test or a visitor can check: each is read from the live objects, not tallied.

        ``threads`` are this app's session threads still running in the process, and
        ``periodic_callbacks`` those registered on the documents of Bokeh's open sessions.
        """
        return {
            "live_sessions": self.live_sessions,
            "sessions_created": self.sessions_created,
            "sessions_destroyed": self.sessions_destroyed,
            "threads": sum(1 for thread in threading.enumerate() if thread.name.startswith(self.thread_prefix)),
            "periodic_callbacks": sum(_periodic_callbacks(session.document) for session in server_context.sessions),
            "pending_jobs": sum(resources.pending_jobs for resources in self._sessions.values()),
        }


def _periodic_callbacks(doc: Document) -> int:
    return sum(1 for callback in doc.session_callbacks if isinstance(callback, PeriodicCallback))


# The hooks every app shares. An app's app_hooks.py imports them (Bokeh looks hooks up by name
# in that module) and defines on_server_loaded itself, which installs its AppServerState.


def on_server_unloaded(server_context: Any) -> None:
    """Stop what the app's sessions still run, and its thread pool."""
    AppServerState.of(server_context).close()


def on_session_created(session_context: Any) -> None:
    """Count the session and give it its (still empty) resources."""
    AppServerState.of(session_context.server_context).session_created(session_context.id)


def on_session_destroyed(session_context: Any) -> None:
    """Count the end; stop the session's threads and drop its pool jobs (Bokeh stopped its callbacks)."""
    AppServerState.of(session_context.server_context).session_destroyed(session_context.id)


def app_lifecycle(doc: Document) -> tuple[AppServerState, SessionResources]:
    """For ``main.py``: the app's server state and this session's resources."""
    context = doc.session_context
    if context is None:
        raise RuntimeError("this app runs only on a Bokeh server session")
    state = AppServerState.of(context.server_context)
    return state, state.resources(context.id)
