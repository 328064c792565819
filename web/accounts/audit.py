"""The audit trail: every security event of the site, kept in the database and written to the log.

``record(kind, actor=..., subject=..., detail=...)`` is the one way in. It takes the client's
address and browser from the request when there is one (behind a proxy, as ``TRUSTED_PROXY_HOPS``
lets the site see them), adds a row to ``audit_events`` and writes the same entry as one JSON
line to the ``web.audit`` logger. Entries older than ``AUDIT_RETENTION_DAYS`` are deleted when
the site starts and, at most once an hour per process, when a new one is written; nothing else
ever changes or deletes one. ``events(...)`` reads them back for the admin view.

Callers record after the action succeeded, with names (not ids): an entry outlives its accounts.
A failure to write an entry is logged and does not undo or refuse the action it describes.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import delete, insert, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from aperture.audit_record import AUDIT_EVENTS, COMMAND_LINE, AuditRecord
from web.database import db
from web.models import AuditEvent, utcnow

__all__ = ["COMMAND_LINE", "KINDS", "events", "record"]

log = logging.getLogger(__name__)
# One JSON line per entry, under a name of its own: a log shipper can route it apart.
audit_log = logging.getLogger("web.audit")

# Every kind of entry, with what it means (the admin view's filter lists them).
KINDS = {
    "login_succeeded": "logged in with a password (and second factor, if enrolled)",
    "login_failed": "a login refused, and why",
    "single_sign_on_login": "logged in through the single-sign-on provider",
    "logout": "logged out",
    "logins_ended": "login sessions ended: log out everywhere, an admin, a command",
    "backchannel_logout": "the provider ended logins by back-channel logout",
    "backchannel_logout_refused": "a back-channel logout token refused, and why",
    "password_changed": "a new password, from the account page",
    "password_reset_issued": "a one-time reset link printed",
    "password_reset_used": "a reset link set a new password",
    "second_factor_enrolled": "a second factor confirmed",
    "second_factor_used": "a second-factor or recovery code accepted at login",
    "second_factor_reset": "a second factor removed",
    "roles_changed": "an account's roles changed",
    "account_created": "an account made",
    "account_deleted": "an account deleted",
    "share_link_created": "a view published as a share link",
    "share_link_opened": "a share link opened",
    "share_link_revoked": "a share link revoked",
    "websocket_refused": "a private app refused a websocket",
    "websocket_closed": "an open websocket of a private app closed: its login ended or lost the app",
}
PRUNE_EVERY_SECONDS = 3600
_last_prune = {"at": 0.0}


def init_app(app: Flask) -> None:
    """Prune entries past their retention now (the site's start); later writes prune hourly."""
    with app.app_context():
        try:
            migrated = inspect(db.engine).has_table(AuditEvent.__tablename__)
        except SQLAlchemyError:
            migrated = False
        # A database not migrated yet (a fresh clone, before ``db upgrade``): nothing to prune.
        if migrated:
            _prune()


def record(kind: str, actor: str | None = None, subject: str | None = None, detail: str = "") -> None:
    """Record one security event: ``kind`` (see ``KINDS``), done by account ``actor`` (a name,
    ``COMMAND_LINE``, or None for an anonymous visitor) to account ``subject``, with ``detail``.
    The address and browser come from the current request, if any."""
    address = user_agent = ""
    if has_request_context():
        address = request.remote_addr or ""
        user_agent = request.user_agent.string
    entry = AuditRecord(kind, actor or "", subject or "", detail, address, user_agent, at=utcnow())
    audit_log.info(entry.json_line())
    try:
        db.session.execute(insert(AUDIT_EVENTS).values(entry.row()))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not record the audit entry %s", entry.json_line())
        return
    if time.monotonic() - _last_prune["at"] > PRUNE_EVERY_SECONDS:
        _prune()


def _prune() -> None:
    """Delete the entries older than ``AUDIT_RETENTION_DAYS``."""
    _last_prune["at"] = time.monotonic()
    oldest = utcnow() - timedelta(days=int(current_app.config["AUDIT_RETENTION_DAYS"]))
    try:
        deleted = db.session.execute(delete(AuditEvent).where(AuditEvent.at < oldest)).rowcount
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("audit trail not pruned: %s", error.__class__.__name__)
        return
    if deleted:
        log.info("audit trail: %d entry(ies) older than %s deleted", deleted, oldest.date())


def events(
    person: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    """The newest ``limit`` entries, filtered by ``person`` (actor or subject), ``kind`` and time."""
    query = select(AuditEvent)
    if person:
        query = query.where((AuditEvent.actor == person) | (AuditEvent.subject == person))
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return list(db.session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))
