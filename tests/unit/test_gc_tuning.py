"""The Bokeh processes' garbage collector settings (bkruntime.gc_tuning)."""

import gc
import weakref

import pytest

from bkruntime import gc_tuning


class Node:
    """An object in a reference cycle with itself: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def tuning():
    # Whatever a test did to this process's collector is undone afterwards. Some interpreters
    # start with objects frozen already (3.12 builds do), so freeze counts are compared, not zero.
    frozen_at_start = gc.get_freeze_count()
    yield lambda enabled: gc_tuning.install(enabled)
    gc_tuning.uninstall()
    assert gc.get_threshold() == gc_tuning.DEFAULT_THRESHOLDS
    assert gc.get_freeze_count() in (0, frozen_at_start)


class RecordingLoop:
    def __init__(self) -> None:
        self.scheduled = []

    def call_later(self, delay, callback):
        self.scheduled.append((delay, callback))


class Server:
    """Stands for Bokeh's server: its loop and its open sessions."""

    def __init__(self, open_sessions: int) -> None:
        self.io_loop = RecordingLoop()
        self.open_sessions = open_sessions

    def get_sessions(self):
        return [object()] * self.open_sessions


def test_off_leaves_the_collector_as_it_is_but_records_its_pauses(tuning):
    frozen_at_start = gc.get_freeze_count()
    installed = tuning(False)
    assert gc.get_threshold() == gc_tuning.DEFAULT_THRESHOLDS
    gc.collect()
    summary = gc_tuning.summary()
    assert summary["tuned"] is False and summary["full_collections"] >= 1
    assert summary["longest_full_ms"] >= 0 and gc.get_freeze_count() == frozen_at_start
    server = Server(open_sessions=0)
    gc_tuning.watch(server, ended_sessions=lambda: 0)
    assert server.io_loop.scheduled == []
    assert installed.collect_everything() >= 0 and gc.get_freeze_count() == frozen_at_start


def test_on_raises_the_young_threshold_and_freezes_after_a_full_collection(tuning):
    tuning(True)
    assert gc.get_threshold()[0] == gc_tuning.YOUNG_THRESHOLD
    assert gc.get_threshold()[1:] == gc_tuning.DEFAULT_THRESHOLDS[1:]
    gc.collect()
    assert gc.get_freeze_count() > 0, "what survived the full collection is frozen"
    assert gc_tuning.summary()["tuned"] is True


def test_frozen_cycles_are_freed_only_by_collect_everything(tuning):
    installed = tuning(True)
    node = Node()
    alive = weakref.ref(node)
    gc.collect()  # node survives it, so it is frozen
    del node
    gc.collect()
    assert alive() is not None, "a plain collection skips frozen objects"
    installed.collect_everything()
    assert alive() is None
    assert gc.get_freeze_count() > 0, "and the survivors are frozen again"


def test_what_the_apps_loaded_is_frozen_once_the_server_has_started(tuning):
    tuning(True)
    server = Server(open_sessions=0)
    gc_tuning.watch(server, ended_sessions=lambda: 0)
    ((delay, freeze),) = server.io_loop.scheduled
    assert delay == gc_tuning.FREEZE_AFTER_START_SECONDS
    gc.unfreeze()
    freeze()
    assert gc.get_freeze_count() > 0


def test_installing_again_replaces_the_recorder(tuning):
    first = tuning(True)
    second = tuning(False)
    assert first not in gc.callbacks and second in gc.callbacks
    assert gc.get_threshold() == gc_tuning.DEFAULT_THRESHOLDS and gc.get_freeze_count() == 0


def test_the_whole_heap_is_collected_a_while_after_discards_only_when_tuned(tuning):
    assert tuning(True).discard_collection_delay == gc_tuning.TUNED_DISCARD_COLLECTION_DELAY
    assert tuning(False).discard_collection_delay == gc_tuning.UNTUNED_DISCARD_COLLECTION_DELAY
    assert gc_tuning.TUNED_DISCARD_COLLECTION_DELAY > gc_tuning.UNTUNED_DISCARD_COLLECTION_DELAY
    installed = tuning(True)
    installed.collect_everything()
    assert gc_tuning.summary()["heap_collections"] == 1


def test_frozen_cycles_wait_until_a_quarter_of_the_open_sessions_have_ended(tuning):
    installed = tuning(True)
    server, ended = Server(open_sessions=100), [0]
    installed.watch(server, ended_sessions=lambda: ended[0])
    node = Node()
    alive = weakref.ref(node)
    gc.collect()
    del node

    ended[0] = 24  # fewer than 100 / 4 since the watch began
    installed.collect_everything()
    assert alive() is not None and installed.heap_collections == 0

    ended[0] = 25
    installed.collect_everything()
    assert alive() is None and installed.heap_collections == 1
    installed.collect_everything()
    assert installed.heap_collections == 1, "counted again from the last heap collection"
