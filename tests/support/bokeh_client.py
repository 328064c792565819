"""Reading a live session back from the Bokeh server, as a test's second client."""

from __future__ import annotations

import re
from contextlib import contextmanager

from bokeh.client import pull_session
from tornado.ioloop import IOLoop

SESSION_ID = re.compile(r'"Bokeh-Session-Id", "([^"]+)"')
WAIT_SECONDS = 60.0


def session_id_in(page: str) -> str:
    match = SESSION_ID.search(page)
    assert match, "no server_session script with a session id in the page"
    return match.group(1)


@contextmanager
def existing_session(app_url: str, session_id: str):
    """Connect to session ``session_id`` of the app at ``app_url`` and yield its document."""
    loop = IOLoop(make_current=False)
    session = pull_session(session_id=session_id, url=app_url, io_loop=loop)
    try:
        yield session.document
    finally:

        async def close():
            session.close()

        loop.run_sync(close)
        loop.close(all_fds=True)


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
def followed_session(app_url: str, arguments: dict[str, str] | None = None):
    """A new session of the app at ``app_url`` whose document follows the server's updates."""
    loop = IOLoop(make_current=False)
    session = pull_session(url=app_url, io_loop=loop, arguments=arguments)
    try:
        yield FollowedSession(session, loop)
    finally:

        async def close():
            session.close()

        loop.run_sync(close)
        loop.close(all_fds=True)
