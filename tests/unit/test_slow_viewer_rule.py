"""A viewer past the slow-viewer limit is disconnected once it has taken nothing for a while, not
while it reads, nor when the process itself was too busy to write to it."""

import socket

import pytest

from aperture.environment import ConfigurationError
from bkruntime.settings import BokehServerSettings
from bkruntime.slow_viewers import ReadingWatch, socket_takes_more


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stream:
    """What the watch reads of a Tornado stream: bytes written out so far, and its socket."""

    def __init__(self, sock=None) -> None:
        self._total_write_done_index = 0
        self.socket = sock


class Handler:
    pass


def test_a_viewer_that_takes_nothing_for_the_stall_time_stopped_reading():
    clock, behind = Clock(), []
    watch = ReadingWatch(stall_seconds=10, behind=lambda: behind.append(1), clock=clock)
    handler, stream = Handler(), Stream()
    assert not watch.stopped_reading(handler, stream)
    clock.now += 9.9
    assert not watch.stopped_reading(handler, stream)
    clock.now += 0.2
    assert watch.stopped_reading(handler, stream)
    assert behind == [1] and watch.times_behind == 1


def test_a_viewer_that_takes_bytes_is_reading_however_far_behind():
    clock = Clock()
    watch = ReadingWatch(stall_seconds=10, clock=clock)
    handler, stream = Handler(), Stream()
    for _ in range(20):
        assert not watch.stopped_reading(handler, stream)
        clock.now += 8
        stream._total_write_done_index += 1


def test_a_viewer_that_caught_up_starts_anew_when_it_falls_behind_again():
    clock, behind = Clock(), []
    watch = ReadingWatch(stall_seconds=10, behind=lambda: behind.append(1), clock=clock)
    handler, stream = Handler(), Stream()
    watch.stopped_reading(handler, stream)
    watch.caught_up(handler)
    clock.now += 60
    assert not watch.stopped_reading(handler, stream)
    assert len(behind) == 2


def test_a_socket_that_takes_more_means_its_viewer_reads():
    """The process was busy (its startup self-check): nothing was written, but the browser read."""
    left, right = socket.socketpair()
    try:
        clock = Clock()
        watch = ReadingWatch(stall_seconds=10, clock=clock)
        handler, stream = Handler(), Stream(left)
        assert socket_takes_more(stream)
        watch.stopped_reading(handler, stream)
        clock.now += 60
        assert not watch.stopped_reading(handler, stream)
    finally:
        left.close()
        right.close()


def test_a_socket_whose_peer_does_not_read_takes_nothing_more():
    left, right = socket.socketpair()
    try:
        left.setblocking(False)
        try:
            while True:
                left.send(b"x" * 65536)
        except BlockingIOError:
            pass
        assert not socket_takes_more(Stream(left))
    finally:
        left.close()
        right.close()


def test_the_stall_time_comes_from_the_environment_and_refuses_nonsense(tmp_path):
    def read(**values):
        return BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path), **values})

    assert read().slow_viewer_stall_seconds == 10.0
    assert read(BOKEH_SLOW_VIEWER_STALL_SECONDS="2.5").slow_viewer_stall_seconds == 2.5
    for bad in ("0", "soon"):
        with pytest.raises(ConfigurationError, match="BOKEH_SLOW_VIEWER_STALL_SECONDS"):
            read(BOKEH_SLOW_VIEWER_STALL_SECONDS=bad)
