"""Reading a live session back from the Bokeh server, as a test's second client."""

from __future__ import annotations

import re
from contextlib import contextmanager

from bokeh.client import pull_session
from tornado.ioloop import IOLoop

SESSION_ID = re.compile(r'"Bokeh-Session-Id", "([^"]+)"')


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
