"""Open websockets of private apps close when the login that let them in ends or loses the app.

The login check (``bkruntime.auth_module``) runs when a page or websocket opens; a page already
open would keep its session, and the app would keep running the callbacks of a visitor who has
logged out. So every ``LOGIN_CHECK_SECONDS`` each Bokeh process asks the site's database, in one
query, which of the logins behind its open websockets are still open (``bkruntime.login_records``,
uncached), and closes the others' websockets with a code the site's page script turns into a
notice (``static/live_session.js``):

* ``LOGIN_ENDED`` (4001): the login ended (logged out anywhere, by an admin, a new password, the
  account deleted) or expired;
* ``ACCESS_ENDED`` (4003): the login is open but its account may no longer open this app (a role
  removed); the page then lists what the visitor may still open.

Each close is recorded in the site's audit trail (``websocket_closed``, ``bkruntime.audit_writer``).
A database that cannot be read closes nothing (new websockets are refused meanwhile). Bokeh keeps
its connections in a private set (``bkruntime.graceful_shutdown.open_websockets``); if an upgrade
moves it, the sweep is not installed and a warning says so: logins are still checked whenever a
page or websocket opens, but open pages keep their sessions until they close.
"""

from __future__ import annotations

import logging
from typing import Any

from tornado.ioloop import PeriodicCallback

from aperture.access import may_open
from aperture.catalog import CATALOG
from bkruntime.audit_writer import AuditWriter
from bkruntime.auth_module import LOGIN_ATTRIBUTE
from bkruntime.graceful_shutdown import open_websockets
from bkruntime.login_records import LoginRecords

log = logging.getLogger(__name__)

LOGIN_ENDED = 4001
ACCESS_ENDED = 4003
LOGIN_ENDED_REASON = "login ended"
ACCESS_ENDED_REASON = "access ended"


def sweep(server: Any, records: LoginRecords, audit: AuditWriter | None = None) -> int:
    """Close the websockets of ``server`` whose login ended or lost their app; how many were closed."""
    held = [(socket, getattr(socket, LOGIN_ATTRIBUTE)) for socket in open_websockets(server) or () if _held(socket)]
    if not held:
        return 0
    open_logins = records.open_among(login_id for _, (login_id, _) in held)
    if open_logins is None:
        return 0
    closed = 0
    for socket, (login_id, app) in held:
        login = open_logins.get(login_id)
        spec = CATALOG.get(app)
        if login is None:
            code, reason = LOGIN_ENDED, LOGIN_ENDED_REASON
        elif spec is not None and not may_open(spec, login.visitor):
            code, reason = ACCESS_ENDED, ACCESS_ENDED_REASON
        else:
            continue
        # Only once: the handler stays in Bokeh's set until the browser's close frame arrives.
        setattr(socket, LOGIN_ATTRIBUTE, None)
        socket.close(code, reason)
        closed += 1
        log.info("closed a websocket of %s: login %s %s", app, login_id, reason)
        if audit is not None:
            actor = login.visitor.name if login is not None else None
            audit.record(
                "websocket_closed", socket, actor=actor, subject=actor, detail=f"{app}: login {login_id} {reason}"
            )
    return closed


def _held(socket: Any) -> bool:
    return socket is not None and getattr(socket, LOGIN_ATTRIBUTE, None) is not None


def install(
    server: Any, records: LoginRecords, interval_seconds: float, audit: AuditWriter | None = None
) -> PeriodicCallback | None:
    """Sweep ``server``'s websockets every ``interval_seconds`` (call before its loop runs)."""
    if open_websockets(server) is None:
        log.warning("Bokeh's connection set moved; open pages of private apps stay open after their login ends")
        return None
    callback = PeriodicCallback(lambda: sweep(server, records, audit), interval_seconds * 1000)
    callback.start()
    return callback
