"""One log line per request of the site: what it showed, with which arguments, how it ended, how long.

``init_app(app)`` times each request and, when its response is ready, logs one line on
``web.request``: method, path, status, ``outcome`` (``ok``, ``invalid_argument``,
``bokeh_unavailable``, ``not_found``...), ``duration_ms``, the client's address, and for a page
with live apps the app(s), the path each was embedded by (``token`` or ``pull``), the validated
arguments of a page's one app and the Bokeh process a pulled session lives in
(``web.embedding.page_record``). Only validated arguments are logged, never the raw query string.
``LOG_FORMAT`` decides plain text or JSON (``aperture.log_format``). This line replaces gunicorn's
access log, which would say the same thing less usefully (``gunicorn_log_config``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, request

from aperture.log_format import FIELDS, IN_MESSAGE, plain_value
from web.embedding.page_record import PageRecord, page_record
from web.embedding.page_record import init_app as page_record_init

log = logging.getLogger("web.request")


def page_outcome(record: PageRecord, status: int) -> str:
    """What happened, in one word: what an error page noted, else what the embeds or the status say."""
    if record.outcome:
        return record.outcome
    if any(embed.outcome != "ok" for embed in record.embeds):
        return "bokeh_unavailable"
    if status < 300:
        return "ok"
    if status == 304:
        return "not_modified"
    if status < 400:
        return "redirect"
    if status == 404:
        return "not_found"
    return "client_error" if status < 500 else "server_error"


def request_fields(record: PageRecord, status: int, seconds: float) -> dict[str, Any]:
    """The fields of a request's line (``request`` is the current one)."""
    fields: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": status,
        "outcome": page_outcome(record, status),
        "duration_ms": round(seconds * 1000, 1),
    }
    embeds = record.embeds
    if len(embeds) == 1:
        (embed,) = embeds
        fields.update(
            app=embed.app, kind=embed.kind, arguments=embed.arguments, process=embed.process, reason=embed.reason
        )
    elif embeds:
        fields["app"] = [embed.app for embed in embeds]
        fields["kind"] = sorted({embed.kind for embed in embeds})
        unavailable = [embed.app for embed in embeds if embed.outcome != "ok"]
        if unavailable:
            fields["unavailable"] = unavailable
    fields.update(record.details)
    fields["remote_addr"] = request.remote_addr
    return {key: value for key, value in fields.items() if value is not None}


def log_request(response: Response) -> Response:
    """Log the request's one line (an ``after_request`` hook)."""
    record = page_record()
    if record is not None:
        fields = request_fields(record, response.status_code, time.perf_counter() - record.started)
        message = f"{request.method} {plain_value(request.path)} {response.status_code}"
        log.info(message, extra={FIELDS: fields, IN_MESSAGE: ("method", "path", "status")})
    return response


def init_app(app: Flask) -> None:
    """Log every request's line when its response is ready."""
    page_record_init(app)
    app.after_request(log_request)


def gunicorn_log_config(log_format: str) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its own lines in ``LOG_FORMAT``, and no access log (the
    site logs each request itself). Empty for plain text, where gunicorn's defaults do."""
    if log_format != "json":
        return {}
    stream = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "aperture.log_format.JsonFormatter"}},
        "handlers": {"console": stream},
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
    }
