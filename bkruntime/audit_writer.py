"""The Bokeh side of the audit trail: what a Bokeh process saw (a websocket of a private app it
refused), recorded as the site records.

A Bokeh process has no Flask request and never imports the site, so it writes the entry itself,
through the shared contract (``aperture.audit_record``): one JSON line to the ``bkruntime.audit``
logger at once, and the row into the site's database (``DATABASE_URL``, the same default as the
site's: the instance folder's SQLite file) from one background thread, never in the event loop.
If the database cannot take it (not migrated yet, not answering) the line in the log is the
record, and a warning says so, at most once a minute. A flood of refused handshakes cannot pile
up memory: beyond ``MAX_WAITING`` unwritten rows, new ones are only logged.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from aperture.audit_record import AUDIT_EVENTS, AuditRecord

log = logging.getLogger(__name__)
audit_log = logging.getLogger("bkruntime.audit")

MAX_WAITING = 1000
WARN_EVERY_SECONDS = 60.0


class AuditWriter:
    """Writes audit entries into the database at ``database_url`` (and the log)."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._engine = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        self._lock = threading.Lock()
        self._waiting = 0
        self._warned_at = -WARN_EVERY_SECONDS

    def record(self, kind: str, handler: Any, actor: str | None = None, subject: str | None = None, detail: str = ""):
        """Record an event of ``kind`` on the request of Bokeh's ``handler`` (its address and browser)."""
        request = handler.request
        self.write(
            AuditRecord(
                kind,
                actor=actor or "",
                subject=subject or "",
                detail=detail,
                address=request.remote_ip or "",
                user_agent=request.headers.get("User-Agent", ""),
            )
        )

    def websocket_refused(self, handler: Any, app: str, visitor: str | None, reason: str) -> None:
        """Record that the websocket ``handler`` asked for to ``app`` was refused, and why."""
        self.record("websocket_refused", handler, actor=visitor, detail=f"{app}: {reason}")

    def write(self, entry: AuditRecord) -> None:
        """Log ``entry`` now, and hand it to the background thread for the database."""
        audit_log.info(entry.json_line())
        with self._lock:
            if self._waiting >= MAX_WAITING:
                return
            self._waiting += 1
        self._executor.submit(self._write, entry)

    def wait_until_written(self) -> None:
        """Block until every entry handed over so far is written or given up on (tests, shutdown)."""
        self._executor.submit(lambda: None).result()

    def _write(self, entry: AuditRecord) -> None:
        try:
            from sqlalchemy import create_engine

            if self._engine is None:
                self._engine = create_engine(self._database_url, pool_pre_ping=True)
            with self._engine.begin() as connection:
                connection.execute(AUDIT_EVENTS.insert().values(entry.row()))
        except Exception as error:  # any failure of the database: the log line stays the record
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning("audit entry kept in the log only, not the database: %s", error.__class__.__name__)
        finally:
            with self._lock:
                self._waiting -= 1


@cache
def process_audit_writer(database_url: str) -> AuditWriter:
    """This process's one writer for ``database_url`` (the login gate and the login sweep share it:
    one background thread, one connection pool)."""
    return AuditWriter(database_url)
