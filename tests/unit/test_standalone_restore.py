"""Standalone sessions' documents travel with their numpy buffers inline (bkruntime.standalone_restore)."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
from bokeh.core.serialization import Serialized
from bokeh.document import Document
from bokeh.models import ColumnDataSource
from bokeh.protocol import Protocol
from bokeh.protocol.messages.pull_doc_reply import pull_doc_reply

from aperture.session_token import mint_session, token_payload
from bkruntime import standalone_restore
from tests.support.servers import TEST_BOKEH_SECRET


@pytest.fixture
def installed(monkeypatch):
    """The patch, for this test only (Bokeh's own ``create`` comes back afterwards)."""
    monkeypatch.setattr(pull_doc_reply, "create", pull_doc_reply.__dict__["create"])
    assert standalone_restore.install(), "this bokeh's PULL-DOC-REPLY changed: review bkruntime/standalone_restore.py"
    assert standalone_restore.install(), "installing twice wraps once"


class TokenContext:
    def __init__(self, payload: dict) -> None:
        self.token = mint_session(TEST_BOKEH_SECRET, 60, payload).token

    @property
    def token_payload(self) -> dict:
        from bokeh.util.token import get_token_payload

        return get_token_payload(self.token)


def numpy_document(context: TokenContext) -> Document:
    """A document holding a numpy column, in a session with ``context`` (the caller keeps it alive)."""
    doc = Document()
    doc.add_root(ColumnDataSource({"y": np.linspace(0, 1, 50)}, name="source"))
    # What Bokeh's ApplicationContext does; Document has no public setter for it.
    doc._session_context = weakref.ref(context)
    return doc


def test_a_standalone_pull_reads_back_whole_without_buffers(installed):
    context = TokenContext({"arguments": {}, "headers": {}, "cookies": {}})
    standalone = numpy_document(context)
    reply = Protocol().create("PULL-DOC-REPLY", "request", standalone)
    assert reply.buffers == []
    restored = Document.from_json(Serialized(content=reply.content["doc"], buffers=[]))
    assert np.array_equal(restored.select_one({"name": "source"}).data["y"], np.linspace(0, 1, 50))


def test_a_site_pages_pull_keeps_its_binary_buffers(installed):
    context = TokenContext(token_payload({}, options={"title": ""}))
    site_page = numpy_document(context)
    assert len(Protocol().create("PULL-DOC-REPLY", "request", site_page).buffers) == 1
