"""What one request of the site did with live apps, kept on ``flask.g`` while it runs.

The embed extension's two ways in (``token_embed``, ``pulled_embed``) are decorated with
``recorded_embed``, so every embed a view or a template makes is noted with its app, validated
arguments, path (token or pull), how it ended and how long it took; the error pages add the
outcome they answered (``note_outcome``). The request log (``web.operations.request_log``) and the metrics
(``web.operations.metrics``) read ``page_record()`` when the response is ready; each calls ``init_app``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Flask, g, has_request_context

from web.embedding.bokeh_pull import BokehUnavailable

_RECORD = "page_record"


@dataclass
class EmbedRecord:
    """One live embed: ``outcome`` is ``ok`` or ``bokeh_unavailable``."""

    app: str
    kind: str
    arguments: dict[str, Any]
    outcome: str
    seconds: float
    process: int | None = None
    reason: str | None = None


@dataclass
class PageRecord:
    """The embeds of one request and the outcome an error page gave it (None: by status)."""

    started: float = field(default_factory=time.perf_counter)
    embeds: list[EmbedRecord] = field(default_factory=list)
    outcome: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def page_record() -> PageRecord | None:
    """This request's record (None outside a request)."""
    if not has_request_context():
        return None
    if _RECORD not in g:
        setattr(g, _RECORD, PageRecord())
    return g.get(_RECORD)


def start_record() -> None:
    """Start the request's record, and its timer (``init_app`` makes it the first hook)."""
    if has_request_context():
        setattr(g, _RECORD, PageRecord())


def init_app(app: Flask) -> None:
    """Start every request's record before any other ``before_request`` hook runs (once, however
    many users of the record ask)."""
    hooks = app.before_request_funcs.setdefault(None, [])
    if start_record not in hooks:
        hooks.insert(0, start_record)


def note_outcome(outcome: str, **details: Any) -> None:
    """What the response says happened (``invalid_argument``, ``bokeh_unavailable``...)."""
    record = page_record()
    if record is not None:
        record.outcome = outcome
        record.details.update(details)


def recorded_embed(kind: str) -> Callable:
    """Decorate an embed method ``(self, spec, arguments, ...) -> LiveEmbed`` to note each call."""

    def decorate(embed: Callable) -> Callable:
        @wraps(embed)
        def recorded(self, spec, arguments: Mapping[str, object], *args, **kwargs):
            started = time.perf_counter()
            try:
                live = embed(self, spec, arguments, *args, **kwargs)
            except BokehUnavailable as error:
                failed = EmbedRecord(spec.name, kind, dict(arguments), "bokeh_unavailable", _since(started))
                failed.reason = error.reason
                _note_embed(failed)
                raise
            _note_embed(EmbedRecord(spec.name, kind, dict(arguments), "ok", _since(started), live.process))
            return live

        return recorded

    return decorate


def _since(started: float) -> float:
    return time.perf_counter() - started


def _note_embed(embed: EmbedRecord) -> None:
    record = page_record()
    if record is not None:
        record.embeds.append(embed)
