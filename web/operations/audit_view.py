"""The audit trail in the admin view: ``/admin/audit`` (a page) and ``/api/admin/audit`` (JSON).

Both take the same filters in the query: ``person`` (an account name, as actor or subject),
``kind`` (one of ``web.accounts.audit.KINDS``), ``since`` and ``until`` (ISO dates or times, UTC)
and ``limit`` (the newest that many, at most ``MAX_LIMIT``). Admins only, as the rest of the admin
view; read only: nothing here, or anywhere, changes or deletes an entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, jsonify, render_template, request

from web.accounts.audit import KINDS, events
from web.models import AuditEvent, as_utc
from web.operations.admin import admins_only

bp = Blueprint("audit_view", __name__)
bp.before_request(admins_only)

DEFAULT_LIMIT = 200
MAX_LIMIT = 5000


def _moment(name: str) -> datetime | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        abort(400, description=f"{name} must be an ISO date or time like 2026-01-31 or 2026-01-31T12:00, not {text!r}.")
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filters() -> dict[str, object]:
    """The query's filters, checked (a bad one: 400 saying which)."""
    kind = (request.args.get("kind") or "").strip()
    if kind and kind not in KINDS:
        abort(400, description=f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    limit_text = (request.args.get("limit") or str(DEFAULT_LIMIT)).strip()
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        abort(400, description=f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit_text!r}.")
    return {
        "person": (request.args.get("person") or "").strip().lower() or None,
        "kind": kind or None,
        "since": _moment("since"),
        "until": _moment("until"),
        "limit": int(limit_text),
    }


def as_json(event: AuditEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "at": as_utc(event.at).isoformat(),
        "kind": event.kind,
        "actor": event.actor,
        "subject": event.subject,
        "detail": event.detail,
        "address": event.address,
        "user_agent": event.user_agent,
    }


@bp.get("/admin/audit")
def page():
    """The newest entries matching the filters, as a page with the filter form."""
    filters = _filters()
    body = render_template("admin_audit.html", events=events(**filters), kinds=KINDS, filters=filters)
    return body, 200, {"Cache-Control": "no-store"}


@bp.get("/api/admin/audit")
def api():
    """The same entries as JSON, newest first."""
    filters = _filters()
    response = jsonify({"events": [as_json(event) for event in events(**filters)]})
    response.cache_control.no_store = True
    return response
