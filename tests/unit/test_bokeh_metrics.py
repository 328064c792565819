"""Metrics of a Bokeh process (bkruntime.metrics) and the websocket message counts (bkruntime.websocket_counts)."""

import asyncio
import gc
from collections import Counter
from types import SimpleNamespace

import pytest
from bokeh.application import Application
from bokeh.application.handlers import ScriptHandler
from bokeh.server.protocol_handler import ProtocolHandler
from bokeh.server.views.ws import WSHandler
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from aperture.signing import bearer_token_matches
from bkruntime import metrics, websocket_counts
from bkruntime.kit.process_identity import INDEX_ENV


def sample(name, **labels):
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_gc_pauses_fall_into_their_buckets():
    clock = iter([100.0, 100.005, 200.0, 200.05, 300.0, 303.0])
    pauses = metrics.GcPauses(buckets=(0.01, 0.1), clock=lambda: next(clock))
    for generation in (0, 0, 2):
        pauses.callback("start", {"generation": generation})
        pauses.callback("stop", {"generation": generation})
    registry = CollectorRegistry()
    registry.register(pauses)

    def value(name, **labels):
        return registry.get_sample_value(f"aperture_bokeh_gc_pause_seconds_{name}", labels)

    assert value("bucket", generation="0", le="0.01") == 1
    assert value("bucket", generation="0", le="0.1") == 2
    assert value("bucket", generation="2", le="0.1") == 0
    assert value("bucket", generation="2", le="+Inf") == 1
    assert value("count", generation="1") == 0
    assert value("sum", generation="2") == pytest.approx(3.0)


def test_real_collections_are_timed_through_gc_callbacks():
    pauses = metrics.GcPauses()
    gc.callbacks.append(pauses.callback)
    try:
        gc.collect(1)
        gc.collect(2)
    finally:
        gc.callbacks.remove(pauses.callback)
    registry = CollectorRegistry()
    registry.register(pauses)
    assert registry.get_sample_value("aperture_bokeh_gc_pause_seconds_count", {"generation": "1"}) >= 1
    assert registry.get_sample_value("aperture_bokeh_gc_pause_seconds_count", {"generation": "2"}) >= 1
    assert registry.get_sample_value("aperture_bokeh_gc_pause_seconds_sum", {"generation": "2"}) > 0


def test_session_counts_are_read_from_the_session_hooks_counters():
    created, destroyed = Counter(iris=3, sliders=1), Counter(iris=2)
    registry = CollectorRegistry()
    registry.register(metrics.SessionCounts(created, destroyed))
    created["iris"] += 1
    assert registry.get_sample_value("aperture_bokeh_sessions_created_total", {"app": "iris"}) == 4
    assert registry.get_sample_value("aperture_bokeh_sessions_destroyed_total", {"app": "iris"}) == 2


def test_document_builds_of_any_app_are_timed_with_their_outcome(tmp_path):
    built_before = sample("aperture_bokeh_document_build_seconds_count", app="unit", outcome="built")
    failed_before = sample("aperture_bokeh_document_build_seconds_count", app="unit", outcome="error")

    built = tmp_path / "built.py"
    built.write_text("from bokeh.io import curdoc\nfrom bokeh.models import Div\ncurdoc().add_root(Div())\n")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('app bug')\n")
    # Bokeh keeps the error of an app's code on its handler rather than raising it.
    for path in (built, broken):
        application = Application(ScriptHandler(filename=str(path)))
        metrics.measure_builds("unit", application)
        application.create_document()
    assert sample("aperture_bokeh_document_build_seconds_count", app="unit", outcome="built") == built_before + 1
    assert sample("aperture_bokeh_document_build_seconds_count", app="unit", outcome="error") == failed_before + 1


def test_every_sample_carries_the_process_index(monkeypatch):
    monkeypatch.setenv(INDEX_ENV, "1")
    text = metrics.exposition({"iris": 2}).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["aperture_bokeh_open_sessions"].samples[0].labels == {"app": "iris", "process": "1"}
    assert all(sample.labels.get("process") == "1" for family in families.values() for sample in family.samples)
    assert "process_resident_memory_bytes" in families


@pytest.fixture
def unwrapped(monkeypatch):
    """Bokeh's two message methods, restored after the test."""
    monkeypatch.setattr(ProtocolHandler, "handle", ProtocolHandler.handle)
    monkeypatch.setattr(WSHandler, "send_message", WSHandler.send_message)


def test_messages_are_counted_per_app_and_type_then_handled_as_before(unwrapped, monkeypatch):
    received, sent = [], []
    assert websocket_counts.install(lambda *key: received.append(key), lambda *key: sent.append(key))
    assert websocket_counts.install(lambda *key: None, lambda *key: None), "a second install changes nothing"
    handled, written = [], []

    async def handle_server_info(self, message, connection):
        handled.append(message.msgtype)
        return "reply"

    monkeypatch.setattr(ProtocolHandler, "_server_info_req", handle_server_info)
    context = SimpleNamespace(url="/sliders")
    message = SimpleNamespace(msgtype="SERVER-INFO-REQ", header={"msgid": "1"})
    reply = asyncio.run(ProtocolHandler().handle(message, SimpleNamespace(application_context=context)))
    handler = SimpleNamespace(application_context=context)

    async def send(socket):
        written.append(socket)

    asyncio.run(WSHandler.send_message(handler, SimpleNamespace(msgtype="PATCH-DOC", send=send)))
    assert received == [("sliders", "SERVER-INFO-REQ")] and handled == ["SERVER-INFO-REQ"] and reply == "reply"
    assert sent == [("sliders", "PATCH-DOC")] and written == [handler]


def test_a_bokeh_that_moved_its_methods_is_left_as_it_is(unwrapped, monkeypatch, caplog):
    async def handle(self, message):  # another shape than Bokeh 3's
        return None

    monkeypatch.setattr(ProtocolHandler, "handle", handle)
    assert not websocket_counts.install(lambda *key: None, lambda *key: None)
    assert ProtocolHandler.handle is handle
    assert "websocket messages are not counted" in caplog.text


def test_this_bokeh_still_has_the_methods_counted():
    """Fails when a Bokeh upgrade moves or reshapes what websocket_counts wraps."""
    assert websocket_counts._has_shape(ProtocolHandler.handle, ["self", "message", "connection"])
    assert websocket_counts._has_shape(WSHandler.send_message, ["self", "message"])


def test_the_metrics_token_is_checked_only_when_set():
    assert bearer_token_matches(None, "")
    assert bearer_token_matches("Bearer t0ken", "t0ken")
    assert not bearer_token_matches(None, "t0ken")
    assert not bearer_token_matches("Bearer other", "t0ken")
    assert not bearer_token_matches("t0ken", "t0ken")
