"""The floor under a shared view's fan-out: bare Tornado websockets, no Bokeh (for the benchmarks).

``python bench/apps/bare_websockets_server.py PORT raw|tornado`` answers the handshake of
``bench/shared_views.py``'s viewers on ``/ticker/ws`` as a Bokeh process does (subprotocol ``bokeh``,
``ACK``, a ``PULL-DOC-REPLY`` to a ``PULL-DOC-REQ``), then once a second sends every viewer an update
of the ticker's shape and size (one ``ColumnsStreamed`` point carrying the server's clock):

* ``raw``: the update encoded once as websocket frames, then one ``socket.send`` per viewer, the
  least a process can do per viewer in Python; what is left of a shared view's cost above this is
  the fan-out's own;
* ``tornado``: ``write_message`` three times per viewer, as a plain Tornado server would.

``/healthz`` answers ``{"pid": ...}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.web import Application, RequestHandler
from tornado.websocket import WebSocketHandler

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bkruntime.patch_broadcast import _frame

VIEWERS: set[BareViewer] = set()
_EMPTY_DOC = {"doc": {"version": "3", "title": "Ticker", "roots": [], "defs": []}}


def message(msgtype: str, content: dict, msgid: str) -> list[str]:
    compact = {"separators": (",", ":")}
    return [json.dumps({"msgid": msgid, "msgtype": msgtype}, **compact), "{}", json.dumps(content, **compact)]


def update() -> list[str]:
    data = {"type": "map", "entries": [["t", [time.time() * 1000]], ["y", [0.5]]]}
    event = {"kind": "ColumnsStreamed", "model": {"id": "p1047"}, "attr": "data", "data": data, "rollover": 100}
    return message("PATCH-DOC", {"events": [event]}, f"p{time.monotonic_ns()}")


class BareViewer(WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return True

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "bokeh" if "bokeh" in subprotocols else None

    def open(self) -> None:
        self.set_nodelay(True)
        self.parts = 0
        VIEWERS.add(self)
        for part in message("ACK", {}, "ack"):
            self.write_message(part)

    def on_message(self, part) -> None:
        self.parts += 1
        if self.parts == 3:  # the PULL-DOC-REQ's content: the document is asked for
            for reply in message("PULL-DOC-REPLY", _EMPTY_DOC, "reply"):
                self.write_message(reply)

    def on_close(self) -> None:
        VIEWERS.discard(self)


class Health(RequestHandler):
    def get(self) -> None:
        self.write({"pid": os.getpid(), "viewers": len(VIEWERS)})


def send_raw() -> None:
    frames = b"".join(_frame(0x1, part.encode()) for part in update())
    for viewer in list(VIEWERS):
        stream = viewer.ws_connection.stream if viewer.ws_connection else None
        if stream is None or stream.closed():
            continue
        if stream._write_buffer:
            stream.write(frames)
            continue
        try:
            sent = stream.socket.send(frames)
        except BlockingIOError:
            sent = 0
        if sent < len(frames):
            stream.write(frames[sent:])


def send_tornado() -> None:
    parts = update()
    for viewer in list(VIEWERS):
        for part in parts:
            viewer.write_message(part)


def main() -> None:
    port, mode = int(sys.argv[1]), sys.argv[2]
    Application([("/ticker/ws", BareViewer), ("/healthz", Health)]).listen(port, "127.0.0.1")
    PeriodicCallback({"raw": send_raw, "tornado": send_tornado}[mode], 1000).start()
    IOLoop.current().start()


if __name__ == "__main__":
    main()
