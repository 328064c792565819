"""Send the Bokeh server's websocket messages at once (``TCP_NODELAY``), not after a delayed ACK.

Bokeh writes every protocol message as three or more small websocket frames and never turns off
Nagle's algorithm on its sockets, so the kernel holds the second frame back until the browser
acknowledges the first, which browsers delay by up to tens of milliseconds: a latency floor under
every streamed update. Tornado's ``WebSocketHandler.set_nodelay`` is the public switch; Bokeh
gives no hook to call it, so ``install()`` (run by ``bkruntime.server_process``) wraps
``WSHandler.open`` to call it first. If a Bokeh upgrade moves that handler, ``install()`` logs a
warning and leaves Bokeh as it is (a unit test fails on such an upgrade).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger(__name__)

_MARK = "_aperture_nodelay"


def install() -> bool:
    """Make every Bokeh websocket connection send without delay; False if Bokeh's internals moved."""
    try:
        from bokeh.server.urls import per_app_patterns
        from bokeh.server.views.ws import WSHandler
    except ImportError:
        return _moved()
    served = any(route[1] is WSHandler for route in per_app_patterns)
    if not served or not callable(getattr(WSHandler, "set_nodelay", None)):
        return _moved()
    if not getattr(WSHandler.open, _MARK, False):
        WSHandler.open = without_delay(WSHandler.open)
    return True


def _moved() -> bool:
    log.warning("Bokeh's websocket handler moved; its connections keep the delayed-ACK latency")
    return False


def without_delay(open_connection: Any) -> Any:
    """``open_connection`` (a ``WebSocketHandler.open``), turning off Nagle's algorithm first."""

    @functools.wraps(open_connection)
    def open_without_delay(handler, *args, **kwargs):
        handler.set_nodelay(True)
        return open_connection(handler, *args, **kwargs)

    setattr(open_without_delay, _MARK, True)
    return open_without_delay
