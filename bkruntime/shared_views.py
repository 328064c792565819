"""Shared views on the Bokeh side: the number of viewers inside each shared document.

A shared view's session (its token says ``shared``, see ``aperture.session_token``) is one document
for every viewer on a process. ``add_viewer_count(doc)`` gives it a root data source named
``VIEWERS_MODEL_NAME`` (no view: BokehJS draws nothing for it) whose ``viewers`` column holds the
number of websockets on the session; the page's script (``static/live_session.js``) shows it as
"Shared view · N watching". It is one model of the one document, so every viewer gets the change
in the same patch as any other update.

With several processes, a view's document lives on its owner and is mirrored by relays
(``bkruntime.view_relay``): the ``viewers`` column has one row per process of the supervisor (per
slot of the peer registry across replicas, ``bkruntime.peer_registry``), and
each process patches only its own row, with the viewers whose websocket it holds (on the owner, not
counting the relays' links). A relay's patch reaches the owner like any change, and from there
every viewer; the owner sets the row of a relay whose link is gone to 0. The page shows the sum.

Bokeh has no hook for connections joining or leaving a session, but each passes through
``ServerSession.subscribe(connection)`` / ``unsubscribe(connection)``. ``install()``, run by each
Bokeh process before its server starts, wraps both to schedule an update of the count, at most one
per ``COALESCE_SECONDS`` per session however many viewers come and go meanwhile. If a Bokeh upgrade
moves either method, ``install()`` logs a warning and the count stays at its first value; a test
fails on such an upgrade.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from bokeh.document import Document
from bokeh.models import ColumnDataSource
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)

VIEWERS_MODEL_NAME = "aperture_viewers"
COALESCE_SECONDS = 0.25
_WRAPPED = "_aperture_viewer_count"
_SCHEDULED = "_aperture_viewer_count_scheduled"


def _rows() -> int:
    from bkruntime.kit.process_identity import process_count

    return max(1, process_count() or 1)


def _own_row() -> int:
    """This process's row: its index in the supervisor, or its slot across replicas."""
    from bkruntime import view_relay
    from bkruntime.kit.process_identity import process_index

    if view_relay.RELAYS is not None:
        return view_relay.RELAYS.peers.row
    return process_index() or 0


def add_viewer_count(doc: Document) -> ColumnDataSource:
    """Give a shared view's document the model that holds its number of viewers (a row per process)."""
    source = ColumnDataSource(data={"viewers": [0] * _rows()}, name=VIEWERS_MODEL_NAME)
    doc.add_root(source)
    return source


def viewer_count_model(doc: Document | None) -> ColumnDataSource | None:
    """The viewer count model of a shared view's document, or None for any other document."""
    if doc is None:
        return None
    # Roots only: cheaper than a search of every model, and the model is always a root.
    for root in doc.roots:
        if getattr(root, "name", None) == VIEWERS_MODEL_NAME:
            return root
    return None


def _session_document(session: Any) -> Document | None:
    # A destroyed session has no document left.
    return None if getattr(session, "destroyed", True) else getattr(session, "document", None)


def _relay_index(connection: Any) -> int | None:
    from bkruntime.view_relay import relay_index_of

    return relay_index_of(connection)


def viewers_here(session: Any) -> int:
    """The session's viewers in this process: its websockets, without relays' links to it."""
    return sum(1 for connection in list(session._subscribed_connections) if _relay_index(connection) is None)


def audience(doc: Document | None) -> int:
    """The viewers of a shared view in every process (the sum of its rows)."""
    model = viewer_count_model(doc)
    return 0 if model is None else sum(int(value) for value in model.data.get("viewers", ()))


def refresh_count(session: Any) -> None:
    """Set this process's row of the session's viewer count to its viewers now (under the document
    lock); on a view's owner, also the rows of relays whose link is gone to 0."""
    from bkruntime.view_relay import MIRROR

    setattr(session, _SCHEDULED, False)
    model = viewer_count_model(_session_document(session))
    if model is None:
        return
    rows = list(model.data.get("viewers", ()))
    wanted = list(rows)
    here = _own_row()
    if here >= len(wanted):
        wanted += [0] * (here + 1 - len(wanted))
    wanted[here] = viewers_here(session)
    if getattr(session, MIRROR, None) is None:
        linked = {_relay_index(connection) for connection in list(session._subscribed_connections)}
        wanted = [count if index == here or index in linked else 0 for index, count in enumerate(wanted)]
    if len(wanted) != len(rows):
        model.data = {"viewers": wanted}
    elif wanted != rows:
        model.patch({"viewers": [(index, count) for index, count in enumerate(wanted) if count != rows[index]]})


def _schedule_refresh(session: Any) -> None:
    if getattr(session, _SCHEDULED, False) or viewer_count_model(_session_document(session)) is None:
        return
    setattr(session, _SCHEDULED, True)
    loop = IOLoop.current()
    # with_document_locked sends the change to every viewer as any other update.
    loop.call_later(COALESCE_SECONDS, loop.spawn_callback, _locked, session)


async def _locked(session: Any) -> None:
    if session.destroyed:
        return
    await session.with_document_locked(refresh_count, session)


def _note_relay_link(session: Any, connection: Any, subscribed: bool) -> None:
    """Keep the set of relays' links on a shared view's session, which the update broadcast
    writes to first (``patch_broadcast.RELAY_LINKS``): each stands for a whole process of viewers."""
    from bkruntime.patch_broadcast import RELAY_LINKS

    if viewer_count_model(_session_document(session)) is None or _relay_index(connection) is None:
        return
    links = getattr(session, RELAY_LINKS, None)
    if links is None:
        links = set()
        setattr(session, RELAY_LINKS, links)
    if subscribed:
        links.add(connection)
    else:
        links.discard(connection)


def _has_shape(method: Any) -> bool:
    return callable(method) and list(inspect.signature(method).parameters) == ["self", "connection"]


def install() -> bool:
    """Keep every shared view's viewer count up to date; False (and a warning) if Bokeh moved."""
    from bokeh.server.session import ServerSession

    subscribe = getattr(ServerSession, "subscribe", None)
    unsubscribe = getattr(ServerSession, "unsubscribe", None)
    if getattr(subscribe, _WRAPPED, False):
        return True
    if not (_has_shape(subscribe) and _has_shape(unsubscribe) and hasattr(ServerSession, "connection_count")):
        log.warning("Bokeh's session subscription methods changed; shared views do not show their viewers")
        return False

    def counted_subscribe(self, connection):
        subscribe(self, connection)
        _schedule_refresh(self)
        _note_relay_link(self, connection, subscribed=True)

    def counted_unsubscribe(self, connection):
        unsubscribe(self, connection)
        _schedule_refresh(self)
        _note_relay_link(self, connection, subscribed=False)

    for wrapper, original in ((counted_subscribe, subscribe), (counted_unsubscribe, unsubscribe)):
        wrapper.__doc__ = original.__doc__
        setattr(wrapper, _WRAPPED, True)
    ServerSession.subscribe = counted_subscribe
    ServerSession.unsubscribe = counted_unsubscribe
    return True


def shared_view_viewers(contexts: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, str, int]]:
    """``(app, view, viewers)`` for every shared view open in this process (its viewers here).

    ``contexts`` are Bokeh's ``(route, ApplicationContext)`` pairs; ``view`` is the start of the
    session id (enough to tell views apart, too short to open one).
    """
    for route, context in contexts:
        for session in list(context.sessions):
            if viewer_count_model(_session_document(session)) is not None:
                yield route.strip("/"), session.id[:12], viewers_here(session)
