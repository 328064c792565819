"""The BokehJS internals static/live_session.js wraps so that a restored document keeps its buffers.

BokehJS 3.9 drops the binary buffers of the document it pulls again on reconnect (bokeh#15347);
the page's script keeps them (3.10 keeps them itself, and the wrapping then passes them on). It
checks in the browser that what it wraps is there and warns in the console otherwise (the restore
then fails as before, and the page offers a reload). These tests read the installed BokehJS and
fail on an upgrade that moves what the script relies on.
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


def test_the_modules_the_script_requires_are_in_the_bundle(bokehjs):
    assert '"client/connection":' in bokehjs
    assert '"document/document":' in bokehjs
    assert "main.require = require;" in bokehjs, "Bokeh.require is how the script reaches them"


def test_a_pull_still_returns_the_documents_json_with_its_buffers(bokehjs):
    pull = re.search(r"async _pull_doc_json\(\) \{(.*?)\n        \}", bokehjs, re.S)
    assert pull is not None
    assert "return { doc_json: reply.content.doc, buffers: reply.buffers };" in pull.group(1)


def test_a_restore_drops_the_buffers_or_passes_them_as_the_wrapping_does(bokehjs):
    """BokehJS 3.9 drops them (the wrapping restores them); 3.10 passes them itself, to a
    ``replace_with_json(json, buffers)`` whose second argument the wrapping honours."""
    drops = "this.session.document.replace_with_json(doc_json);" in bokehjs
    passes = "this.session.document.replace_with_json(doc_json, buffers);" in bokehjs
    assert drops != passes, "the restore changed shape: check what static/live_session.js wraps"
    if drops:
        assert re.search(r"replace_with_json\(json\) \{\s+const replacement = Document\.from_json\(json\);", bokehjs)
    else:
        assert re.search(
            r"replace_with_json\(json, buffers = new Map\(\)\) \{\s+"
            r"const replacement = Document\.from_json\(json, undefined, buffers\);",
            bokehjs,
        )
    assert "static from_json(doc_json, events, buffers = new Map())" in bokehjs
    assert "destructively_move(dest_doc)" in bokehjs


def test_the_page_script_wraps_exactly_these(bokehjs):
    script = (PROJECT_ROOT / "static" / "live_session.js").read_text(encoding="utf-8")
    assert "return Bokeh.require(module)[name];" in script
    assert 'bokehExport("document/document", "Document")' in script
    assert 'bokehExport("client/connection", "ClientConnection")' in script
    assert "ClientConnection.prototype._pull_doc_json = " in script
    assert "Document.prototype.replace_with_json = " in script
    # Where BokehJS passes the buffers itself (3.10), they win over the remembered ones.
    assert "Document.from_json(json, undefined, buffers || pulledBuffers.get(json))" in script
