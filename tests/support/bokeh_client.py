"""Opening a page's live session the way BokehJS does, as a test's second client.

A site page carries, per live app, a render item with the session's token and the URL of the
Bokeh server (or process) its websocket goes to. ``embedded_sessions(page)`` finds them;
``browser_session(embed)`` connects with that token, as a browser would, and yields the document
the server built (or had built) for it.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass

from bokeh.client import ClientSession
from bokeh.client.util import websocket_url_for_server_url
from bokeh.util.token import get_session_id, get_token_payload
from tornado.ioloop import IOLoop

from aperture.session_token import mint_session, token_payload
from tests.support.servers import TEST_BOKEH_SECRET

WAIT_SECONDS = 60.0
_RENDER_ITEMS = re.compile(
    r"const render_items = (\[.*?\]);\s+root\.Bokeh\.embed\.embed_items"
    r"\(docs_json, render_items, \"([^\"]*)\", \"([^\"]*)\"\)"
)


@dataclass(frozen=True)
class EmbeddedSession:
    """One live session of a page: its token and where the browser's websocket goes."""

    token: str
    app_path: str
    absolute_url: str

    @property
    def session_id(self) -> str:
        return get_session_id(self.token)

    @property
    def payload(self) -> dict:
        return get_token_payload(self.token)

    @property
    def websocket_url(self) -> str:
        return websocket_url_for_server_url(self.absolute_url)


def embedded_sessions(page: str) -> list[EmbeddedSession]:
    sessions = []
    for items, app_path, absolute_url in _RENDER_ITEMS.findall(page):
        for item in json.loads(items):
            sessions.append(EmbeddedSession(item["token"], app_path, absolute_url))
    return sessions


def embedded_session(page: str) -> EmbeddedSession:
    (session,) = embedded_sessions(page)
    return session


class TokenClientSession(ClientSession):
    """Bokeh's client connecting with a given token (and, like BokehJS, the page's query string)."""

    def __init__(self, token: str, websocket_url: str, io_loop: IOLoop, page_query: dict | None = None) -> None:
        super().__init__(
            session_id=get_session_id(token), websocket_url=websocket_url, io_loop=io_loop, arguments=page_query
        )
        self._given_token = token

    @property
    def token(self) -> str:
        return self._given_token


def _close(loop: IOLoop, session: ClientSession) -> None:
    async def close():
        session.close()

    loop.run_sync(close)
    loop.close(all_fds=True)


@contextmanager
def browser_session(embed: EmbeddedSession, page_query: dict | None = None, websocket_url: str | None = None):
    """Connect to ``embed``'s session with its token and yield the pulled document."""
    loop = IOLoop(make_current=False)
    session = TokenClientSession(embed.token, websocket_url or embed.websocket_url, loop, page_query)
    try:
        session.connect()
        assert session.connected, f"websocket refused: {session.error_code} {session.error_detail}"
        session.pull()
        yield session.document
    finally:
        _close(loop, session)


def refused_reason(embed: EmbeddedSession, token: str | None = None) -> str | None:
    """Why the server refuses ``token`` (default: the embed's), or None if it accepts it."""
    loop = IOLoop(make_current=False)
    session = TokenClientSession(token or embed.token, embed.websocket_url, loop)
    try:
        session.connect()
        if not session.connected:
            return f"HTTP {session.error_code}: {session.error_detail}"
        try:
            session.pull()
        except Exception as error:  # the server closes the socket after checking the token
            return str(error) or type(error).__name__
        return None
    finally:
        _close(loop, session)


class FollowedSession:
    """A client session that receives the server's updates to its document while it waits."""

    def __init__(self, session, loop: IOLoop) -> None:
        self.session = session
        self._loop = loop

    @property
    def document(self):
        return self.session.document

    def wait_until(self, predicate, seconds: float = WAIT_SECONDS) -> None:
        """Apply the server's updates until ``predicate(document)`` holds; then the session closes.

        Bokeh's client applies updates only while its loop runs, which ``_loop_until_closed``
        does (bokeh keeps it for tests); a change that satisfies the predicate, or the deadline,
        closes the connection and so ends the loop. One wait per session.
        """
        met = []

        def check(event):
            if not met and predicate(self.session.document):
                met.append(True)
                self.session.close()

        deadline = self._loop.call_later(seconds, self.session.close)
        self.session.document.on_change(check)
        self._loop.add_callback(check, None)
        try:
            self.session._loop_until_closed()
        finally:
            self._loop.remove_timeout(deadline)
        assert met, f"the document did not reach the expected state within {seconds:g} s"


@contextmanager
def followed_session(app_url: str, arguments: dict[str, object] | None = None):
    """A new session of the app at ``app_url`` whose document follows the server's updates."""
    grant = mint_session(TEST_BOKEH_SECRET, 60, token_payload(arguments or {}))
    loop = IOLoop(make_current=False)
    session = TokenClientSession(grant.token, websocket_url_for_server_url(app_url), loop)
    try:
        session.connect()
        assert session.connected, f"websocket refused: {session.error_code} {session.error_detail}"
        session.pull()
        yield FollowedSession(session, loop)
    finally:
        _close(loop, session)
