"""The pull path's client: open a session on one Bokeh process, change its document, flush, close.

``web.embedding.embed`` uses it for views that change a document with something only Flask knows. It is
``bokeh.client.pull_session`` with what that pattern gets wrong fixed:

* the connection token is minted here with the shared key passed explicitly (Bokeh's client
  would sign with whatever key was in the environment when bokeh was first imported);
* edits to a pulled document are only queued; closing the session drops them unless
  ``force_roundtrip()`` has flushed them first;
* without ``io_loop`` every pull makes a Tornado IOLoop and never closes it (about four file
  descriptors a page view): each pull here has its own loop, closed afterwards;
* a frozen or hung Bokeh server makes a pull wait 20 s or forever: one deadline covers the whole
  exchange; past it, or on any connection failure, ``BokehUnavailable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bokeh.client import ClientSession
from bokeh.client.util import websocket_url_for_server_url
from bokeh.document import Document
from tornado.ioloop import IOLoop

from aperture.session_token import SessionGrant

log = logging.getLogger(__name__)

Change = Callable[[Document], None]

# After the deadline, bokeh's client may start the loop again for its next step; stop it again
# this often so that no step can outlive the deadline by more than this.
_RESTOP_SECONDS = 0.05


class BokehUnavailable(Exception):
    """The Bokeh server could not provide a session in time; the page cannot show the live app."""

    def __init__(self, app_title: str, reason: str) -> None:
        super().__init__(f"{app_title}: {reason}")
        self.app_title = app_title
        self.reason = reason


class GrantedClientSession(ClientSession):
    """Bokeh's client session, connecting with a token minted by the site instead of its own."""

    def __init__(self, grant: SessionGrant, websocket_url: str, io_loop: IOLoop) -> None:
        super().__init__(session_id=grant.session_id, websocket_url=websocket_url, io_loop=io_loop)
        self._grant_token = grant.token

    @property
    def token(self) -> str:
        return self._grant_token


def pull_and_change(url: str, grant: SessionGrant, change: Change, timeout: float, app_title: str) -> None:
    """Open ``grant``'s session on the server at ``url``, apply ``change`` and flush it.

    The server builds the session from the token's payload as the connection opens. Bokeh's
    client drives its loop synchronously, which an asyncio loop already running in this thread
    (an ``async`` view) forbids: then it runs in a thread of its own.
    """
    if _event_loop_running():
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bokeh-pull") as pool:
            return pool.submit(pull_and_change, url, grant, change, timeout, app_title).result()
    loop = IOLoop(make_current=False)
    deadline = _Deadline(loop, timeout)
    session = GrantedClientSession(grant, websocket_url_for_server_url(url), loop)
    try:
        try:
            session.connect()
            if not session.connected:
                raise OSError("no session")
            disable_nagle(session)
            session.pull()
            if not deadline.expired:
                change(session.document)
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


_nagle_warned = False


def disable_nagle(session: ClientSession) -> bool:
    """Send the client's small protocol messages at once instead of after a delayed ACK.

    Saves about 40 ms on each of the pull and the round trip. Bokeh exposes no handle on the
    socket; if a Bokeh upgrade moves it, pulls still work, only slower, and this logs a warning
    once (a unit test fails on such an upgrade).
    """
    global _nagle_warned
    try:
        stream = session._connection._socket._socket.stream  # type: ignore[union-attr]
    except AttributeError:
        stream = None
    if stream is None or not hasattr(stream, "set_nodelay"):
        if not _nagle_warned:
            _nagle_warned = True
            log.warning("Bokeh's client connection internals changed; pulls go without TCP_NODELAY")
        return False
    stream.set_nodelay(True)
    return True


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
