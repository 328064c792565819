"""The BokehJS internals static/visitor_changes.js and live_session.js rely on to keep what the
visitor changed across a reconnect, and to keep the old and new documents apart.

The scripts check each in the browser and change nothing when one is missing (the reconnect then
works as BokehJS ships it, without the visitor's settings); these tests read the installed BokehJS
and fail on an upgrade that moves one, so that it is noticed before a visitor does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bokeh.settings import settings as bokeh_settings

from tests.support.servers import PROJECT_ROOT


@pytest.fixture(scope="module")
def bokehjs() -> str:
    return (Path(bokeh_settings.bokehjs_path()) / "js" / "bokeh.js").read_text(encoding="utf-8")


def script(name: str) -> str:
    return (PROJECT_ROOT / "static" / name).read_text(encoding="utf-8")


def test_a_property_change_event_says_its_model_attribute_value_and_kind(bokehjs):
    # BokehJS 3.9 sets its fields in the constructor, 3.10 declares them as class fields.
    event = re.search(
        r"class ModelChangedEvent extends DocumentChangedEvent \{(.{0,300}?)\[eq_1\.equals\]", bokehjs, re.S
    )
    assert event is not None
    assert "constructor(document, model, attr, value)" in event.group(1)
    assert 'kind = "ModelChanged";' in event.group(1)


def test_properties_say_whether_the_page_may_set_them(bokehjs):
    assert "this.readonly = options.readonly ?? false;" in bokehjs
    assert "*syncable_properties() {" in bokehjs
    assert "this.have_updated_interactively = false;" in bokehjs


def test_the_connection_lost_event_carries_its_connection(bokehjs):
    assert "new bokeh_events_1.ConnectionLost(new WeakRef(this), this.reconnection_attempts, timeout)" in bokehjs


def test_the_reconnect_goes_through_what_live_session_wraps(bokehjs):
    assert "_receiver = new receiver_1.Receiver();" in bokehjs
    assert "async connect() {" in bokehjs
    handler = re.search(r"_steady_state_handler\(message\) \{(.*?)\n        \}", bokehjs, re.S)
    assert handler is not None and "this.session.handle(message);" in handler.group(1)
    assert "const { doc_json, buffers } = await this._pull_doc_json();" in bokehjs


def test_a_sessions_errors_and_round_trip_are_where_the_replay_looks(bokehjs):
    assert "_handle_error(message) {" in bokehjs
    assert "async request_server_info() {" in bokehjs


def test_the_page_loads_the_journal_before_the_status_script():
    journal = script("visitor_changes.js")
    assert "window.apertureVisitorChanges = {" in journal
    assert "const visitorChanges = window.apertureVisitorChanges;" in script("live_session.js")


def test_a_page_with_a_live_app_loads_both_scripts_in_order():
    embed = (PROJECT_ROOT / "web" / "embedding" / "embed.py").read_text(encoding="utf-8")
    assert embed.index('"visitor_changes.js"') < embed.index("return bokehjs + changes + status")
