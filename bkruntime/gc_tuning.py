"""Keep Python's cycle collector from pausing a Bokeh server process for long.

A full collection visits every tracked object on the server's only thread; with many live sessions
CPython starts one every few seconds. ``install()`` (unless ``BOKEH_GC_TUNING`` is off) raises the
young threshold and freezes what the process holds once its apps are loaded and after every full
collection, so a full collection visits only what is new since the last one. Discarded sessions
are almost all cycles, which frozen stay: the collection Bokeh asks for after discards
(``bkruntime.session_cleanup``) becomes ``collect_everything()`` (thaw, collect, freeze), a while
after the first discard and only once a quarter as many sessions as are open have ended since the
last one, CPython's own rule. ``GcTuning`` records the pauses either way (``/healthz``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

YOUNG_THRESHOLD = 10_000
# Seconds after the server starts (its apps' on_server_loaded hooks run first thing) until what
# the process holds is frozen. Not critical: anything loaded later is frozen after the next full
# collection.
FREEZE_AFTER_START_SECONDS = 1.0
# Seconds from a session's discard to the collection of the whole heap that frees it (tuned), and
# so at most one such pause per this period however many sessions end; untuned, as Bokeh does.
TUNED_DISCARD_COLLECTION_DELAY = 60.0
UNTUNED_DISCARD_COLLECTION_DELAY = 1.0
OLDEST = 2
DEFAULT_THRESHOLDS = gc.get_threshold()


class GcTuning:
    """The collector's settings for this process, and how long its collections paused it.

    Registered in ``gc.callbacks``: called at the start and the stop of every collection.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.collections = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self.total_ms = [0.0, 0.0, 0.0]
        self.heap_collections = 0
        self._started = 0.0
        # Set by watch(): the server's open sessions, and how many sessions have ended so far.
        self._open_sessions: Callable[[], int] | None = None
        self._ended_sessions: Callable[[], int] | None = None
        self._ended_at_last_heap_collection = 0

    @property
    def discard_collection_delay(self) -> float:
        """How long after a session discard ``collect_everything`` should run (``session_cleanup``)."""
        return TUNED_DISCARD_COLLECTION_DELAY if self.enabled else UNTUNED_DISCARD_COLLECTION_DELAY

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        elapsed = (time.perf_counter() - self._started) * 1000
        self.collections[generation] += 1
        self.total_ms[generation] += elapsed
        self.longest_ms[generation] = max(self.longest_ms[generation], elapsed)
        if self.enabled and generation == OLDEST:
            # The collection is over; what survived it need not be visited again.
            gc.freeze()

    def watch(self, server: Any, ended_sessions: Callable[[], int]) -> None:
        """Follow Bokeh's ``server`` (its open sessions; ``ended_sessions()`` counts the ended ones)
        and freeze what the process holds once its apps are loaded."""
        self._open_sessions = lambda: len(server.get_sessions())
        self._ended_sessions = ended_sessions
        self._ended_at_last_heap_collection = ended_sessions()
        if self.enabled:
            server.io_loop.call_later(FREEZE_AFTER_START_SECONDS, freeze_loaded)

    def collect_everything(self, generation: int = OLDEST) -> int:
        """A full collection that frozen objects take part in too (they are frozen again after).

        Tuned and watching a server, and fewer sessions ended since the last one than a quarter
        of those open: a plain collection (frozen objects skipped) is enough for now.
        """
        if not self.enabled:
            self.heap_collections += 1
            return gc.collect(generation)
        if self._ended_sessions is not None and self._open_sessions is not None:
            ended = self._ended_sessions()
            if 4 * (ended - self._ended_at_last_heap_collection) < self._open_sessions():
                return gc.collect()
            self._ended_at_last_heap_collection = ended
        self.heap_collections += 1
        gc.unfreeze()
        try:
            return gc.collect()
        finally:
            gc.freeze()

    def summary(self) -> dict[str, Any]:
        """For ``/healthz``: full collections and their pauses, young ones.

        Not ``gc.get_freeze_count()``: it walks every frozen object, a pause of its own.
        """
        return {
            "tuned": self.enabled,
            "full_collections": self.collections[OLDEST],
            "longest_full_ms": round(self.longest_ms[OLDEST], 1),
            "full_ms": round(self.total_ms[OLDEST], 1),
            "heap_collections": self.heap_collections,
            "young_collections": self.collections[0] + self.collections[1],
            "longest_young_ms": round(max(self.longest_ms[:OLDEST]), 1),
        }


def freeze_loaded() -> None:
    """Collect once, then freeze everything that is left: the process as its apps loaded it."""
    gc.collect()
    gc.freeze()


_installed: GcTuning | None = None


def watch(server: Any, ended_sessions: Callable[[], int]) -> None:
    """``GcTuning.watch`` of the installed tuning (``customize_server``), if there is one."""
    if _installed is not None:
        _installed.watch(server, ended_sessions)


def install(enabled: bool = True) -> GcTuning:
    """Record collection pauses and, if ``enabled``, tune the collector (see the module docstring)."""
    global _installed
    uninstall()
    _installed = GcTuning(enabled)
    gc.callbacks.append(_installed)
    if enabled:
        _, middle, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
    return _installed


def uninstall() -> None:
    """Undo ``install()``: default thresholds, nothing frozen, no recording."""
    global _installed
    if _installed is not None:
        gc.callbacks.remove(_installed)
        _installed = None
        gc.set_threshold(*DEFAULT_THRESHOLDS)
        gc.unfreeze()


def summary() -> dict[str, Any]:
    """The installed tuning's summary (empty if ``install()`` did not run in this process)."""
    return _installed.summary() if _installed is not None else {}
