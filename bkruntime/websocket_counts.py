"""Count the Bokeh protocol messages each app's websockets receive and send.

Bokeh offers no hook for them, but every message passes through two public methods:
``ProtocolHandler.handle(message, connection)`` for each complete message a browser sends, and
``WSHandler.send_message(message)`` for each one the server sends (ACK, PATCH-DOC, OK...).
``install(received, sent)``, run by each Bokeh process before its server starts, wraps both so
that they call ``received(app, msgtype)`` / ``sent(app, msgtype)`` first and then do exactly what
they did. If a Bokeh upgrade moves or reshapes either method, ``install()`` logs a warning and
leaves Bokeh as it is (the counts stay at zero); a test fails on such an upgrade.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

log = logging.getLogger(__name__)

Count = Callable[[str, str], None]
_WRAPPED = "_aperture_counted"


def _app_name(context: Any) -> str:
    url = getattr(context, "url", None) or ""
    return url.strip("/") or "unknown"


def _has_shape(method: Any, parameters: list[str]) -> bool:
    return inspect.iscoroutinefunction(method) and list(inspect.signature(method).parameters) == parameters


def install(received: Count, sent: Count) -> bool:
    """Count every message through ``received``/``sent``; False (and a warning) if Bokeh moved."""
    from bokeh.server.protocol_handler import ProtocolHandler
    from bokeh.server.views.ws import WSHandler

    handle = getattr(ProtocolHandler, "handle", None)
    send = getattr(WSHandler, "send_message", None)
    if getattr(handle, _WRAPPED, False) and getattr(send, _WRAPPED, False):
        return True
    if not (_has_shape(handle, ["self", "message", "connection"]) and _has_shape(send, ["self", "message"])):
        log.warning("Bokeh's websocket message methods changed; websocket messages are not counted")
        return False

    @wraps(handle)
    async def counted_handle(self, message, connection):
        received(_app_name(getattr(connection, "application_context", None)), message.msgtype)
        return await handle(self, message, connection)

    @wraps(send)
    async def counted_send(self, message):
        sent(_app_name(getattr(self, "application_context", None)), message.msgtype)
        return await send(self, message)

    for wrapper in (counted_handle, counted_send):
        setattr(wrapper, _WRAPPED, True)
    ProtocolHandler.handle = counted_handle
    WSHandler.send_message = counted_send
    return True
