"""What a page loads and allows for a live app: found from its document, declared, or everything."""

from __future__ import annotations

import json
import re

import pytest
from bokeh.document import Document
from bokeh.models import Button, ColumnDataSource, CustomJS, CustomJSHover, DataTable, HoverTool, TableColumn
from bokeh.plotting import figure

from aperture.catalog import AppSpec
from aperture.document_needs import ALL_NEEDS, DocumentNeeds, needs_of
from web.operations.bokeh_monitor import BokehMonitor, Probe, published_state


def document(*roots) -> Document:
    doc = Document()
    for root in roots:
        doc.add_root(root)
    return doc


def test_a_plain_plot_needs_no_bundle_and_no_code_strings():
    assert needs_of(document(figure())) == DocumentNeeds((), False)


def test_bundles_are_found_without_a_declaration():
    source = ColumnDataSource({"x": [1, 2]})
    table = DataTable(source=source, columns=[TableColumn(field="x")])
    assert needs_of(document(table, Button())).bokehjs == ("widgets", "tables")


def button_with_js_callback() -> Button:
    button = Button()
    button.js_on_click(CustomJS(code="console.log(1)"))
    return button


def plot_with_js_hover_field():
    return figure(tools=[HoverTool(formatters={"@x": CustomJSHover(code="return 'x'")})])


@pytest.mark.parametrize("make_root", [button_with_js_callback, plot_with_js_hover_field])
def test_js_code_strings_are_found_wherever_they_hang(make_root):
    assert needs_of(document(make_root())).custom_js is True


def test_needs_travel_as_json_and_nonsense_is_left_out():
    needs = DocumentNeeds(("widgets",), True)
    assert DocumentNeeds.from_json(json.loads(json.dumps(needs.as_json()))) == needs
    assert DocumentNeeds.from_json({"bokehjs": ["widgets", "nonsense"], "custom_js": False}).bokehjs == ("widgets",)
    assert DocumentNeeds.from_json({"bokehjs": "widgets"}) is None
    body = json.dumps({"status": "ok", "needs": {"a": needs.as_json(), "b": {"custom_js": 1}}}).encode()
    assert published_state(body) == ({"a": needs}, frozenset())
    assert published_state(b"not json") == ({}, frozenset())
    assert published_state(b"[1]") == ({}, frozenset())


def test_the_monitor_keeps_what_it_learnt_when_a_process_not_yet_checked_answers():
    monitor = BokehMonitor("http://127.0.0.1:1/healthz", 60, 1)
    assert monitor.needs_of("a") is None
    monitor.record(Probe(True, "", 1.0, 0.0, needs={"a": DocumentNeeds(("widgets",), False)}))
    monitor.record(Probe(True, "", 1.0, 0.0))
    assert monitor.needs_of("a") == DocumentNeeds(("widgets",), False)


def test_the_monitor_knows_an_app_broken_until_a_process_builds_it():
    monitor = BokehMonitor("http://127.0.0.1:1/healthz", 60, 1)
    assert published_state(json.dumps({"broken": ["a", 3]}).encode()) == ({}, {"a"})
    assert published_state(json.dumps({"broken": "a"}).encode()) == ({}, frozenset())
    monitor.record(Probe(True, "", 1.0, 0.0, broken=frozenset({"a"})))
    assert monitor.is_broken("a") and not monitor.is_broken("b")
    monitor.record(Probe(True, "", 1.0, 0.0))
    assert monitor.is_broken("a"), "forgotten when a process that says nothing of it answers"
    monitor.record(Probe(True, "", 1.0, 0.0, needs={"a": DocumentNeeds(("widgets",), False)}))
    assert not monitor.is_broken("a")


def policy(response) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    return dict(parts)


def bundles_loaded(html: str) -> set[str]:
    return {name or "bokeh" for name in re.findall(r"/static/js/bokeh(?:-([a-z]+))?\.min\.js", html)}


def test_a_page_whose_apps_needs_are_not_known_yet_loads_what_it_declares_and_allows_code(client, monitor_reports):
    monitor_reports(True, needs={})
    response = client.get("/apps/press")
    assert bundles_loaded(response.text) == {"bokeh", "widgets"}
    assert "'unsafe-eval'" in policy(response)["script-src"]


def test_a_page_allows_code_strings_only_when_its_app_holds_some(client, monitor_reports):
    monitor_reports(True, needs={"press": DocumentNeeds(("widgets",), True)})
    assert "'unsafe-eval'" in policy(client.get("/apps/press"))["script-src"]
    assert "'unsafe-eval'" not in policy(client.get("/"))["script-src"]
    monitor_reports(True, needs={"press": DocumentNeeds(("widgets",), False)})
    assert "'unsafe-eval'" not in policy(client.get("/apps/press"))["script-src"]


def test_a_declaration_wins_over_what_was_found_and_nothing_known_means_everything(app, monitor_reports):
    from web.embedding.embed import bokeh_embed

    declared = AppSpec(name="declared", title="D", description="", source="d.py", bokehjs=("tables",))
    plain = AppSpec(name="plain", title="P", description="", source="p.py")
    monitor_reports(True, needs={"declared": DocumentNeeds(("widgets",), False), "plain": DocumentNeeds(("gl",), True)})
    with app.test_request_context("/"):
        assert bokeh_embed.needs_of(declared) == DocumentNeeds(("tables",), False)
        assert bokeh_embed.needs_of(plain) == DocumentNeeds(("gl",), True)
    monitor_reports(True, needs={})
    with app.test_request_context("/"):
        assert bokeh_embed.needs_of(plain) == ALL_NEEDS
        assert bokeh_embed.needs_of(declared) == DocumentNeeds(("tables",), True)
