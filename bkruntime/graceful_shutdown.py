"""SIGTERM to a Bokeh process: stop accepting, finish what is in flight, close websockets cleanly, exit.

Bokeh's own handler stops the event loop at once: requests in flight are cut, and every browser's
websocket ends without a close frame. ``install(server)`` replaces it, once the loop runs, with:

1. stop listening (the shared socket stays open in the supervisor and the other processes, so new
   connections go to them);
2. close each websocket with 1001 "going away", which BokehJS answers by reconnecting at once,
   through the shared port, to a process that rebuilds the session from the page's token;
3. wait up to ``DRAIN_SECONDS`` for the HTTP connections to end (a request in flight is answered;
   Tornado offers no way to tell it from an idle keep-alive connection, which is closed at the end);
4. stop the server as Bokeh would.

Bokeh keeps its connections in a private set (``BokehTornado._clients``) and Tornado its HTTP
connections in ``HTTPServer._connections``; if an upgrade moves them, the process stops without
draining and a warning says so (a unit test fails on such an upgrade).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

log = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0
GOING_AWAY = 1001


def open_websockets(server: Any) -> list[Any]:
    """The websocket handlers of ``server``'s connections, or None if Bokeh's internals moved."""
    clients = getattr(getattr(server, "_tornado", None), "_clients", None)
    if clients is None:
        return None
    return [getattr(connection, "_socket", None) for connection in list(clients)]


async def shut_down(server: Any, drain_seconds: float = DRAIN_SECONDS) -> None:
    """Drain and stop ``server`` (see the module docstring); the loop stops afterwards."""
    started = time.monotonic()
    http = server._http
    http.stop()
    sockets = open_websockets(server)
    if sockets is None:
        log.warning("Bokeh's connection set moved; websockets close when the process exits")
        sockets = []
    log.info("shutting down: %d websocket(s) to close", len(sockets))
    for socket in sockets:
        if socket is not None:
            socket.close(GOING_AWAY, "server restarting")
    deadline = started + drain_seconds
    while (open_websockets(server) or http._connections) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if http._connections:
        log.info("closing %d HTTP connection(s) still open after %g s", len(http._connections), drain_seconds)
    try:
        await asyncio.wait_for(http.close_all_connections(), timeout=1.0)
    except TimeoutError:
        log.warning("HTTP connections did not close; stopping anyway")
    log.info("shut down in %.2f s", time.monotonic() - started)
    server.io_loop.stop()


def drainable(server: Any) -> bool:
    """Whether the internals draining relies on are where this module looks for them."""
    http = getattr(server, "_http", None)
    return open_websockets(server) is not None and isinstance(getattr(http, "_connections", None), set)


def install(server: Any, drain_seconds: float = DRAIN_SECONDS) -> None:
    """Handle SIGTERM (and SIGINT) on ``server``'s loop by draining it; call before it runs."""
    if not drainable(server):
        log.warning("Bokeh's server internals moved; SIGTERM stops this process without draining")
        return

    draining: list[asyncio.Task] = []

    def on_signal() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # A second signal while draining changes nothing; the supervisor kills at its deadline.
            loop.add_signal_handler(signum, lambda: None)
        draining.append(loop.create_task(shut_down(server, drain_seconds)))

    def take_over_signals() -> None:
        # Runs once the loop has started, after Bokeh installed its own SIGTERM handler.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)

    server.io_loop.add_callback(take_over_signals)
