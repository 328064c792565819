"""The Bokeh server's cheap session discard (see bkruntime.session_cleanup)."""

import asyncio
import sys

import pytest
from bokeh.document import document, modules

from aperture.catalog import CATALOG
from bkruntime import session_cleanup
from tests.support.app_documents import ServedApp


def test_collections_outside_an_event_loop_happen_at_once():
    collector = session_cleanup.CoalescingCollector(delay=0.01)
    collector.collect()
    collector.collect()
    assert collector.collections == 2


def test_collections_on_an_event_loop_are_merged():
    collector = session_cleanup.CoalescingCollector(delay=0.05)

    async def many_destroyed_sessions():
        for _ in range(50):
            collector.collect()
        assert collector.collections == 0
        while collector.collections == 0:
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(many_destroyed_sessions(), timeout=10))
    assert (collector.requested, collector.collections) == (50, 1)


def test_other_gc_functions_are_the_real_ones():
    import gc

    assert session_cleanup.CoalescingCollector().get_count == gc.get_count


@pytest.fixture
def installed(monkeypatch):
    # monkeypatch restores what install() replaces when the test ends.
    monkeypatch.setattr(document, "gc", document.gc)
    monkeypatch.setattr(modules.DocumentModuleManager, "destroy", modules.DocumentModuleManager.destroy)
    collector = session_cleanup.install()
    assert collector is not None, "this bokeh's internals changed: review bkruntime/session_cleanup.py"
    return collector


def test_destroying_a_session_still_removes_its_modules(installed):
    app = ServedApp(CATALOG["sliders"])
    session = app.open()
    names = [module.__name__ for module in session.document.modules._modules]
    assert names and all(name in sys.modules for name in names)

    app.close(session)  # Document.destroy, then the session hooks, as the server does

    assert not any(name in sys.modules for name in names)
    assert installed.requested == 1
    app.unload()


def test_the_merged_collection_is_the_one_install_was_given():
    collected = []
    collector = session_cleanup.CoalescingCollector(delay=0.01, collect=lambda generation: collected.append(generation))
    collector.collect()
    assert collected == [2]
