"""A shared view's document is serialised once per change for every viewer who joins it: the reply a
viewer receives is the document as it is, whatever was reused."""

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div
from bokeh.protocol import Protocol
from bokeh.protocol.messages.pull_doc_reply import pull_doc_reply

from bkruntime import shared_pull_reply
from bkruntime.patch_broadcast import encode_frames
from bkruntime.shared_views import add_viewer_count
from tests.support.websocket_frames import messages


@pytest.fixture
def replies():
    """The reuse installed for the test; what it counted (True: reused)."""
    original = pull_doc_reply.__dict__["create"]
    counted: list[bool] = []
    assert shared_pull_reply.install(counted=counted.append), "Bokeh moved what the reuse relies on"
    try:
        yield counted
    finally:
        pull_doc_reply.create = original


def shared_document() -> tuple[Document, ColumnDataSource, Div]:
    doc = Document()
    source = ColumnDataSource(data={"x": [1, 2], "y": [3.0, 4.0]}, name="samples")
    label = Div(text="first", name="label")
    doc.add_root(source)
    doc.add_root(label)
    add_viewer_count(doc)
    doc.title = "shared"
    return doc, source, label


def reply(doc: Document, request_id: str = "request"):
    return Protocol().create("PULL-DOC-REPLY", request_id, doc)


def as_viewer_sees(message) -> Document:
    """The document a viewer builds from ``message`` as written on its websocket."""
    (received,) = messages(encode_frames(message))
    viewer = Document()
    received.push_to_document(viewer)
    return viewer


def model(doc: Document, name: str):
    (found,) = doc.select({"name": name})
    return found


def test_the_next_viewer_gets_the_same_document_without_serialising_it_again(replies):
    doc, _, _ = shared_document()
    first, second = reply(doc, "first viewer"), reply(doc, "second viewer")
    assert replies == [False, True]
    assert second.content_json == first.content_json
    # Each reply answers its own request.
    assert second.header["reqid"] == "second viewer" and second.header["msgid"] != first.header["msgid"]
    viewer = as_viewer_sees(second)
    assert viewer.title == "shared"
    assert model(viewer, "samples").data == {"x": [1, 2], "y": [3.0, 4.0]}
    assert model(viewer, "label").text == "first"


@pytest.mark.parametrize(
    "change",
    [
        lambda doc, source, label: setattr(label, "text", "changed"),
        lambda doc, source, label: source.stream({"x": [9], "y": [9.5]}),
        lambda doc, source, label: source.patch({"y": [(0, -1.0)]}),
        lambda doc, source, label: setattr(doc, "title", "retitled"),
        lambda doc, source, label: doc.add_root(Div(text="new root", name="added")),
        lambda doc, source, label: doc.remove_root(label),
    ],
    ids=["property", "stream", "patch", "title", "root added", "root removed"],
)
def test_any_change_of_the_document_is_in_the_next_viewers_reply(replies, change):
    doc, source, label = shared_document()
    reply(doc)
    change(doc, source, label)
    after = reply(doc)
    assert replies == [False, False], "a change forgets the reply"
    assert after.content_json == Protocol().create("PULL-DOC-REPLY", "x", doc).content_json
    reply(doc)
    assert replies[-1] is True, "unchanged since: reused again"


def test_numpy_columns_are_sent_as_the_same_buffers_to_every_viewer(replies):
    doc, source, _ = shared_document()
    source.data = {"x": np.arange(5), "y": np.linspace(0.0, 1.0, 5)}
    first, second = reply(doc), reply(doc)
    assert replies[-1] is True
    assert second.header["num_buffers"] == len(first.buffers) == len(second.buffers) > 0
    viewer = as_viewer_sees(second)
    assert list(model(viewer, "samples").data["x"]) == [0, 1, 2, 3, 4]
    assert list(model(viewer, "samples").data["y"]) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_a_change_made_while_the_document_is_held_reaches_the_new_viewer_as_a_patch(replies):
    doc, _, label = shared_document()
    reply(doc)
    patches = []
    doc.on_change(patches.append)
    doc.hold("combine")
    label.text = "held"
    during = as_viewer_sees(reply(doc))
    # Bokeh sends the held change to every subscribed viewer, this one included, on release.
    assert model(during, "label").text == "first" and patches == []
    doc.unhold()
    assert [event.new for event in patches] == ["held"]
    assert model(as_viewer_sees(reply(doc)), "label").text == "held"
    assert replies == [False, True, False]


def test_a_per_visitor_document_is_left_to_bokeh(replies):
    doc = Document()
    doc.add_root(Div(text="mine"))
    first, second = reply(doc), reply(doc)
    assert replies == []
    assert first.content is not second.content


def test_installing_twice_keeps_one_reuse(replies):
    assert shared_pull_reply.install()
    doc, _, _ = shared_document()
    reply(doc)
    reply(doc)
    assert replies == [False, True]
