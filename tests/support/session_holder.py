"""Many browsers holding live sessions, without browsers: a websocket per session, as BokehJS keeps it.

Each ``SessionHolder`` opens its page's session with the page's token (ACK, PULL-DOC), then keeps
reading the server's updates and counts them. When the server closes the socket (a Bokeh process
restarting says "going away"), it reconnects with the same token and pulls the document again, as
BokehJS does; the process it reaches rebuilds the session from the token. Speaking the protocol
with Tornado's websocket client keeps a hundred of them cheap.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bokeh.protocol import Protocol
from bokeh.protocol.receiver import Receiver
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.support.bokeh_client import EmbeddedSession

RECONNECT_ATTEMPTS = 5
RECONNECT_DELAY = 0.5


@dataclass
class SessionHolder:
    embed: EmbeddedSession
    origin: str
    updates: int = 0
    connects: int = 0
    updates_after_reconnect: int = 0
    closed_by_server: list[int | None] = field(default_factory=list)
    error: str = ""

    async def hold(self, until: float, start_after: float = 0.0) -> None:
        """Keep the session until ``until`` (monotonic), reconnecting when the server closes it.

        ``start_after`` seconds pass first: visitors arrive over time, not all in one instant.
        """
        await asyncio.sleep(start_after)
        attempts = 0
        while time.monotonic() < until and attempts <= RECONNECT_ATTEMPTS:
            try:
                await self._connected_until(until)
                attempts = 0
            except Exception as failure:  # a refused reconnect is retried, then reported
                attempts += 1
                self.error = f"{type(failure).__name__}: {failure}"
                await asyncio.sleep(RECONNECT_DELAY * attempts)

    async def _connected_until(self, until: float) -> None:
        connection = await connect_like_bokehjs(self.embed, self.origin)
        try:
            receiver, _document = await pull_document(connection)
            self.connects += 1
            self.error = ""
            while time.monotonic() < until:
                remaining = until - time.monotonic()
                try:
                    fragment = await asyncio.wait_for(connection.read_message(), timeout=max(0.01, remaining))
                except TimeoutError:
                    return
                if fragment is None:
                    self.closed_by_server.append(connection.close_code)
                    raise ConnectionError(f"closed by the server ({connection.close_code})")
                message = await receiver.consume(fragment)
                if message is not None and message.msgtype == "PATCH-DOC":
                    self.updates += 1
                    if self.connects > 1:
                        self.updates_after_reconnect += 1
        finally:
            connection.close()


async def connect_like_bokehjs(embed: EmbeddedSession, origin: str, websocket_url: str | None = None, timeout=30.0):
    """The websocket of ``embed``'s session as BokehJS opens it: the page's ``Origin``, the token as
    subprotocol, small frames sent at once."""
    request = HTTPRequest(websocket_url or embed.websocket_url, headers={"Origin": origin}, request_timeout=timeout)
    connection = await websocket_connect(request, subprotocols=["bokeh", embed.token])
    connection.protocol.set_nodelay(True)
    return connection


async def pull_document(connection) -> tuple[Receiver, dict]:
    """How BokehJS starts a session: the server's ``ACK``, then ``PULL-DOC-REQ`` → ``PULL-DOC-REPLY``.

    Returns the receiver (for the messages that follow) and the document's JSON."""
    protocol = Protocol()
    receiver = Receiver(protocol)
    await expect_message(connection, receiver, "ACK")
    pull = protocol.create("PULL-DOC-REQ")
    for fragment in (pull.header_json, pull.metadata_json, pull.content_json):
        await connection.write_message(fragment)
    reply = await expect_message(connection, receiver, "PULL-DOC-REPLY")
    return receiver, reply.content["doc"]


class ProtocolFailure(ConnectionError):
    """The server closed the websocket, or answered ERROR, before the message a client waited for."""


async def expect_message(connection, receiver: Receiver, msgtype: str):
    """The next message of type ``msgtype`` on a Bokeh websocket; others (a ``PATCH-DOC``) are skipped."""
    while True:
        fragment = await connection.read_message()
        if fragment is None:
            raise ProtocolFailure(f"the server closed the websocket before {msgtype} ({connection.close_code})")
        message = await receiver.consume(fragment)
        if message is None:
            continue
        if message.msgtype == msgtype:
            return message
        if message.msgtype == "ERROR":
            raise ProtocolFailure(f"the server answered ERROR: {message.content}")
