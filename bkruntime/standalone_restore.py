"""Standalone pages get their documents back after a process restart, numpy columns included.

When BokehJS reconnects it pulls the document again and rebuilds it from the reply's JSON alone,
dropping the reply's binary buffers (bokeh#15347): a document holding numpy arrays then fails
with "buffer for id=... not found" and the plot stays dead. The site's pages fix that in the
browser (``static/live_session.js``); Bokeh's own standalone pages do not load that script. So
for sessions no site page opened, ``install()`` makes the ``PULL-DOC-REPLY`` carry every buffer
inline, as base64 inside its JSON (Bokeh's own ``Document.to_json(deferred=False)``), which
BokehJS reads without the buffers. The price, on standalone pages only: numpy columns travel
about a third larger. If a Bokeh upgrade moves ``pull_doc_reply.create``, ``install()`` logs a
warning and leaves Bokeh as it is (such a restore then fails as before).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from bkruntime.site_page_session import opened_by_site_page

log = logging.getLogger(__name__)


def install() -> bool:
    """Send standalone sessions' documents with inline buffers; False if Bokeh's internals moved."""
    from bokeh.protocol.messages.pull_doc_reply import PullDoc, pull_doc_reply

    create = getattr(pull_doc_reply, "create", None)
    if getattr(create, "__aperture_inline_buffers__", False):
        return True
    try:
        parameters = list(inspect.signature(create).parameters)
    except (TypeError, ValueError):
        parameters = []
    from bokeh.document import Document

    inlines = "deferred" in inspect.signature(Document.to_json).parameters
    if parameters[:2] != ["request_id", "document"] or not hasattr(pull_doc_reply, "create_header") or not inlines:
        log.warning("Bokeh's PULL-DOC-REPLY moved; standalone pages cannot restore documents with numpy arrays")
        return False

    def create_for_page(cls, request_id: str, document: Any, **metadata: Any):
        if opened_by_site_page(document):
            return create(request_id, document, **metadata)
        # As Bokeh's own create, with every buffer inline in the JSON.
        content = PullDoc(doc=document.to_json(deferred=False))
        return cls(cls.create_header(request_id=request_id), metadata, content)

    create_for_page.__aperture_inline_buffers__ = True  # type: ignore[attr-defined]
    pull_doc_reply.create = classmethod(create_for_page)
    return True
