"""A live app's documents built as the Bokeh server builds them, without a server or a browser.

``ServedApp`` is bokeh's ``Application`` with the app's own handler (``DirectoryHandler`` for a
folder, ``ScriptHandler`` for a module) and a server context of its own, on which it runs the
server hooks. ``open()`` makes a session the way the server does: the session hooks, then
``initialize_document`` with a session context carrying the request (query arguments, path) and
the token payload, which for a standalone visit includes what the app's ``process_request``
returns. ``close()`` destroys the document and runs ``on_session_destroyed``.

Nothing runs callbacks on its own here: tests call them (``periodic_callbacks``,
``run_next_ticks``), which makes every step of a live app observable. The server hooks run on an
event loop of the app's own, which stands for the server's: it runs only while a test waits for
what a server-wide thread hands over (``wait_for_next_tick``).
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from dataclasses import dataclass, field

from bokeh.application import Application
from bokeh.application.handlers import DirectoryHandler, ScriptHandler
from bokeh.document import Document
from bokeh.server.callbacks import NextTickCallback, PeriodicCallback
from bokeh.util.token import generate_session_id, get_token_payload
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.ioloop import IOLoop

from aperture.catalog import CATALOG, AppSpec
from aperture.session_token import mint_session
from aperture.site_login import DEFAULT_COOKIE_NAME, SiteLoginReader, SiteLoginSettings
from bkruntime.process_stats import ProcessStats
from bkruntime.server_process import around_every_app
from tests.support.login_records import OpenLogins
from tests.support.servers import TEST_BOKEH_SECRET, TEST_FLASK_SECRET

TEST_SITE_LOGIN = SiteLoginSettings(TEST_FLASK_SECRET, DEFAULT_COOKIE_NAME, 3600, "http://localhost:8000")

WAIT_SECONDS = 30.0

# The apps that build through the project's kit (bkruntime.kit.app_session): the contract tests of the
# project's own apps (the title option, the main plot in the site's theme...) apply to them only;
# a plain Bokeh app in the catalog is held to what Bokeh itself asks.
KIT_APPS = [spec.name for spec in CATALOG if spec.kit]


class FakeServerContext:
    """Stands for Bokeh's server context: hooks store state on it, ``sessions`` lists open ones."""

    def __init__(self) -> None:
        self.open: dict[str, OpenSession] = {}
        # The event loop the hooks ran on (the server's, in a real server).
        self.loop = IOLoop(make_current=False)

    @property
    def sessions(self) -> list[OpenSession]:
        return list(self.open.values())


@dataclass
class FakeSessionContext:
    """Stands for Bokeh's session context, with what the apps read from it."""

    id: str
    server_context: FakeServerContext
    request: HTTPServerRequest
    token_payload: dict
    destroyed: bool = False


@dataclass
class OpenSession:
    id: str
    document: Document
    context: FakeSessionContext
    # Bokeh's ServerSession listens to its document's changes; so does this stand-in.
    events: list = field(default_factory=list)

    def select(self, name: str):
        model = self.document.select_one({"name": name})
        assert model is not None, f"no model named {name!r}"
        return model

    def receive(self, event) -> None:
        self.events.append(event)


class ServedApp:
    """One catalog app with its server hooks run, ready to open sessions."""

    def __init__(self, spec: AppSpec) -> None:
        self.spec = spec
        handler_type = DirectoryHandler if spec.path.is_dir() else ScriptHandler
        handler = handler_type(filename=str(spec.path))
        assert not handler.failed, handler.error_detail
        self.application = Application(handler)
        # What the Bokeh process adds around every app (the site login's visitor and the app's name
        # in a standalone page's token, a shared view's viewer count...).
        around_every_app(spec.name, self.application, ProcessStats(), SiteLoginReader(TEST_SITE_LOGIN), OpenLogins())
        self.server_context = FakeServerContext()
        self.server_context.loop.run_sync(lambda: self.application.on_server_loaded(self.server_context))

    def open(self, query: str = "", user_agent: str = "app-documents-test", cookie: str = "") -> OpenSession:
        """A new session as a standalone page request would open it (``process_request`` runs);
        ``cookie`` is the request's Cookie header (the site's login)."""
        request = self._request(f"/{self.spec.name}" + (f"?{query}" if query else ""), user_agent, cookie)
        # The payload travels as JSON inside the session token the server mints.
        return self._open(request, json.loads(json.dumps(self.application.process_request(request))))

    def open_with_token(self, payload: dict, page_query: str = "") -> OpenSession:
        """A new session as the server builds it from a site token's ``payload``.

        The websocket request's query string is the page's (BokehJS copies it); the server
        replaces the request's arguments with the payload's, as ``create_session_if_needed`` does.
        """
        request = self._request(f"/{self.spec.name}/ws" + (f"?{page_query}" if page_query else ""), "browser")
        # Through a real token, as the payload reaches the server.
        payload = get_token_payload(mint_session(TEST_BOKEH_SECRET, 60, payload).token)
        request.arguments = dict(payload["arguments"])
        return self._open(request, payload)

    @staticmethod
    def _request(uri: str, user_agent: str, cookie: str = "") -> HTTPServerRequest:
        headers = HTTPHeaders({"Host": "localhost:5006", "User-Agent": user_agent})
        if cookie:
            headers["Cookie"] = cookie
        return HTTPServerRequest(start_line=RequestStartLine("GET", uri, "HTTP/1.1"), headers=headers)

    def _open(self, request: HTTPServerRequest, payload: dict) -> OpenSession:
        session_id = generate_session_id()
        context = FakeSessionContext(session_id, self.server_context, request, payload)
        doc = Document()
        # What Bokeh's ApplicationContext does; Document has no public setter for it.
        doc._session_context = weakref.ref(context)
        asyncio.run(self.application.on_session_created(context))
        self.application.initialize_document(doc)
        session = OpenSession(session_id, doc, context)
        doc.on_change(session.receive)
        self.server_context.open[session_id] = session
        return session

    def close(self, session: OpenSession) -> None:
        """Destroy the session's document and run the destroy hooks, in the server's order."""
        del self.server_context.open[session.id]
        session.document.destroy(session.receive)
        session.context.destroyed = True
        asyncio.run(self.application.on_session_destroyed(session.context))

    def unload(self) -> None:
        for session in self.server_context.sessions:
            self.close(session)
        self.application.on_server_unloaded(self.server_context)
        self.server_context.loop.close(all_fds=True)


def periodic_callbacks(doc: Document) -> list[PeriodicCallback]:
    return [callback for callback in doc.session_callbacks if isinstance(callback, PeriodicCallback)]


def next_tick_callbacks(doc: Document) -> list[NextTickCallback]:
    return [callback for callback in doc.session_callbacks if isinstance(callback, NextTickCallback)]


def run_callback(callback) -> None:
    """Run a session callback as the server would, awaiting it if it is a coroutine."""
    result = callback.callback()
    if asyncio.iscoroutine(result):
        asyncio.run(result)


def wait_for_next_tick(doc: Document, seconds: float = WAIT_SECONDS) -> None:
    """Run the server's loop until something (a server-wide thread) handed the document a next-tick callback."""
    loop = doc.session_context.server_context.loop
    deadline = time.monotonic() + seconds
    while not next_tick_callbacks(doc):
        assert time.monotonic() < deadline, f"no next-tick callback within {seconds:g} s"
        loop.run_sync(lambda: asyncio.sleep(0.01))


def run_next_ticks(doc: Document) -> int:
    """Run the pending next-tick callbacks (each removes itself); returns how many ran."""
    pending = next_tick_callbacks(doc)
    for callback in pending:
        run_callback(callback)
    return len(pending)
