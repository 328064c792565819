"""Tells a viewer that stopped reading its updates from one that is busy but still reading.

The update broadcast (``bkruntime.patch_broadcast``) never waits for a viewer: what a viewer's
socket does not take waits in its stream. A viewer with more than the limit
(``BOKEH_SLOW_VIEWER_BUFFER_KB``) waiting used to be disconnected at once; but a busy browser (a
tab drawing an animated plot on a loaded machine) falls that far behind and still reads, and a
Bokeh process that was busy itself (building every app for its startup self-check) has not
written to anyone for a while. Disconnecting those only makes them pull the whole document again
and fall behind again. So a viewer past the limit is disconnected only once it has taken nothing
for ``BOKEH_SLOW_VIEWER_STALL_SECONDS``: none of its waiting bytes left the stream in that time,
and its socket takes nothing now (the kernel's send buffer is full: the browser does not read).
Past ``HARD_LIMIT_FACTOR`` times the limit it is disconnected whatever it does, so that one viewer
cannot hold an unbounded amount of the process's memory.

Each time a viewer falls behind by more than the limit counts in
``aperture_bokeh_slow_viewers_behind_total``; each disconnect in
``aperture_bokeh_slow_viewers_disconnected_total``.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

DEFAULT_STALL_SECONDS = 10.0
# Past this many times the limit, a viewer is disconnected even if it reads (memory is bounded).
HARD_LIMIT_FACTOR = 16
# Per viewer (on its websocket handler): (bytes of its stream written out, when first seen so).
_PROGRESS = "_aperture_reading_progress"


def socket_takes_more(stream: Any) -> bool:
    """Whether the stream's socket would take more bytes now (its peer has been reading)."""
    sock = getattr(stream, "socket", None)
    if sock is None:
        return False
    try:
        _, writable, _ = select.select([], [sock], [], 0)
    except (OSError, ValueError):
        return False  # closed meanwhile: its close is on the way
    return bool(writable)


class ReadingWatch:
    """Remembers, per viewer past the limit, since when it has taken none of its updates."""

    def __init__(
        self,
        stall_seconds: float = DEFAULT_STALL_SECONDS,
        behind: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stall_seconds = stall_seconds
        self.behind = behind
        self.clock = clock
        self.times_behind = 0

    def caught_up(self, handler: Any) -> None:
        """The viewer is within the limit again: a later fall behind starts anew."""
        if getattr(handler, _PROGRESS, None) is not None:
            setattr(handler, _PROGRESS, None)

    def stopped_reading(self, handler: Any, stream: Any) -> bool:
        """The viewer is past the limit: has it taken nothing for ``stall_seconds``?"""
        written = getattr(stream, "_total_write_done_index", None)
        now = self.clock()
        seen = getattr(handler, _PROGRESS, None)
        if seen is None:
            self.times_behind += 1
            if self.behind is not None:
                self.behind()
        if seen is None or seen[0] != written or socket_takes_more(stream):
            setattr(handler, _PROGRESS, (written, now))
            return False
        return now - seen[1] >= self.stall_seconds
