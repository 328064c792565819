"""Bokeh's websockets send without Nagle's delay (bkruntime.websocket_nodelay)."""

import os
import socket

import psutil
import pytest
from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import Server
from bokeh.server.views.ws import WSHandler
from bokeh.util.token import generate_jwt_token, generate_session_id
from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

from bkruntime import websocket_nodelay


@pytest.fixture
def installed(monkeypatch):
    # monkeypatch restores what install() replaces when the test ends.
    monkeypatch.setattr(WSHandler, "open", WSHandler.open)
    assert websocket_nodelay.install(), "this bokeh's internals changed: review bkruntime/websocket_nodelay.py"


def test_opening_a_connection_turns_nagle_off_first(installed, monkeypatch):
    calls = []

    class Handler:
        def set_nodelay(self, value):
            calls.append(("nodelay", value))

    monkeypatch.setattr(WSHandler, "open", websocket_nodelay.without_delay(lambda handler: calls.append("open")))
    WSHandler.open(Handler())
    assert calls == [("nodelay", True), "open"]


def test_installing_twice_wraps_once(installed):
    opened = WSHandler.open
    assert websocket_nodelay.install()
    assert WSHandler.open is opened


def server_side_nodelay(port: int) -> list[int]:
    """TCP_NODELAY of this process's accepted connections on ``port`` (the server's ends)."""
    flags = []
    for connection in psutil.Process().net_connections(kind="tcp"):
        if connection.laddr.port == port and connection.status == psutil.CONN_ESTABLISHED:
            with socket.socket(fileno=os.dup(connection.fd)) as accepted:
                flags.append(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    return flags


def test_a_bokeh_server_websocket_has_nodelay_set(installed):
    token = generate_jwt_token(generate_session_id(signed=False), signed=False)

    async def serve_connect_and_look():
        # Created on the running loop: Bokeh's HTTP server listens on the current one.
        server = Server({"/app": Application(FunctionHandler(lambda doc: None))}, port=0, address="127.0.0.1")
        server.start()
        client = None
        try:
            client = await websocket_connect(
                f"ws://127.0.0.1:{server.port}/app/ws", subprotocols=["bokeh", token], connect_timeout=30
            )
            assert await client.read_message() is not None  # the ACK: the server has opened it
            return server_side_nodelay(server.port)
        finally:
            if client is not None:
                client.close()
            server.stop()
            server.unlisten()

    loop = IOLoop(make_current=False)
    try:
        flags = loop.run_sync(serve_connect_and_look, timeout=60)
    finally:
        loop.close(all_fds=True)
    assert flags and all(flags), flags
