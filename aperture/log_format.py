"""How the product's processes write log lines: plain text (the default) or JSON lines.

``LOG_FORMAT=json`` makes every line one JSON object (time, level, logger, message, then the
record's structured fields) for a log collector. A record carries fields through
``log.info(message, extra={"fields": {...}})``: plain text shows them after the message as
``key=value`` pairs (quoted and escaped when needed, so a visitor's input cannot start a line of
its own), JSON as keys of the object. Fields the message already says (``"in_message": ("path",)``
in ``extra``) are left out of plain text. The site (``web``) and the Bokeh supervisor and server
processes (``bkruntime``) all format their lines with ``log_formatter``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aperture.environment import ConfigurationError, Environ, env_str

LOG_FORMATS = ("plain", "json")
FIELDS = "fields"
IN_MESSAGE = "in_message"
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A plain value made of these characters needs no quotes; anything else is JSON-quoted.
_BARE_VALUE = re.compile(r"[A-Za-z0-9_.:/,+@%*-]+")


def log_format_setting(environ: Environ) -> str:
    """``LOG_FORMAT``: ``plain`` (default) or ``json``."""
    value = env_str(environ, "LOG_FORMAT", "plain").lower()
    if value not in LOG_FORMATS:
        raise ConfigurationError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, FIELDS, None)
    return dict(fields) if isinstance(fields, Mapping) else {}


def logfmt(fields: Mapping[str, Any], prefix: str = "") -> str:
    """``key=value`` pairs; nested mappings become ``key.sub=value``, lists comma-joined."""
    pairs = []
    for key, value in fields.items():
        if value is None:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            nested = logfmt(value, prefix=f"{name}.")
            if nested:
                pairs.append(nested)
            continue
        pairs.append(f"{_bare_or_quoted(name)}={plain_value(value)}")
    return " ".join(pairs)


def plain_value(value: Any) -> str:
    """One value as plain text: bare when it is safe to, else a JSON string (escapes included)."""
    if isinstance(value, list | tuple | set | frozenset):
        value = ",".join(str(item) for item in value)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    return _bare_or_quoted(str(value))


def _bare_or_quoted(text: str) -> str:
    return text if _BARE_VALUE.fullmatch(text) else json.dumps(text)


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value...``; tracebacks follow on their own lines."""

    def __init__(self, static_fields: Mapping[str, Any] | None = None) -> None:
        super().__init__(PLAIN_FORMAT)
        self.static_fields = dict(static_fields or {})

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        said = getattr(record, IN_MESSAGE, ())
        fields = {key: value for key, value in record_fields(record).items() if key not in said}
        pairs = logfmt({**fields, **self.static_fields})
        return f"{line} {pairs}" if pairs else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    the record's fields, and ``exception`` (the traceback as one string) when there is one."""

    def __init__(self, static_fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.static_fields = dict(static_fields or {})

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {**self.static_fields, **record_fields(record)}
        # The standard keys win over a field of the same name.
        entry.update(
            time=datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            level=record.levelname,
            logger=record.name,
            message=record.getMessage(),
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: every character that could end or fake a line is escaped.
        return json.dumps(entry, default=str)


def log_formatter(log_format: str, static_fields: Mapping[str, Any] | None = None) -> logging.Formatter:
    """The formatter for ``LOG_FORMAT``; ``static_fields`` go on every line (a process index...)."""
    if log_format == "json":
        return JsonFormatter(static_fields)
    return PlainFormatter(static_fields)
