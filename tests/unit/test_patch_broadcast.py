"""The update broadcast: one PATCH-DOC per change for every viewer, Bokeh's echo rule, writes in
chunks and in order, and a viewer that does not read disconnected instead of waited for."""

import asyncio
import json

import bokeh
import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div
from bokeh.protocol import Protocol
from bokeh.server.session import ServerSession
from tornado import locks

from bkruntime import patch_broadcast
from bkruntime.patch_broadcast import CHUNK, MAX_WAITING_FOR_LOCK, encode_frames
from bkruntime.slow_viewers import HARD_LIMIT_FACTOR, ReadingWatch
from tests.support.websocket_frames import messages

# Bokeh 3.10 serialises each change once by itself, in a reshaped update path the broadcast does
# not replace (it declines with a warning); the tests of the replacement run on Bokeh 3.9.
BOKEH_3_10 = tuple(int(part) for part in bokeh.__version__.split(".")[:2]) >= (3, 10)


class FakeStream:
    """A Tornado stream whose socket never takes anything: every write stays in its buffer."""

    def __init__(self) -> None:
        self._write_buffer = bytearray()
        self._total_write_done_index = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self._write_buffer += data

    def take(self, count: int) -> None:
        """The viewer reads ``count`` bytes: its socket takes them from the stream."""
        del self._write_buffer[:count]
        self._total_write_done_index += count

    def close(self) -> None:
        self.closed = True


class FakeWebsocket:
    def __init__(self) -> None:
        self.stream = FakeStream()
        self._compressor = None  # Tornado's: set when the viewer negotiated compression

    def is_closing(self) -> bool:
        return self.stream.closed


class FakeHandler:
    def __init__(self) -> None:
        self.ws_connection = FakeWebsocket()
        self.write_lock = locks.Lock()
        self.sent_by_tornado = []

    async def send_message(self, message) -> None:
        self.sent_by_tornado.append(message)


class FakeConnection:
    """Enough of Bokeh's ServerConnection for the broadcast."""

    application_context = None

    def __init__(self) -> None:
        self._socket = FakeHandler()
        self.protocol = Protocol()

    def ok(self, message):
        return self.protocol.create("OK", message.header["msgid"])

    @property
    def written(self) -> bytes:
        return bytes(self._socket.ws_connection.stream._write_buffer)


@pytest.fixture
def broadcaster(monkeypatch):
    if BOKEH_3_10:
        pytest.skip("Bokeh 3.10 has its own update path")
    # Restored after the test: the rest of the process keeps Bokeh's own path.
    monkeypatch.setattr(ServerSession, "_document_patched", ServerSession._document_patched)
    # A viewer past the limit counts as not reading the second time it is seen without progress.
    installed = patch_broadcast.install(buffer_limit=64 * 1024, reading=ReadingWatch(stall_seconds=0))
    assert installed is not None
    return installed


def test_bokehs_update_path_is_where_the_broadcast_expects_it(monkeypatch, caplog):
    # Fails when a Bokeh (or Tornado) upgrade moves an internal: update bkruntime/patch_broadcast.py.
    if not BOKEH_3_10:
        assert patch_broadcast._internals_in_place()
        return
    monkeypatch.setattr(ServerSession, "_document_patched", ServerSession._document_patched)
    assert patch_broadcast.install() is None
    assert "Bokeh's update path changed" in caplog.text


def test_frames_read_back_as_the_same_message_buffers_included():
    doc = Document()
    source = ColumnDataSource(data={"x": np.arange(3.0)})
    doc.add_root(source)
    doc.hold()
    source.stream({"x": np.arange(4.0)})
    events = list(doc.callbacks._held_events)
    message = Protocol().create("PATCH-DOC", events)
    assert message.buffers, "a numpy column travels as a binary buffer"
    (received,) = messages(encode_frames(message))
    assert received.msgtype == "PATCH-DOC"
    assert received.content == json.loads(message.content_json)
    assert [buffer.to_bytes() for buffer in received.buffers] == [buffer.to_bytes() for buffer in message.buffers]


def session_with(connections: list[FakeConnection]):
    doc = Document()
    div = Div(text="start", name="div")
    doc.add_root(div)
    session = ServerSession("id", doc)
    for connection in connections:
        session.subscribe(connection)
    return session, div


async def change(session, div, text):
    def set_text():
        div.text = text

    await session.with_document_locked(set_text)


def test_one_message_for_every_viewer(broadcaster, monkeypatch):
    created = []
    create = Protocol.create
    monkeypatch.setattr(Protocol, "create", lambda self, *a, **k: created.append(a[0]) or create(self, *a, **k))
    connections = [FakeConnection() for _ in range(5)]
    session, div = session_with(connections)
    asyncio.run(change(session, div, "hello"))
    assert created.count("PATCH-DOC") == 1
    assert len({connection.written for connection in connections}) == 1
    (message,) = messages(connections[0].written)
    assert message.content["events"][0]["new"] == "hello"


def test_the_viewer_that_made_a_change_does_not_get_it_back(broadcaster):
    maker, other = FakeConnection(), FakeConnection()
    session, div = session_with([maker, other])

    content = {"events": [{"kind": "ModelChanged", "model": {"id": div.id}, "attr": "text", "new": "made"}]}
    patch = Protocol().assemble(json.dumps({"msgid": "1", "msgtype": "PATCH-DOC"}), "{}", json.dumps(content))
    # As Bokeh handles a viewer's PATCH-DOC: applied with the session as setter, from ``maker``.
    asyncio.run(session._handle_patch(patch, maker))
    assert maker.written == b""
    assert messages(other.written)[0].content["events"][0]["new"] == "made"


def test_a_viewer_that_negotiated_compression_gets_the_update_through_bokeh(broadcaster):
    plain, compressed = FakeConnection(), FakeConnection()
    compressed._socket.ws_connection._compressor = object()
    session, div = session_with([plain, compressed])

    async def run():
        await change(session, div, "deflated")
        await asyncio.sleep(0)  # the spawned send runs

    asyncio.run(run())
    assert compressed.written == b""
    (message,) = compressed._socket.sent_by_tornado
    assert message.content["events"][0]["new"] == "deflated"
    assert messages(plain.written)[0].content["events"][0]["new"] == "deflated"


def test_many_viewers_are_written_in_chunks_and_in_order(broadcaster):
    connections = [FakeConnection() for _ in range(CHUNK * 3 + 1)]
    session, div = session_with(connections)
    turns = []

    async def run():
        async def count_turns():
            while True:
                turns.append(sum(1 for connection in connections if connection.written))
                await asyncio.sleep(0)

        counter = asyncio.ensure_future(count_turns())
        await change(session, div, "first")
        await change(session, div, "second")
        counter.cancel()

    asyncio.run(run())
    # The loop ran between chunks: some turns saw part of the viewers written.
    assert any(0 < written < len(connections) for written in turns)
    for connection in connections:
        assert [m.content["events"][0]["new"] for m in messages(connection.written)] == ["first", "second"]


def test_a_viewer_that_does_not_read_is_disconnected_not_waited_for(broadcaster):
    reader, stalled = FakeConnection(), FakeConnection()
    session, div = session_with([reader, stalled])

    async def run():
        for index in range(10):
            await change(session, div, f"{index}" + "x" * 20_000)
            # The reader's socket takes everything; the stalled one's takes nothing.
            reader._socket.ws_connection.stream._write_buffer.clear()

    asyncio.run(run())
    assert stalled._socket.ws_connection.stream.closed
    assert not reader._socket.ws_connection.stream.closed
    assert broadcaster.slow_viewers_closed == 1


def test_a_viewer_in_the_middle_of_a_reply_gets_the_update_after_it(broadcaster):
    busy, free = FakeConnection(), FakeConnection()
    session, div = session_with([busy, free])

    async def run():
        lock = await busy._socket.write_lock.acquire()  # a reply being written
        await change(session, div, "update")
        assert busy.written == b"" and free.written
        lock.__exit__(None, None, None)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert messages(busy.written)[0].content["events"][0]["new"] == "update"


def test_a_shared_views_relay_links_are_written_before_its_viewers(broadcaster, monkeypatch):
    order = []
    write = patch_broadcast.Broadcaster.write
    monkeypatch.setattr(
        patch_broadcast.Broadcaster, "write", lambda self, c, m, f: order.append(c) or write(self, c, m, f)
    )
    viewers = [FakeConnection() for _ in range(20)]
    link = FakeConnection()
    session, div = session_with([*viewers, link])
    setattr(session, patch_broadcast.RELAY_LINKS, {link})
    asyncio.run(change(session, div, "first to the relay"))
    assert order[0] is link and set(order[1:]) == set(viewers)
    assert messages(link.written)[0].content["events"][0]["new"] == "first to the relay"


def test_a_viewer_behind_but_reading_keeps_its_updates(broadcaster):
    busy = FakeConnection()
    session, div = session_with([busy])
    stream = busy._socket.ws_connection.stream

    async def run():
        for index in range(40):
            await change(session, div, f"{index}" + "x" * 20_000)
            # It reads, but less than comes: it falls further and further behind.
            stream.take(5_000)

    asyncio.run(run())
    assert not stream.closed
    assert broadcaster.slow_viewers_closed == 0
    assert broadcaster.reading.times_behind == 1
    assert len(stream._write_buffer) > 64 * 1024


def test_a_viewer_too_far_behind_is_disconnected_even_while_reading(broadcaster):
    busy = FakeConnection()
    session, div = session_with([busy])
    stream = busy._socket.ws_connection.stream

    async def run():
        for index in range(HARD_LIMIT_FACTOR * 4 + 10):
            await change(session, div, f"{index}" + "x" * 20_000)
            stream.take(100)

    asyncio.run(run())
    assert stream.closed
    assert broadcaster.slow_viewers_closed == 1


def test_a_viewer_waiting_for_a_reply_being_written_keeps_its_updates_while_it_reads(broadcaster):
    busy = FakeConnection()
    session, div = session_with([busy])
    stream = busy._socket.ws_connection.stream

    async def run():
        lock = await busy._socket.write_lock.acquire()  # a reply being written, slowly but read
        stream.write(b"r" * 1_000_000)
        for index in range(MAX_WAITING_FOR_LOCK * 2):
            await change(session, div, f"update {index}")
            stream.take(1_000)
        assert not stream.closed
        stream.take(len(stream._write_buffer))
        lock.__exit__(None, None, None)
        for _ in range(MAX_WAITING_FOR_LOCK * 2 + 2):
            await asyncio.sleep(0)

    asyncio.run(run())
    assert broadcaster.slow_viewers_closed == 0
    updates = [m.content["events"][0]["new"] for m in messages(busy.written)]
    assert updates == [f"update {index}" for index in range(MAX_WAITING_FOR_LOCK * 2)]


def test_a_viewer_that_stopped_reading_a_reply_is_disconnected(broadcaster):
    stalled = FakeConnection()
    session, div = session_with([stalled])
    stream = stalled._socket.ws_connection.stream

    async def run():
        await stalled._socket.write_lock.acquire()
        stream.write(b"r" * 1_000_000)
        for index in range(MAX_WAITING_FOR_LOCK + 2):
            await change(session, div, f"update {index}")

    asyncio.run(run())
    assert stream.closed
    assert broadcaster.slow_viewers_closed == 1
