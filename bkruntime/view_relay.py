"""One document per shared view across the Bokeh processes of a supervisor: an owner and relays.

A shared view's session id is the same for every viewer (``aperture.session_token``), but each
process would build its own document for it. Here, one process *owns* each view (the one
``bkruntime.view_owners`` picks among the processes that are up) and runs the app's Python for it;
every other process that a viewer of the view reaches is a *relay*: before Bokeh builds the
session there, ``install()``'s wrapper of ``ApplicationContext.create_session_if_needed`` opens a
link to the owner's own port, a Bokeh client session (``RelayLink``, a ``bokeh.client``
``ClientSession`` driven on the server's loop without blocking it) with a token of the relay's
own (``aperture.session_token.relay_payload``, signed with the deployment's key). The owner
builds the view for it as for any viewer; the relay's session gets the owner's document instead of
running the app (``relay_aware``), and the link keeps it in step both ways:

* a change on the owner arrives as a ``PATCH-DOC`` and is applied to the mirror under the relay
  session's lock, so the relay's viewers get it through the usual (serialise-once) broadcast;
* a change from a relay's viewer is applied to the mirror by Bokeh, and the link (a receiver of the
  mirror's changes, like any client session) sends it to the owner, which sends it to everyone but
  the link; changes the link applied itself are not sent back (Bokeh's ``setter`` rule), so nothing
  echoes; UI events (a button's click) go to the owner too, whose Python handles them.

Each viewer is checked where it arrives (the auth module); the owner accepts a relay's token,
which no viewer can make, in place of the viewer. A link to a process that is itself a relay of
the view is refused (no chains). When the link drops (the owner died, or gave the view up) the
relay discards its mirror at once and closes its viewers' websockets; BokehJS reconnects them, and
wherever they land the view is owned and relayed again. When the set of processes that are up
changes, each process gives up the views it no longer owns, and the links to an owner that no
longer owns theirs, the same way. When a relay's last viewer leaves, Bokeh discards its session
as any other, which closes its link; the owner's last link or viewer gone, it discards the view.

This relies on Bokeh internals listed in ``internals_in_place``; if an upgrade moves one,
``install()`` logs a warning and every process builds its own document for a view, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from aperture.session_token import RELAY_KEY, SHARED_KEY, mint_token, relay_payload
from bkruntime.view_owners import Peers

log = logging.getLogger(__name__)

LINK_TOKEN_SECONDS = 60
LINK_TIMEOUT_SECONDS = 10.0
# How often a relay times its link to the owner (the relay lag of /metrics).
LAG_PROBE_SECONDS = 2.0
# Tornado aborts a websocket whose peer does not answer its close within 5 s.
CLOSE_WAIT_SECONDS = 6.0
MIRROR = "_aperture_mirror_of"
_INSTALLED = "_aperture_relayed"


class RelayRefused(Exception):
    """The link to a view's owner could not be made (the viewer's websocket is closed; it retries)."""


def _relay_link_class():
    from bokeh.client import ClientSession

    class RelayLink(ClientSession):
        """A relay's client session on a view's owner, keeping the relay's mirror document in step."""

        def __init__(self, session_id: str, token: str, websocket_url: str, owner: int) -> None:
            from tornado.ioloop import IOLoop

            super().__init__(session_id=session_id, websocket_url=websocket_url, io_loop=IOLoop.current())
            self._link_token = token
            self.owner = owner
            self.reply: Any = None
            self.server_session: Any = None
            self.round_trip: float | None = None
            self._probe: tuple[str, float] | None = None
            self._closing = False

        @property
        def token(self) -> str:
            return self._link_token

        async def open(self) -> None:
            """Connect, wait for the owner's ACK and pull its document (kept until ``fill``)."""
            from bokeh.client.websocket import WebSocketClientConnectionWrapper
            from tornado.httpclient import HTTPRequest
            from tornado.websocket import websocket_connect

            connection = self._connection
            request = HTTPRequest(
                connection.url, connect_timeout=LINK_TIMEOUT_SECONDS, request_timeout=LINK_TIMEOUT_SECONDS
            )
            socket = await websocket_connect(
                request, subprotocols=["bokeh", self.token], max_message_size=connection._max_message_size
            )
            if socket.stream is not None:
                socket.stream.set_nodelay(True)
            connection._socket = WebSocketClientConnectionWrapper(socket)
            ack = await asyncio.wait_for(connection._pop_message(), LINK_TIMEOUT_SECONDS)
            if ack is None or ack.msgtype != "ACK":
                raise RelayRefused("the owner did not accept the link")
            await connection.send_message(connection._protocol.create("PULL-DOC-REQ"))
            while True:
                reply = await asyncio.wait_for(connection._pop_message(), LINK_TIMEOUT_SECONDS)
                if reply is None or reply.msgtype == "ERROR":
                    raise RelayRefused("the owner did not send the view's document")
                if reply.msgtype == "PULL-DOC-REPLY":
                    self.reply = reply
                    return
                # Changes made before the reply are in it.

        def fill(self, doc: Any) -> None:
            """Make ``doc`` (the relay session's new document) the owner's, and follow its changes."""
            self.reply.push_to_document(doc)
            self.reply = None
            # The owner has every model of it: what the link sends refers to them by id.
            doc.models.flush_synced()
            self._attach_document(doc)
            forward_ui_events(doc, self)

        def send_event(self, event: Any) -> None:
            """Send a viewer's UI event (a click...) to the owner, whose Python handles it."""
            from bokeh.document.events import MessageSentEvent

            self._connection._send_patch_document(self.id, MessageSentEvent(self.document, "bokeh_event", event))

        @property
        def lag(self) -> float | None:
            """How far behind the owner this mirror is: the last probe's round trip over the link
            (behind the owner's updates still queued for it), or the wait of one still unanswered."""
            waiting = time.monotonic() - self._probe[1] if self._probe is not None else 0.0
            return None if self.round_trip is None and self._probe is None else max(self.round_trip or 0.0, waiting)

        async def probe_forever(self) -> None:
            """Ask the owner for its server info every ``LAG_PROBE_SECONDS``; the reply times the link."""
            connection = self._connection
            while not self._closing:
                if self._probe is None:
                    request = connection._protocol.create("SERVER-INFO-REQ")
                    self._probe = (request.header["msgid"], time.monotonic())
                    await connection.send_message(request)
                await asyncio.sleep(LAG_PROBE_SECONDS)

        async def follow(self, relays: Relays, context: Any) -> None:
            """Apply the owner's changes to the mirror until the link ends; then give up the mirror."""
            connection = self._connection
            probing = asyncio.get_running_loop().create_task(self.probe_forever())
            try:
                while True:
                    message = await connection._pop_message()
                    if message is None:
                        break
                    if message.msgtype == "SERVER-INFO-REPLY" and self._probe is not None:
                        if message.header.get("reqid") == self._probe[0]:
                            self.round_trip, self._probe = time.monotonic() - self._probe[1], None
                        continue
                    if message.msgtype != "PATCH-DOC":
                        continue
                    session = self.server_session
                    if session is None or session.destroyed:
                        break
                    await session.with_document_locked(message.apply_to_document, session.document, self)
            except Exception:
                log.exception("relaying a shared view's change failed")
            finally:
                probing.cancel()
                await relays.link_ended(self, context)

        def close(self, why: str = "closed") -> None:
            if not self._closing:
                self._closing = True
                self._connection.close(why)

        @property
        def closing(self) -> bool:
            return self._closing

    return RelayLink


def forward_ui_events(doc: Any, link: Any) -> None:
    """Send the UI events a relay's viewers raise on ``doc`` (a click...) to the owner as well.

    Only the events that arrive from viewers (Bokeh's ``bokeh_event`` message callback), not those
    the relay's server raises itself (a viewer's connection lost, which is the relay's business).
    """
    callbacks = doc.callbacks
    trigger = callbacks.trigger_event

    def trigger_and_forward(event: Any) -> None:
        trigger(event)
        link.send_event(event)

    handlers = callbacks._message_callbacks.get("bokeh_event", [])
    callbacks._message_callbacks["bokeh_event"] = [
        trigger_and_forward if handler == trigger else handler for handler in handlers
    ]


def _token_payload(token: str) -> dict[str, Any]:
    from bokeh.util.token import get_token_payload

    try:
        return get_token_payload(token)
    except Exception:  # a malformed token is no view's; Bokeh refuses it on its own
        return {}


def relay_index_of(connection: Any) -> int | None:
    """The relay process a connection to a view's owner is the link of; None for a viewer."""
    cached = getattr(connection, "_aperture_relay", False)
    if cached is not False:
        return cached
    token = getattr(getattr(connection, "_socket", None), "_token", None)
    index = _token_payload(token).get(RELAY_KEY) if token else None
    index = index if isinstance(index, int) else None
    try:
        connection._aperture_relay = index
    except AttributeError:
        pass
    return index


class Relays:
    """This process's links to owners, by session id, and what it does when owners change."""

    def __init__(self, peers: Peers, secret_key: str, prefix: str = "") -> None:
        self.peers = peers
        self.secret_key = secret_key
        self.prefix = prefix
        self.links: dict[str, Any] = {}
        self._opening: dict[str, asyncio.Future] = {}
        self._link_class = _relay_link_class()
        self.contexts: dict[str, Any] = {}
        self.links_made = 0
        self.links_lost = 0
        self.handed_over = 0

    # -- Opening ---------------------------------------------------------------------------------

    async def link_for(self, context: Any, session_id: str, payload: dict[str, Any]) -> Any | None:
        """The link through which this process relays ``session_id``, or None if it owns the view."""
        opening = self._opening.get(session_id)
        if opening is None:
            opening = self._opening[session_id] = asyncio.ensure_future(self._open(context, session_id, payload))
            opening.add_done_callback(lambda _: self._opening.pop(session_id, None))
        return await asyncio.shield(opening)

    async def _open(self, context: Any, session_id: str, payload: dict[str, Any]) -> Any | None:
        await self.peers.ready()
        tried: set[int] = set()
        while True:
            owner = self.peers.owner_of(session_id)
            if owner == self.peers.own_index:
                return None
            if owner in tried:
                raise RelayRefused(f"the owner of this shared view (process {owner}) refused the link")
            tried.add(owner)
            link = self._new_link(context, session_id, payload, owner)
            try:
                await link.open()
            except Exception as error:  # refused, unreachable, timed out, or the owner's protocol error
                log.info("link to Bokeh process %d for a shared view failed: %s event=relay_link_failed", owner, error)
                link.close()
                await self.peers.check_once()
                continue
            self.links[session_id] = link
            self.links_made += 1
            return link

    def _new_link(self, context: Any, session_id: str, payload: dict[str, Any], owner: int) -> Any:
        route = context.url.rstrip("/")
        url = f"ws://{self.peers.address(owner)}{self.prefix}{route}/ws"
        token = mint_token(session_id, self.secret_key, LINK_TOKEN_SECONDS, relay_payload(payload, self.peers.row))
        return self._link_class(session_id, token, url, owner)

    def bind(self, context: Any, session: Any) -> None:
        """Start following the owner for the relay session Bokeh just made of the mirror."""
        link = self.links.get(session.id)
        if link is None or link.server_session is not None:
            return
        if link.reply is not None:
            # The session was made meanwhile from something else (a relay's link arriving while
            # this process also took another for the owner): it is no mirror of this link.
            self.session_ended(session.id)
            return
        link.server_session = session
        setattr(session, MIRROR, link.owner)
        self.contexts[session.id] = context
        asyncio.get_running_loop().create_task(link.follow(self, context))

    # -- Ending ----------------------------------------------------------------------------------

    def session_ended(self, session_id: str) -> None:
        """Bokeh discarded a session: close its link, if it was a relay's."""
        link = self.links.pop(session_id, None)
        self.contexts.pop(session_id, None)
        if link is not None:
            link.close("the relay's last viewer left")

    async def link_ended(self, link: Any, context: Any) -> None:
        """The link stopped (its owner is gone or gave the view up): give up the mirror at once."""
        session = link.server_session
        if self.links.get(link.id) is link:
            del self.links[link.id]
        self.contexts.pop(link.id, None)
        if link.closing or session is None or session.destroyed:
            return
        self.links_lost += 1
        log.info("the link to Bokeh process %d ended; its viewers reconnect event=relay_link_lost", link.owner)
        link.close()
        await retire(context, session, "the shared view moved to another process")
        # Whether the owner is gone decides where the viewers' reconnections go.
        await self.peers.check_once()

    async def owners_changed(self, contexts: Iterable[Any]) -> None:
        """Give up what this process no longer owns, and the links to owners that no longer own."""
        for context in list(contexts):
            for session in list(context.sessions):
                if session.destroyed or not is_shared(session):
                    continue
                owner = self.peers.owner_of(session.id)
                mirrored = getattr(session, MIRROR, None)
                moved = owner != self.peers.own_index if mirrored is None else mirrored != owner
                if moved:
                    self.handed_over += 1
                    log.info("handing a shared view over to Bokeh process %d event=view_moved", owner)
                    link = self.links.pop(session.id, None)
                    if link is not None:
                        link.close("the view moved")
                    await retire(context, session, "the shared view moved to another process")


def is_shared(session: Any) -> bool:
    from bkruntime.shared_views import viewer_count_model

    return viewer_count_model(None if session.destroyed else session.document) is not None


async def retire(context: Any, session: Any, why: str) -> None:
    """Take ``session`` out of Bokeh's sessions now, close its websockets, and destroy it.

    New viewers of the same view then get a new session (owned or relayed as things are now),
    rather than this one; the closed ones reconnect (BokehJS does) and become such viewers.
    """
    if context._sessions.get(session.id) is not session:
        return
    del context._sessions[session.id]
    session_context = context._session_contexts.pop(session.id, None)
    for connection in list(session._subscribed_connections):
        handler = getattr(connection, "_socket", None)
        if handler is not None:
            handler.close(1001, why[:120])
    # Bokeh tells the session of each closed connection (which needs its document): destroy it
    # once they are gone, or once Tornado has given up waiting for them (5 s).
    deadline = time.monotonic() + CLOSE_WAIT_SECONDS
    while session.connection_count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if not session.destroyed:
        await session.with_document_locked(session.destroy)
    if session_context is not None:
        try:
            await context._application.on_session_destroyed(session_context)
        except Exception:
            log.exception("a retired shared view's session hooks failed")


RELAYS: Relays | None = None


def shared_view_roles(contexts: Iterable[tuple[str, Any]]) -> list[tuple[str, str, str, int, int, float | None]]:
    """``(app, view, role, owner, audience, lag)`` of every shared view open in this process:
    ``role`` ``owner`` or ``relay``, the owner's process index, the viewers in every process (the
    document's count), and a relay's lag behind the owner in seconds (None on the owner). Nothing
    when this process shares no view with others (one process, or owners turned off): there a
    view's audience is its viewers here."""
    from bkruntime.kit.process_identity import process_index
    from bkruntime.shared_views import audience

    if RELAYS is None:
        return []
    own = process_index() or 0
    rows = []
    for route, context in contexts:
        for session in list(context.sessions):
            if session.destroyed or not is_shared(session):
                continue
            owner = getattr(session, MIRROR, None)
            link = RELAYS.links.get(session.id) if RELAYS is not None else None
            rows.append(
                (
                    route.strip("/"),
                    session.id[:12],
                    "owner" if owner is None else "relay",
                    own if owner is None else owner,
                    audience(session.document),
                    None if link is None else link.lag,
                )
            )
    return rows


def health() -> dict[str, Any] | None:
    """What ``/healthz`` says of shared views' owners: the processes this one sees up, its links."""
    if RELAYS is None:
        return None
    return {
        "peers_up": sorted(RELAYS.peers.up),
        # The same processes as ``address:port`` (across replicas, indexes are this process's own).
        "peer_addresses": sorted(RELAYS.peers.address(index) for index in RELAYS.peers.up),
        "peer_registry": None if RELAYS.peers.registry is None else RELAYS.peers.registry.reachable,
        "relayed_views": len(RELAYS.links),
        "links_lost": RELAYS.links_lost,
        "views_handed_over": RELAYS.handed_over,
    }


def relay_aware(application: Any) -> None:
    """Fill a relay's new session with the owner's document instead of running the app's code,
    and close its link when Bokeh discards it."""
    initialize = application.initialize_document

    def initialize_document(doc: Any) -> None:
        context = doc.session_context
        link = RELAYS.links.get(context.id) if RELAYS is not None and context is not None else None
        if link is None or link.reply is None:
            initialize(doc)
            return
        link.fill(doc)

    application.initialize_document = initialize_document
    destroyed = application.on_session_destroyed

    async def on_session_destroyed(session_context: Any) -> None:
        if RELAYS is not None:
            RELAYS.session_ended(session_context.id)
        await destroyed(session_context)

    application.on_session_destroyed = on_session_destroyed


def internals_in_place() -> bool:
    """Whether the Bokeh internals this module relies on are where it expects them."""
    import inspect

    from bokeh.client.connection import ClientConnection
    from bokeh.client.session import ClientSession
    from bokeh.document import Document
    from bokeh.document.callbacks import DocumentCallbackManager
    from bokeh.server.contexts import ApplicationContext
    from bokeh.server.session import ServerSession
    from bokeh.server.views.ws import WSHandler

    create = getattr(ApplicationContext, "create_session_if_needed", None)
    init_names = ClientConnection.__init__.__code__.co_names
    return (
        inspect.iscoroutinefunction(create)
        and list(inspect.signature(create).parameters) == ["self", "session_id", "request", "token"]
        and {"_sessions", "_pending_sessions", "_session_contexts", "_application"}
        <= set(create.__code__.co_names) | set(ApplicationContext.__init__.__code__.co_names)
        and all(callable(getattr(ClientConnection, name, None)) for name in ("_pop_message", "send_message"))
        and callable(getattr(ClientConnection, "_send_patch_document", None))
        and {"_socket", "_protocol", "_max_message_size"} <= set(init_names)
        and all(callable(getattr(ClientSession, name, None)) for name in ("_attach_document", "_document_patched"))
        and "_connection" in ClientSession.__init__.__code__.co_names
        and callable(getattr(DocumentCallbackManager, "trigger_event", None))
        and isinstance(getattr(Document().callbacks, "_message_callbacks", None), dict)
        and callable(getattr(Document().models, "flush_synced", None))
        and "_subscribed_connections" in ServerSession.__init__.__code__.co_names
        and callable(getattr(ServerSession, "with_document_locked", None))
        and "_token" in WSHandler.__init__.__code__.co_names
    )


def install(relays: Relays) -> bool:
    """Relay shared views to their owners; False (and a warning) if Bokeh moved what this needs."""
    global RELAYS
    from bokeh.protocol.exceptions import ProtocolError
    from bokeh.server.contexts import ApplicationContext

    create = ApplicationContext.create_session_if_needed
    if getattr(create, _INSTALLED, False):
        RELAYS = relays
        return True
    if not internals_in_place():
        log.warning("Bokeh's session internals changed; each process builds its own document of a shared view")
        return False
    RELAYS = relays

    async def create_session_if_needed(self, session_id, request=None, token=None):
        if not token or session_id in self._pending_sessions:
            return await create(self, session_id, request, token)
        payload = _token_payload(token)
        if not payload.get(SHARED_KEY):
            return await create(self, session_id, request, token)
        if payload.get(RELAY_KEY) is not None:
            existing = self._sessions.get(session_id)
            if session_id in RELAYS.links or (existing is not None and getattr(existing, MIRROR, None) is not None):
                raise ProtocolError("this process relays the view; it does not own it")
            return await create(self, session_id, request, token)
        if session_id in self._sessions:
            return await create(self, session_id, request, token)
        try:
            link = await RELAYS.link_for(self, session_id, payload)
        except Exception as error:
            raise ProtocolError(f"the shared view's owner cannot be reached: {error}") from error
        try:
            session = await create(self, session_id, request, token)
        except BaseException:
            if link is not None:
                RELAYS.session_ended(session_id)
            raise
        if link is not None:
            RELAYS.bind(self, session)
        return session

    setattr(create_session_if_needed, _INSTALLED, True)
    create_session_if_needed.__doc__ = create.__doc__
    ApplicationContext.create_session_if_needed = create_session_if_needed
    return True
