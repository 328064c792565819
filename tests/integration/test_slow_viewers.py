"""A viewer that stops reading costs the other viewers of its shared view nothing: it is
disconnected once its unread updates pass the limit and it has read nothing for a while
(``BOKEH_SLOW_VIEWER_STALL_SECONDS``, one second here), and the others' updates keep their pace.

One shared ``stream`` view on one Bokeh process; a writer changes a widget's label with big
values (as a viewer's browser would, through PATCH-DOC), three readers time each change's
arrival, and a viewer whose socket takes almost nothing joins halfway. The readers' lag with the
stalled viewer there is compared with their lag before it came: the same order of magnitude.
"""

import asyncio
import json
import re
import socket
import statistics
import time
from urllib.parse import urlsplit

import bokeh
import pytest
import requests

from tests.support.bokeh_client import EmbeddedSession, embedded_session
from tests.support.servers import running_stack
from tests.support.session_holder import connect_like_bokehjs, pull_document

BASELINE_CHANGES = 20
MAX_CHANGES = 400
AFTER_DISCONNECT = 20
LABEL_BYTES = 60_000
READERS = 3
WAIT_SECONDS = 120.0


# Bokeh 3.10's own update path, which the broadcast leaves in place, still waits for every viewer.
pytestmark = pytest.mark.skipif(
    tuple(int(part) for part in bokeh.__version__.split(".")[:2]) >= (3, 10),
    reason="Bokeh 3.10 keeps its own update path (bkruntime/patch_broadcast.py)",
)


@pytest.fixture(scope="module")
def slow_limit_stack():
    with running_stack(processes=1, BOKEH_SLOW_VIEWER_BUFFER_KB="256", BOKEH_SLOW_VIEWER_STALL_SECONDS="1") as live:
        yield live


def model_id(doc: dict, name: str) -> str:
    for node in _objects(doc):
        if node.get("attributes", {}).get("name") == name:
            return node["id"]
    raise AssertionError(name)


def _objects(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def metric(url: str, name: str) -> float:
    found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", requests.get(f"{url}/metrics", timeout=10).text, re.M)
    return float(found.group(1)) if found else 0.0


def stalled_viewer(embed: EmbeddedSession, origin: str) -> socket.socket:
    """A websocket whose client never reads: a tiny receive buffer, the handshake sent, nothing read."""
    parts = urlsplit(embed.websocket_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    sock.sendall(
        (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\nSec-WebSocket-Protocol: bokeh, {embed.token}\r\n\r\n"
        ).encode()
    )
    return sock


class Reader:
    """A viewer that reads everything and notes when each numbered label arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}

    async def read(self, connection, receiver) -> None:
        while (fragment := await connection.read_message()) is not None:
            message = await receiver.consume(fragment)
            if message is not None and message.msgtype == "PATCH-DOC":
                for event in message.content["events"]:
                    if event.get("attr") == "label" and str(event.get("new", "")).startswith("change "):
                        self.arrived[int(event["new"].split()[1])] = time.monotonic()


def test_a_viewer_that_stops_reading_does_not_slow_the_others(slow_limit_stack):
    stack = slow_limit_stack
    url = stack.process_urls[0]
    embed = embedded_session(requests.get(f"{stack.web_url}/apps/stream?rate=5000", timeout=30).text)
    sent: dict[int, float] = {}

    async def scenario():
        writer = await connect_like_bokehjs(embed, stack.web_url)
        writer_receiver, doc = await pull_document(writer)
        pause = model_id(doc, "pause")
        readers, tasks = [Reader() for _ in range(READERS)], []
        for reader in readers:
            connection = await connect_like_bokehjs(embed, stack.web_url)
            receiver, _ = await pull_document(connection)
            tasks.append(asyncio.create_task(reader.read(connection, receiver)))
        # The writer's own answers (OK) are read too, or it would be a stalled viewer itself.
        tasks.append(asyncio.create_task(Reader().read(writer, writer_receiver)))

        async def change(number: int) -> None:
            content = {
                "events": [
                    {"kind": "ModelChanged", "model": {"id": pause}, "attr": "label", "new": f"change {number} "}
                ]
            }
            content["events"][0]["new"] += "x" * LABEL_BYTES
            sent[number] = time.monotonic()
            for part in (json.dumps({"msgid": str(number), "msgtype": "PATCH-DOC"}), "{}", json.dumps(content)):
                await writer.write_message(part)
            await asyncio.sleep(0.03)

        async def all_arrived(numbers) -> None:
            deadline = time.monotonic() + WAIT_SECONDS
            while not all(set(numbers) <= reader.arrived.keys() for reader in readers):
                assert time.monotonic() < deadline, "the readers did not get every change"
                await asyncio.sleep(0.05)

        for number in range(BASELINE_CHANGES):
            await change(number)
        await all_arrived(range(BASELINE_CHANGES))

        stalled = stalled_viewer(embed, stack.web_url)
        try:
            number = BASELINE_CHANGES
            while await asyncio.to_thread(metric, url, "aperture_bokeh_slow_viewers_disconnected_total") < 1:
                assert number < MAX_CHANGES, "the stalled viewer was never disconnected"
                await change(number)
                number += 1
            for _ in range(AFTER_DISCONNECT):
                await change(number)
                number += 1
            await all_arrived(range(number))
        finally:
            stalled.close()
        for task in tasks:
            task.cancel()
        writer.close()
        return readers, number

    readers, last = asyncio.run(scenario())

    def lags(numbers):
        return [reader.arrived[n] - sent[n] for reader in readers for n in numbers]

    before = statistics.median(lags(range(BASELINE_CHANGES)))
    with_stalled = statistics.median(lags(range(BASELINE_CHANGES, last)))
    # Within an order of magnitude of the lag without it (a floor of 1 ms for a very quiet machine).
    assert with_stalled < 10 * max(before, 0.001), f"median lag {with_stalled * 1000:.1f} ms vs {before * 1000:.1f} ms"
    assert "disconnected a viewer that does not read" in stack.bokeh.output()
    # It fell behind first, and was disconnected once it had read nothing for a second.
    assert metric(url, "aperture_bokeh_slow_viewers_behind_total") >= 1
