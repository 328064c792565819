"""A shared view's document serialised once per change for every viewer who joins it.

Each viewer's BokehJS pulls the whole document (``PULL-DOC-REQ``) when its websocket opens, and
Bokeh's ``pull_doc_reply.create`` serialises it again for each: for a shared view, the same
document every time, and most of what a viewer's arrival costs the process. ``install()``, run by
each Bokeh process before its server starts, wraps ``create``: a shared view's document (the one
with a viewer count, ``bkruntime.shared_views``) keeps its last reply (content, JSON, buffers),
which the next viewers get under headers of their own until any change event of the document
forgets it. Replies and changes are both made under the session's document lock, so a reused reply
is the document as it is; a change made while the document is held reaches the new viewer, like
every subscribed one, as a patch on release. Per-visitor documents are left to Bokeh. If an
upgrade moves what this relies on, ``install()`` logs a warning and leaves Bokeh as it is.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from bkruntime.shared_views import viewer_count_model

log = logging.getLogger(__name__)

_CACHE = "_aperture_pull_reply"
_INSTALLED = "_aperture_shared_pull_reply"

Counted = Callable[[bool], None]


class PullReplyCache:
    """The last reply made from one document; forgotten on the document's next change.

    It holds no reference to the document: the document's change callback holds this.
    """

    def __init__(self) -> None:
        self.reply: tuple[Any, str, tuple[Any, ...]] | None = None

    def forget(self, event: Any) -> None:
        self.reply = None


def _cache_of(document: Any) -> PullReplyCache:
    cache = getattr(document, _CACHE, None)
    if cache is None:
        cache = PullReplyCache()
        document.on_change(cache.forget)
        setattr(document, _CACHE, cache)
    return cache


def _nothing_left_to_prepare() -> None:
    """A prepared reply's ``prepare``: Bokeh 3.10 calls it before writing, and would serialise again."""


def _serialise_now(message: Any) -> None:
    prepare = getattr(message, "prepare", None)
    if prepare is None:
        message.content_json  # noqa: B018 -- Bokeh 3.9 makes the JSON lazily; the next viewer reuses it
        return
    prepare()
    message.prepare = _nothing_left_to_prepare


def reusing_create(original: Callable[..., Any], counted: Counted | None) -> Callable[..., Any]:
    """The replacement of ``pull_doc_reply.create``: a shared view's last reply while it is current."""

    def create(cls: type, request_id: Any, document: Any, **metadata: Any) -> Any:
        if viewer_count_model(document) is None:
            return original(request_id, document, **metadata)
        cache = _cache_of(document)
        if cache.reply is None:
            message = original(request_id, document, **metadata)
            _serialise_now(message)
            cache.reply = (message.content, message.content_json, tuple(message.buffers))
            reused = False
        else:
            content, content_json, buffers = cache.reply
            message = cls(cls.create_header(request_id=request_id), metadata, content)
            message._content_json = content_json
            if buffers:
                message.add_buffers(*buffers)
            if hasattr(message, "prepare"):
                message.prepare = _nothing_left_to_prepare
            reused = True
        if counted is not None:
            counted(reused)
        return message

    setattr(create, _INSTALLED, True)
    return create


def _internals_in_place(reply_class: Any) -> bool:
    from bokeh.document import Document
    from bokeh.protocol.message import Message

    create = getattr(reply_class, "create", None)
    return (
        callable(create)
        and list(inspect.signature(create).parameters)[:2] == ["request_id", "document"]
        and callable(getattr(reply_class, "create_header", None))
        and callable(getattr(Document, "on_change", None))
        and _content_json_kept(Message)
    )


def _content_json_kept(message_class: Any) -> bool:
    """Whether a message's ``content_json`` is the JSON it was given (what a reused reply relies on)."""
    message = message_class({"msgtype": "TEST", "msgid": "0"}, {}, {"doc": {}})
    message._content_json = '{"reused":true}'
    return message.content_json == '{"reused":true}'


def install(counted: Counted | None = None) -> bool:
    """Reuse a shared view's pull reply until its document changes; False (and a warning) if Bokeh moved."""
    from bokeh.protocol.messages.pull_doc_reply import pull_doc_reply

    current = pull_doc_reply.__dict__.get("create")
    if getattr(getattr(current, "__func__", None), _INSTALLED, False):
        return True
    if not _internals_in_place(pull_doc_reply):
        log.warning("Bokeh's document reply changed; every viewer of a shared view gets the document serialised anew")
        return False
    pull_doc_reply.create = classmethod(reusing_create(pull_doc_reply.create, counted))
    return True
