"""One entry of the audit trail, as both sides write it: a row of ``audit_events`` and a JSON log line.

The site records through ``web.accounts.audit``; a Bokeh process, which has no Flask request and
never imports the site, records the websockets it refuses through ``bkruntime.audit_writer``.
Both write the same row to the same database (``aperture.database_url``) and the same line to
their log, so the trail is one, whichever process saw the event.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

# The longest text each column keeps (the rest is cut off, never refused).
LIMITS = {"kind": 64, "actor": 64, "subject": 64, "detail": 500, "address": 64, "user_agent": 255}
# The actor of events a ``flask --app web users`` command caused (no account name has a space).
COMMAND_LINE = "command line"
# The table as both sides write it (the site's model, ``web.models.AuditEvent``, reads it; the
# migrations make it).
AUDIT_EVENTS = Table(
    "audit_events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    *(Column(name, String(longest), nullable=False) for name, longest in LIMITS.items()),
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditRecord:
    """What happened (``kind``), who did it (``actor``), to whom (``subject``), and from where."""

    kind: str
    actor: str = ""
    subject: str = ""
    detail: str = ""
    address: str = ""
    user_agent: str = ""
    at: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        for name, longest in LIMITS.items():
            object.__setattr__(self, name, str(getattr(self, name) or "")[:longest])

    def row(self) -> dict[str, object]:
        """The values of its ``audit_events`` row (for ``INSERT``)."""
        return asdict(self)

    def json_line(self) -> str:
        """The record as one line of JSON, for the log."""
        return json.dumps({**self.row(), "at": self.at.isoformat()}, sort_keys=True)
