"""Keep the Bokeh server responsive while it discards expired sessions.

For every session it discards, Bokeh 3 walks the whole Python heap twice on the server's only
thread: ``DocumentModuleManager.destroy`` calls ``gc.get_referrers()`` on the session's module
(a leak diagnostic that only logs), and ``Document.destroy`` calls ``gc.collect()``. Both visit
every tracked object, the other live sessions' included, so discarding N sessions costs about
N full-heap walks. The server discards expired sessions in one pass: in our load test, 170
sessions froze it for over three seconds, and every page embedding an app meanwhile got a 503
(bench/session_cleanup.py measures it). Panel works around the same thing.

``install()``, run by the launcher before the server starts:

* gives ``bokeh.document.document`` a ``gc`` whose ``collect()`` schedules one collection shortly
  afterwards on the running event loop, however many sessions ask meanwhile (outside an event
  loop it collects at once, as before; everything else is the real ``gc``); the collection is
  ``install``'s ``collect`` (``gc_tuning`` passes one that also visits frozen objects);
* replaces ``DocumentModuleManager.destroy`` with the same cleanup minus the referrer scan.

Bokeh's document lifecycle handler also collects, but only for documents that registered
``Document.on_session_destroyed`` callbacks; our apps clean up in ``app_hooks.py`` instead. If a
Bokeh upgrade moves these internals, ``install()`` logs a warning and leaves Bokeh as it is.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_DELAY_SECONDS = 1.0


class CoalescingCollector:
    """Stands in for the ``gc`` module; ``collect()`` is deferred and merged on an event loop."""

    def __init__(self, delay: float = DEFAULT_DELAY_SECONDS, collect: Callable[[int], int] = gc.collect) -> None:
        self.delay = delay
        self._collect = collect
        self.requested = 0
        self.collections = 0
        self._scheduled: asyncio.TimerHandle | None = None

    def collect(self, generation: int = 2) -> int:
        self.requested += 1
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._collect_now(generation)
        if self._scheduled is None:
            self._scheduled = loop.call_later(self.delay, self._collect_scheduled)
        return 0

    def _collect_scheduled(self) -> None:
        self._scheduled = None
        self._collect_now(2)

    def _collect_now(self, generation: int) -> int:
        self.collections += 1
        return self._collect(generation)

    def __getattr__(self, name: str) -> Any:
        return getattr(gc, name)


def destroy_modules_without_referrer_scan(manager: Any) -> None:
    """``DocumentModuleManager.destroy``, minus its full-heap ``gc.get_referrers`` diagnostic."""
    for module in manager._modules:
        sys.modules.pop(module.__name__, None)
        module.__dict__.clear()
    manager._modules = []


def install(
    delay: float = DEFAULT_DELAY_SECONDS, collect: Callable[[int], int] = gc.collect
) -> CoalescingCollector | None:
    """Make session discards cheap; returns the collector, or None if Bokeh's internals moved."""
    from bokeh.document import document, modules

    manager = getattr(modules, "DocumentModuleManager", None)
    expected = manager is not None and "_modules" in manager.__init__.__code__.co_names
    if getattr(document, "gc", None) is not gc or not expected:
        log.warning("Bokeh's session cleanup internals changed; sessions are discarded the slow way")
        return None
    collector = CoalescingCollector(delay, collect)
    document.gc = collector  # type: ignore[attr-defined]
    manager.destroy = destroy_modules_without_referrer_scan
    return collector
