"""Live Bokeh sessions inside Flask pages: the only module that talks to the Bokeh server.

A view asks ``bokeh_embed.embed(spec, arguments, customize=...)`` for an app. This module makes
a signed session id, creates that session on the **internal** Bokeh URL with the validated query
arguments, pulls it if the view wants to adjust the document, flushes the adjustment to the
server, and renders the ``server_session`` script pointing browsers at the **public** URL.

Three things the plain ``pull_session`` + ``server_session`` pattern gets wrong, handled here:

* Edits to a pulled document are only queued; closing the session drops them unless
  ``force_roundtrip()`` has flushed them first.
* ``pull_session`` without ``io_loop`` makes a Tornado IOLoop per call and never closes it (about
  four file descriptors a page view). Each pull here gets its own loop, closed afterwards, so
  concurrent requests in threaded workers never share one.
* A frozen or hung Bokeh server makes a pull wait 20 s or forever. Every pull here has one
  deadline for the whole exchange; past it, or on any connection failure, ``BokehUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote

from bokeh.client import ClientSession
from bokeh.client.util import websocket_url_for_server_url
from bokeh.document import Document
from bokeh.embed import server_session
from flask import Flask, current_app
from markupsafe import Markup
from tornado.ioloop import IOLoop

from bkapps.catalog import AppSpec
from bkapps.signing import export_bokeh_signing, new_session_id

log = logging.getLogger(__name__)

Customizer = Callable[[Document], None]

# After the deadline, bokeh's client may start the loop again for its next step; stop it again
# this often so that no step can outlive the deadline by more than this.
_RESTOP_SECONDS = 0.05
_EXTENSION = "bokeh_embed"


class BokehUnavailable(Exception):
    """The Bokeh server could not provide a session in time; the page cannot show the live app."""

    def __init__(self, app_title: str, reason: str) -> None:
        super().__init__(f"{app_title}: {reason}")
        self.app_title = app_title
        self.reason = reason


@dataclass(frozen=True)
class LiveEmbed:
    """A pulled session ready to render: ``script`` goes into the page unescaped."""

    spec: AppSpec
    session_id: str
    script: Markup


@dataclass(frozen=True)
class _EmbedConfig:
    internal_url: str
    public_url: str
    timeout: float
    secret_key: str


class BokehEmbed:
    """Flask extension that embeds live sessions of the catalog's apps."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        config = _EmbedConfig(
            internal_url=app.config["BOKEH_INTERNAL_URL"],
            public_url=app.config["BOKEH_PUBLIC_URL"],
            timeout=float(app.config["BOKEH_PULL_TIMEOUT"]),
            secret_key=app.config["BOKEH_SECRET_KEY"],
        )
        # Fails loudly if bokeh would sign connection tokens with a different key.
        export_bokeh_signing(config.secret_key)
        app.extensions[_EXTENSION] = config

    def embed(self, spec: AppSpec, arguments: Mapping[str, object], customize: Customizer | None = None) -> LiveEmbed:
        """Pull a fresh session of ``spec`` with ``arguments``; raises ``BokehUnavailable``."""
        config: _EmbedConfig = current_app.extensions[_EXTENSION]
        session_id = new_session_id(config.secret_key)
        app_path = "/" + quote(spec.name)
        create_live_session(
            url=config.internal_url + app_path,
            session_id=session_id,
            arguments={name: str(value) for name, value in arguments.items()},
            timeout=config.timeout,
            customize=customize,
            app_title=spec.title,
        )
        script = server_session(session_id=session_id, url=config.public_url + app_path)
        # Bokeh builds the script from our settings and a catalog name; nothing of the request.
        return LiveEmbed(spec=spec, session_id=session_id, script=Markup(script))  # noqa: S704


def create_live_session(
    url: str,
    session_id: str,
    arguments: Mapping[str, str],
    timeout: float,
    customize: Customizer | None,
    app_title: str,
) -> None:
    """Create session ``session_id`` on the server at ``url``; pull it and apply ``customize``.

    This is ``bokeh.client.pull_session`` with a loop of our own, a deadline, the server's error
    reason kept for the message, and no pull when there is nothing to customise. Bokeh's client
    drives its loop synchronously, which an asyncio loop already running in this thread (an
    ``async`` view) forbids: then it runs in a thread of its own.
    """
    if _event_loop_running():
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bokeh-pull") as pool:
            return pool.submit(create_live_session, url, session_id, arguments, timeout, customize, app_title).result()
    loop = IOLoop(make_current=False)
    deadline = _Deadline(loop, timeout)
    session = ClientSession(
        session_id=session_id, websocket_url=websocket_url_for_server_url(url), io_loop=loop, arguments=dict(arguments)
    )
    try:
        try:
            session.connect()
            if not session.connected:
                raise OSError("no session")
            _disable_nagle(session)
            # The server built the session's document when the connection opened; fetching it
            # (about 150 ms of deserialising per page) is only worth it to customise it.
            if customize is not None:
                session.pull()
                if not deadline.expired:
                    customize(session.document)
                    session.force_roundtrip()
        except (OSError, RuntimeError) as error:
            raise BokehUnavailable(app_title, _failure_reason(session, deadline, timeout)) from error
        if deadline.expired:
            raise BokehUnavailable(app_title, _failure_reason(session, deadline, timeout))
    finally:
        deadline.cancel()
        _close_session(loop, session)


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _disable_nagle(session: ClientSession) -> None:
    """Send the client's small protocol messages at once instead of after a delayed ACK.

    Saves about 40 ms on each of the pull and the round trip (see bench/embed_latency.py).
    Bokeh exposes no public handle on the socket; if its internals move, this quietly does nothing.
    """
    try:
        session._connection._socket._socket.stream.set_nodelay(True)  # type: ignore[union-attr]
    except AttributeError:
        pass


def _failure_reason(session: ClientSession, deadline: _Deadline, timeout: float) -> str:
    if deadline.expired:
        return f"the Bokeh server did not answer within {timeout:g} s"
    if session.error_code is not None:
        return f"the Bokeh server refused the session (HTTP {session.error_code}: {session.error_detail})"
    return "the Bokeh server cannot be reached"


class _Deadline:
    """Stops ``loop`` when ``seconds`` have passed, and keeps stopping it if it is restarted."""

    def __init__(self, loop: IOLoop, seconds: float) -> None:
        self.expired = False
        self._loop = loop
        self._handle = loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self.expired = True
        self._loop.stop()
        self._handle = self._loop.call_later(_RESTOP_SECONDS, self._expire)

    def cancel(self) -> None:
        self._loop.remove_timeout(self._handle)


def _close_session(loop: IOLoop, session: ClientSession) -> None:
    """Say goodbye to the server, cancel what a failed pull left running, close every socket."""

    async def close() -> None:
        # Tornado writes the websocket close frame through an asyncio Future, which needs the
        # loop to be running in this thread.
        session.close()

    asyncio_loop = loop.asyncio_loop  # type: ignore[attr-defined]
    try:
        loop.run_sync(close)
        pending = [task for task in asyncio.all_tasks(asyncio_loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            asyncio_loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
    finally:
        loop.close(all_fds=True)


bokeh_embed = BokehEmbed()
