"""The log of a Bokeh server process: one format for every line, one line per refused websocket.

``install(log_format, process)`` runs in each server process before Bokeh's ``serve`` starts: it
gives the root logger the one handler every line goes through (``LOG_FORMAT``, the process index
on each line; Python warnings too); Bokeh's own ``basicConfig`` then leaves it alone, as it does
any configured root.

A websocket with a bad or expired token costs 13–14 lines as Bokeh ships: ``WSHandler.open``
logs "WebSocket connection opened" before it checks the token, a second line for a bad signature,
then raises ``ProtocolError``, which tornado logs as an uncaught exception with its traceback.
Anyone could flood the log that way. ``RefusedWebsocketFilter`` turns the traceback record into
one warning line naming the request and the reason, drops the two lines that only announce it,
and reports each refusal (the metrics count them by reason). It changes log records only; Bokeh
itself is not patched. With ``BOKEH_SERVER_LOG_LEVEL=debug`` nothing is dropped.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from aperture.log_format import FIELDS, log_formatter

log = logging.getLogger(__name__)

# Where the records come from: tornado logs uncaught handler and callback errors on its
# application logger; Bokeh's websocket handler logs on its module's logger.
TORNADO_LOGGER = "tornado.application"
BOKEH_WS_LOGGER = "bokeh.server.views.ws"
# Bokeh's own lines (their format strings) that only announce what the refusal line says.
_ANNOUNCEMENTS = ("WebSocket connection opened", "Token for session %r had invalid signature")
# Bokeh's one-line refusal of a page from an origin it does not allow (kept, and counted).
_ORIGIN_REFUSAL = "Refusing websocket connection from Origin"
# Bokeh's ProtocolError messages in WSHandler.open, by the start of their text.
REASONS = {
    "Invalid token signature": "invalid_signature",
    "Token is expired": "expired",
    "No token received": "no_token",
    "Session expiry has not been provided": "no_expiry",
    "Subprotocol header is not": "bad_subprotocol",
}


def refusal_reason(error: BaseException) -> str:
    """A short name for why Bokeh refused a websocket (``other`` for a message it does not know)."""
    text = str(error)
    return next((reason for start, reason in REASONS.items() if text.startswith(start)), "other")


class RefusedWebsocketFilter(logging.Filter):
    """Install on ``tornado.application`` and ``bokeh.server.views.ws`` (see the module's docstring).

    ``on_refused(reason)`` is called once per refused websocket.
    """

    def __init__(self, on_refused: Callable[[str], None] = lambda reason: None) -> None:
        super().__init__()
        self.on_refused = on_refused

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == BOKEH_WS_LOGGER:
            return self._bokeh_line(record)
        error = record.exc_info[1] if record.exc_info else None
        if error is None or not _is_protocol_error(error):
            return True
        reason = refusal_reason(error)
        self.on_refused(reason)
        if not str(record.msg).startswith("Uncaught exception"):
            # A session that could not be created: Bokeh has logged the reason on a line of its own.
            return _verbose()
        request = record.args[0] if isinstance(record.args, tuple) and record.args else "websocket"
        record.msg, record.args = "websocket refused, %s: %s", (request, str(error))
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info, record.exc_text = None, None
        setattr(record, FIELDS, {"event": "websocket_refused", "reason": reason})
        return True

    def _bokeh_line(self, record: logging.LogRecord) -> bool:
        if record.msg in _ANNOUNCEMENTS:
            return _verbose()
        if str(record.msg).startswith(_ORIGIN_REFUSAL):
            self.on_refused("origin")
        return True


def _is_protocol_error(error: BaseException) -> bool:
    from bokeh.protocol.exceptions import ProtocolError

    return isinstance(error, ProtocolError)


def _verbose() -> bool:
    return logging.getLogger("bokeh").isEnabledFor(logging.DEBUG)


def install(log_format: str, process: int | None, on_refused: Callable[[str], None] = lambda reason: None) -> None:
    """Format every line of this process by ``log_format`` and log refused websockets in one line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(log_format, {"process": process} if process is not None else None))
    logging.getLogger().addHandler(handler)
    # Warnings (Bokeh's among them) become log lines in the same format instead of raw stderr.
    logging.captureWarnings(True)
    refusals = RefusedWebsocketFilter(on_refused)
    for name in (TORNADO_LOGGER, BOKEH_WS_LOGGER):
        logging.getLogger(name).addFilter(refusals)
