"""What one Bokeh process tells the site's admin view: sessions per app, memory, recent errors.

``python -m bkruntime.server_process`` adds a ``SessionCounter`` handler to every app (Bokeh calls
each handler's session hooks, so apps need no hooks of their own for this), keeps the latest
errors logged in the process in a ``RecentErrors`` logging handler, and answers ``/stats`` with
``process_stats``. The per-process ports that answer it are reachable by browsers (pulled
sessions go there), so ``/stats`` (and ``/readyz?recheck=1``) want a short-lived credential signed
with the shared Bokeh key (``stats_credential``), which only the site can make.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, deque
from typing import Any

import psutil
from bokeh.application.handlers import Handler

from aperture.endpoints import CREDENTIAL_HEADER, STATS_PATH, credential_is_valid
from bkruntime.kit.process_identity import describe_process, process_index

MAX_ERRORS = 20
_MAX_ERROR_TEXT = 300


class SessionCounter(Handler):
    """Counts the sessions Bokeh creates and destroys for one app (a no-op for its document)."""

    def __init__(self, app: str, created: Counter, destroyed: Counter) -> None:
        super().__init__()
        self._app = app
        self._created = created
        self._destroyed = destroyed

    def modify_document(self, doc) -> None:
        """Nothing: the app's own handler builds the document."""

    async def on_session_created(self, session_context) -> None:
        self._created[self._app] += 1

    async def on_session_destroyed(self, session_context) -> None:
        self._destroyed[self._app] += 1


class RecentErrors(logging.Handler):
    """Keeps the last ``MAX_ERRORS`` error records of the process, one short line each."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: deque[dict[str, Any]] = deque(maxlen=MAX_ERRORS)
        self.total = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage().splitlines()[0] if record.getMessage() else ""
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                text += f" ({type(error).__name__}: {error})"
        except Exception:  # a record that cannot format itself must not break logging
            text = str(record.msg)
        self.total += 1
        self.records.append(
            {
                "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.created)),
                "logger": record.name,
                "message": text[:_MAX_ERROR_TEXT],
            }
        )


class ProcessStats:
    """The counters and error log of this process, gathered for ``/stats``."""

    def __init__(self) -> None:
        self.created: Counter = Counter()
        self.destroyed: Counter = Counter()
        self.errors = RecentErrors()
        self.started_at = time.time()

    def counter_for(self, app: str) -> SessionCounter:
        return SessionCounter(app, self.created, self.destroyed)

    def install_error_log(self) -> None:
        logging.getLogger().addHandler(self.errors)

    def report(self, open_sessions: dict[str, int]) -> dict[str, Any]:
        """This process's stats; ``open_sessions`` maps each app to its sessions open now."""
        memory = psutil.Process().memory_info()
        return {
            "process": process_index(),
            "pid": os.getpid(),
            "describe": describe_process(),
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "rss_bytes": memory.rss,
            "apps": {
                name: {
                    "open_sessions": count,
                    "sessions_created": self.created[name],
                    "sessions_destroyed": self.destroyed[name],
                }
                for name, count in open_sessions.items()
            },
            "errors_total": self.errors.total,
            "recent_errors": list(self.errors.records),
        }


def stats_handler(stats: ProcessStats, bokeh_secret: str):
    """A Tornado handler answering ``stats.report`` as JSON to holders of a valid credential."""
    from tornado.web import RequestHandler

    class ProcessStatsHandler(RequestHandler):
        def get(self) -> None:
            self.set_header("Cache-Control", "no-store")
            if not credential_is_valid(bokeh_secret, self.request.headers.get(CREDENTIAL_HEADER, "")):
                self.set_status(403)
                self.write({"error": "forbidden", "message": f"{STATS_PATH} needs a valid {CREDENTIAL_HEADER}"})
                return
            open_sessions = {
                path.strip("/"): len(list(context.sessions)) for path, context in self.application.applications.items()
            }
            self.write(stats.report(open_sessions))

    return ProcessStatsHandler
