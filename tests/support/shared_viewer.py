"""A raw viewer of a shared view, as BokehJS is one: its websocket to a chosen Bokeh process, the
document it pulled, and the changes it receives after (values of named models, the viewer count)."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field

from bokeh.protocol import Protocol
from bokeh.protocol.receiver import Receiver

from tests.support.bokeh_client import EmbeddedSession
from tests.support.session_holder import connect_like_bokehjs, expect_message

VIEWERS_MODEL = "aperture_viewers"
_ids = itertools.count(1)


def _models(node):
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node:
            yield node
        for value in node.values():
            yield from _models(value)
    elif isinstance(node, list):
        for value in node:
            yield from _models(value)


def _plain(value):
    """A column as Bokeh sends it (a list, or an ndarray's ``{"type": "ndarray"...}``) as a list."""
    if isinstance(value, dict) and value.get("type") == "ndarray" and isinstance(value.get("array"), list):
        return list(value["array"])
    return list(value) if isinstance(value, list) else value


@dataclass
class SharedViewer:
    """One websocket on a shared view; ``values`` and ``viewers`` follow what the server sends."""

    connection: object
    receiver: Receiver
    ids: dict[str, str]
    values: dict[str, object]
    rows: list[int]
    closed: bool = False
    changes: list[dict] = field(default_factory=list)

    @classmethod
    async def open(cls, embed: EmbeddedSession, origin: str, websocket_url: str) -> SharedViewer:
        connection = await connect_like_bokehjs(embed, origin, websocket_url)
        protocol = Protocol()
        receiver = Receiver(protocol)
        await expect_message(connection, receiver, "ACK")
        pull = protocol.create("PULL-DOC-REQ")
        for fragment in (pull.header_json, pull.metadata_json, pull.content_json):
            await connection.write_message(fragment)
        reply = await expect_message(connection, receiver, "PULL-DOC-REPLY")
        ids, values, rows = {}, {}, [0]
        for model in _models(reply.content["doc"]):
            attributes = model.get("attributes", {})
            name = attributes.get("name")
            if name:
                ids[name] = model["id"]
                values[name] = attributes.get("value")
            if name == VIEWERS_MODEL:
                rows = _plain(attributes["data"]["entries"][0][1]) if "entries" in attributes["data"] else None
        viewer = cls(connection, receiver, ids, values, [int(row) for row in rows or [0]])
        return viewer

    @property
    def viewers(self) -> int:
        return sum(self.rows)

    async def set_value(self, name: str, value) -> None:
        """Move the widget ``name`` to ``value``, as BokehJS sends a viewer's change."""
        event = {"kind": "ModelChanged", "model": {"id": self.ids[name]}, "attr": "value", "new": value}
        header = {"msgid": f"viewer-{next(_ids)}", "msgtype": "PATCH-DOC"}
        for part in (header, {}, {"events": [event]}):
            await self.connection.write_message(json.dumps(part))
        self.values[name] = value

    async def until(self, condition, seconds: float) -> None:
        """Apply what the server sends until ``condition(self)`` holds (AssertionError after ``seconds``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not condition(self):
            remaining = deadline - loop.time()
            assert remaining > 0 and not self.closed, (
                f"not within {seconds:g} s (closed: {self.closed}): values {self.values}, viewers {self.rows}"
            )
            try:
                fragment = await asyncio.wait_for(self.connection.read_message(), remaining)
            except TimeoutError:
                continue
            if fragment is None:
                self.closed = True
                continue
            message = await self.receiver.consume(fragment)
            if message is not None and message.msgtype == "PATCH-DOC":
                self._apply(message.content)

    def _apply(self, content: dict) -> None:
        names = {model_id: name for name, model_id in self.ids.items()}
        for event in content.get("events", []):
            self.changes.append(event)
            name = names.get((event.get("model") or {}).get("id"))
            if event.get("kind") == "ModelChanged" and name and event.get("attr") == "value":
                self.values[name] = event["new"]
            elif name == VIEWERS_MODEL and event.get("kind") == "ColumnsPatched":
                for index, count in event["patches"]["entries"][0][1]:
                    while index >= len(self.rows):
                        self.rows.append(0)
                    self.rows[index] = int(count)
            elif name == VIEWERS_MODEL and event.get("kind") == "ModelChanged" and event.get("attr") == "data":
                self.rows = [int(row) for row in _plain(event["new"]["entries"][0][1])]
            elif name == VIEWERS_MODEL and event.get("kind") == "ColumnDataChanged":
                # The column grew (a process whose row was beyond it counted its viewers).
                self.rows = [int(row) for row in _plain(dict(event["data"]["entries"])["viewers"])]

    def close(self) -> None:
        self.connection.close()
