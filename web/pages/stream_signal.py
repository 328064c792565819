"""The signal behind ``/classic/stream``: a pure function of time, so every worker agrees on it.

The tutorial this page follows keeps ``global x`` in the Flask process and increments it on each
poll. Under gunicorn with several workers (and several machines later) each worker would hold
its own ``x``, so consecutive polls answered by different workers would jump back and forth, and
a restart would reset the curve. Nothing here is kept between requests instead:

* The signal is sampled on a fixed grid of *ticks* (``TICK_SECONDS`` apart, counted from the Unix
  epoch) and the value of a tick depends on the tick number alone. Any worker, at any time,
  computes the same value for the same tick; only the clock decides which ticks exist yet.
* The client keeps its own cursor, the last tick it has plotted, and sends it with each poll
  (``?after=<tick>``); the answer is the ticks after it up to now, at most ``limit`` of them.
  A poll answered twice, late or by a worker whose clock is slightly behind gives an overlap or
  nothing, never a wrong value, and the page's adapter drops ticks it already has.

The cursor is not signed because it grants nothing: every tick's value is public and
reproducible, a cursor in the future only starves the client that sent it, and ``limit`` bounds
the work of a cursor far in the past. A real data source would replace ``value_at`` with stored
measurements keyed by time, which keeps the same property.

No Flask or Bokeh here: the API route and the page's figures call these functions.
"""

from __future__ import annotations

import math

TICK_SECONDS = 0.5
# One poll answers with at most this many ticks (two minutes): a tab that was hidden for longer
# resumes with the latest two minutes rather than a burst of everything it missed.
MAX_BATCH_TICKS = 240
# Three periods in ticks (30 s, 7 s, 2.5 s): integers, so the phase is computed exactly even
# though tick numbers are in the billions.
_COMPONENTS = ((60, 1.0, 0.0), (14, 0.5, 1.0), (5, 0.2, 2.0))  # (period, amplitude, phase)


def tick_at(unix_seconds: float) -> int:
    """The last tick at or before ``unix_seconds``."""
    return math.floor(unix_seconds / TICK_SECONDS)


def tick_time_ms(tick: int) -> float:
    """When ``tick`` happens, in milliseconds since the epoch (what a datetime axis plots)."""
    return tick * TICK_SECONDS * 1000


def value_at(tick: int) -> float:
    """The signal's value at ``tick``: a sum of sines, rounded so that JSON stays short."""
    value = sum(
        amplitude * math.sin(2 * math.pi * (tick % period) / period + phase) for period, amplitude, phase in _COMPONENTS
    )
    return round(value, 6)


def samples(after: int, now: int, limit: int) -> dict[str, list[int] | list[float]]:
    """Columns for the ticks in ``(after, now]``, keeping only the latest ``limit`` of them.

    ``after`` is the client's cursor (the last tick it has); ``now`` is the current tick. The
    result maps ``tick``, ``time`` (ms) and ``value`` to equally long lists, as a Bokeh
    ``ColumnDataSource`` takes them.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    ticks = range(max(after + 1, now - limit + 1), now + 1)
    return {
        "tick": list(ticks),
        "time": [tick_time_ms(tick) for tick in ticks],
        "value": [value_at(tick) for tick in ticks],
    }
