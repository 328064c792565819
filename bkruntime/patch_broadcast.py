"""Serialise each document update once and write the same frames to every viewer of the session.

Bokeh 3.9/3.10 sends a document change through ``ServerSession._document_patched``, which asks
every subscribed connection to ``send_patch_document(event)``: each creates and serialises its own
``PATCH-DOC`` and writes it as three websocket messages, each through the handler's write lock
and a task of its own, and the session's lock is held until every write has been flushed to its
socket. A viewer that stops reading thus holds up everyone's next update, and a shared view with
thousands of viewers serialises every update thousands of times.

``install()``, run by each Bokeh process before its server starts, replaces that method with
``document_patched``: one ``PATCH-DOC`` per change (skipping, as Bokeh does, the connection whose
own message made the change), encoded once as websocket frames, and written as one block to each
connection's socket (through its stream when the socket does not take it all) without waiting for
the flush; the links of a shared view's relays first (``RELAY_LINKS``), each being a whole process
of viewers. Up to ``CHUNK`` connections are written at once; beyond that the writes go on in later
turns of the event loop, in order, so the loop keeps answering other sessions. A viewer with more
than the limit (``BOKEH_SLOW_VIEWER_BUFFER_KB``) of updates waiting in its stream, that has stopped
reading them (``bkruntime.slow_viewers``: nothing taken for ``BOKEH_SLOW_VIEWER_STALL_SECONDS``), is
disconnected, not waited for; BokehJS reconnects, and pulls the document as it is then. A viewer
that is behind but reading keeps its updates. A connection in the middle of another message (its
write lock is held) gets the frames once the lock frees; one that negotiated compression gets the
same message through Bokeh's own path.

This relies on Bokeh's and Tornado's internals named in ``_internals_in_place``; if an upgrade moves
one, ``install()`` logs a warning and leaves Bokeh as it is (a test fails on such an upgrade).
Bokeh 3.10 reshaped this step: it serialises each change once by itself (``_PendingPatch``), but
still writes to the connections one after another and waits for each; there ``install()`` declines
with the warning, and updates go Bokeh's way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from tornado.ioloop import IOLoop
from tornado.iostream import IOStream, StreamClosedError

from bkruntime.slow_viewers import HARD_LIMIT_FACTOR, ReadingWatch

log = logging.getLogger(__name__)

# Connections written per turn of the event loop.
CHUNK = 256
DEFAULT_BUFFER_LIMIT = 1024 * 1024
# Updates that may wait for a connection's write lock (held by a reply being written) before the
# viewer is asked whether it still reads (and, HARD_LIMIT_FACTOR times as many, disconnected).
MAX_WAITING_FOR_LOCK = 32
_QUEUE = "_aperture_broadcasts"
_WAITING = "_aperture_waiting_for_lock"
_INSTALLED = "_aperture_broadcast"
# On a shared view's session: the connections that are other processes' links to it (relays,
# ``bkruntime.view_relay``), kept by ``bkruntime.shared_views``; written to before the viewers.
RELAY_LINKS = "_aperture_relay_links"

SentCount = Callable[[str, str, int], None]


def _frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final websocket frame, as a server sends it (RFC 6455 5.2)."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size <= 0xFFFF:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def encode_frames(message: Any) -> bytes:
    """A Bokeh protocol message as the websocket frames ``Message.send`` writes, in one block."""
    parts = [
        _frame(0x1, message.header_json.encode("utf-8")),
        _frame(0x1, message.metadata_json.encode("utf-8")),
        _frame(0x1, message.content_json.encode("utf-8")),
    ]
    for buffer in message.buffers:
        parts.append(_frame(0x1, json.dumps(buffer.ref).encode("utf-8")))
        parts.append(_frame(0x2, bytes(buffer.to_bytes())))
    return b"".join(parts)


def _app_name(connection: Any) -> str:
    url = getattr(getattr(connection, "application_context", None), "url", None) or ""
    return url.strip("/") or "unknown"


class Broadcaster:
    """Writes encoded messages to connections; one per process, holding the settings."""

    def __init__(
        self,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
        sent: SentCount | None = None,
        slow: Callable[[], None] | None = None,
        reading: ReadingWatch | None = None,
    ) -> None:
        self.buffer_limit = buffer_limit
        self.sent = sent
        self.slow = slow
        self.reading = reading or ReadingWatch()
        self.slow_viewers_closed = 0

    def write(self, connection: Any, message: Any, frames: bytes) -> None:
        """Write ``frames`` (``message`` encoded) to ``connection`` now, or as soon as its lock frees."""
        handler = connection._socket
        websocket = handler.ws_connection
        if websocket is None or websocket.is_closing():
            return
        if websocket._compressor is not None:
            IOLoop.current().spawn_callback(handler.send_message, message)
            return
        if handler.write_lock._block._value:
            # The lock is free, and this write does not yield: nothing can take the lock before it
            # ends, so it need not be taken (taking it makes a future per viewer and update).
            self._write_now(handler, websocket.stream, frames)
            return
        lock = handler.write_lock.acquire()
        waiting = getattr(handler, _WAITING, 0)
        # A reply is being written (a document pulled, maybe while the process was busy building
        # apps): the viewer is only dropped if it stopped reading it.
        if waiting >= MAX_WAITING_FOR_LOCK and (
            waiting >= MAX_WAITING_FOR_LOCK * HARD_LIMIT_FACTOR
            or self.reading.stopped_reading(handler, websocket.stream)
        ):
            lock.add_done_callback(lambda _: handler.write_lock.release())
            self._close_slow(handler, websocket.stream, f"{waiting} updates waiting for a reply to be written")
            return
        setattr(handler, _WAITING, waiting + 1)
        lock.add_done_callback(lambda _: self._write_when_locked(handler, frames))

    def _write_when_locked(self, handler: Any, frames: bytes) -> None:
        setattr(handler, _WAITING, getattr(handler, _WAITING, 1) - 1)
        try:
            websocket = handler.ws_connection
            if websocket is not None and not websocket.is_closing():
                self._write_now(handler, websocket.stream, frames)
        finally:
            handler.write_lock.release()

    def _write_now(self, handler: Any, stream: Any, frames: bytes) -> None:
        pending = len(stream._write_buffer)
        if pending + len(frames) > self.buffer_limit:
            if pending + len(frames) > self.buffer_limit * HARD_LIMIT_FACTOR or self.reading.stopped_reading(
                handler, stream
            ):
                self._close_slow(handler, stream, f"{pending // 1024} KiB of updates unread")
                return
        else:
            self.reading.caught_up(handler)
        if not pending and type(stream) is IOStream and not stream.closed():
            # Nothing waiting: hand the frames to the socket at once, without the future (and
            # the loop callback that resolves it) of a stream write; what the socket does not
            # take goes through the stream as usual.
            try:
                sent = stream.write_to_fd(frames)
            except BlockingIOError:
                sent = 0
            except OSError:
                sent = 0  # the stream's own write below meets the error and closes the stream
            if sent == len(frames):
                return
            frames = frames[sent:]
        try:
            stream.write(frames)
        except StreamClosedError:
            pass  # on_close runs (or ran) for it: Bokeh unsubscribes the connection

    def _close_slow(self, handler: Any, stream: Any, why: str) -> None:
        self.slow_viewers_closed += 1
        if self.slow is not None:
            self.slow()
        log.warning("disconnected a viewer that does not read (%s) event=slow_viewer", why)
        # Not a close handshake: that would queue behind what the viewer does not read.
        stream.close()

    def write_all(self, connections: Sequence[Any], message: Any, frames: bytes) -> None:
        for connection in connections:
            try:
                self.write(connection, message, frames)
            except Exception:  # one broken connection must not cost the others their update
                log.exception("writing an update to a viewer failed")


class SessionBroadcasts:
    """One session's updates still being written, in order, a chunk of connections per loop turn."""

    def __init__(self, broadcaster: Broadcaster) -> None:
        self.broadcaster = broadcaster
        self.queue: deque[tuple[Sequence[Any], Any, bytes, asyncio.Future]] = deque()

    def send(self, connections: Sequence[Any], message: Any, frames: bytes) -> asyncio.Future | None:
        """Write now if that is little and nothing is waiting; else queue, and return a future
        resolved once every connection has been written to."""
        if not self.queue and len(connections) <= CHUNK:
            self.broadcaster.write_all(connections, message, frames)
            return None
        done = asyncio.get_running_loop().create_future()
        self.queue.append((connections, message, frames, done))
        if len(self.queue) == 1:
            IOLoop.current().spawn_callback(self._drain)
        return done

    async def _drain(self) -> None:
        while self.queue:
            connections, message, frames, done = self.queue[0]
            for start in range(0, len(connections), CHUNK):
                if start:
                    await asyncio.sleep(0)  # let the loop answer everything else meanwhile
                self.broadcaster.write_all(connections[start : start + CHUNK], message, frames)
            self.queue.popleft()
            if not done.done():
                done.set_result(None)


def _broadcasts(session: Any, broadcaster: Broadcaster) -> SessionBroadcasts:
    broadcasts = getattr(session, _QUEUE, None)
    if broadcasts is None:
        broadcasts = SessionBroadcasts(broadcaster)
        setattr(session, _QUEUE, broadcasts)
    return broadcasts


def patched_sender(broadcaster: Broadcaster) -> Callable[[Any, Any], None]:
    """The replacement of ``ServerSession._document_patched`` writing through ``broadcaster``."""

    def document_patched(self: Any, event: Any) -> None:
        may_suppress = event.setter is self
        if self._pending_writes is None:
            raise RuntimeError(
                "_pending_writes should be non-None when we have a document lock, and we should have the lock "
                "when the document changes"
            )
        # Bokeh's echo rule: the connection whose own message made this change already has it.
        suppressed = self._current_patch_connection if may_suppress else None
        links = getattr(self, RELAY_LINKS, None)
        if links:
            # Relays' links first: each stands for a whole process of viewers waiting for it.
            first = [link for link in links if link is not suppressed and link in self._subscribed_connections]
            rest = [
                connection
                for connection in self._subscribed_connections
                if connection is not suppressed and connection not in links
            ]
            connections = first + rest
        else:
            connections = [connection for connection in self._subscribed_connections if connection is not suppressed]
        if not connections:
            return
        # One message for all: created (and its new models marked as sent) once.
        message = connections[0].protocol.create("PATCH-DOC", [event])
        frames = encode_frames(message)
        written = _broadcasts(self, broadcaster).send(connections, message, frames)
        if written is not None:
            # The session's next change waits until this one is written to all (not flushed).
            self._pending_writes.append(written)
        if broadcaster.sent is not None:
            broadcaster.sent(_app_name(connections[0]), "PATCH-DOC", len(connections))

    setattr(document_patched, _INSTALLED, True)
    return document_patched


def _names(function: Any) -> tuple[str, ...]:
    code = getattr(function, "__code__", None)
    return code.co_names if code is not None else ()


def _internals_in_place() -> bool:
    """Whether the Bokeh and Tornado internals this module relies on are where it expects them."""
    from bokeh.protocol.message import Message
    from bokeh.server.connection import ServerConnection
    from bokeh.server.session import ServerSession
    from bokeh.server.views.ws import WSHandler
    from tornado.iostream import BaseIOStream
    from tornado.locks import Lock, Semaphore
    from tornado.websocket import WebSocketProtocol13

    patched = getattr(ServerSession, "_document_patched", None)
    expected = {"_subscribed_connections", "_current_patch_connection", "_pending_writes", "send_patch_document"}
    return (
        expected <= set(_names(patched))
        and "_socket" in _names(ServerConnection.__init__)
        and "write_lock" in _names(WSHandler.__init__)
        and "send_message" in vars(WSHandler)
        and "_block" in _names(Lock.__init__)
        and "_value" in _names(Semaphore.__init__)
        and "_compressor" in _names(WebSocketProtocol13.__init__)
        and "_write_buffer" in _names(BaseIOStream.__init__)
        and "_total_write_done_index" in _names(BaseIOStream.__init__)
        and callable(getattr(IOStream, "write_to_fd", None))
        and all(hasattr(Message, name) for name in ("header_json", "metadata_json", "content_json", "buffers"))
    )


def install(
    buffer_limit: int = DEFAULT_BUFFER_LIMIT,
    sent: SentCount | None = None,
    slow: Callable[[], None] | None = None,
    reading: ReadingWatch | None = None,
) -> Broadcaster | None:
    """Serialise every update once per session; returns the broadcaster, or None if Bokeh moved."""
    from bokeh.server.session import ServerSession

    current = getattr(ServerSession, "_document_patched", None)
    if getattr(current, _INSTALLED, False):
        log.warning("the update broadcast was already installed; keeping the first")
        return None
    if not _internals_in_place():
        log.warning("Bokeh's update path changed; every viewer's update is serialised on its own, as Bokeh does")
        return None
    broadcaster = Broadcaster(buffer_limit, sent, slow, reading)
    ServerSession._document_patched = patched_sender(broadcaster)
    return broadcaster
