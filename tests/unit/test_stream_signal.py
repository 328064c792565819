"""The stream's signal: a pure function of the tick, and the cursor rules of a poll."""

import pytest

from web.pages.stream_signal import MAX_BATCH_TICKS, TICK_SECONDS, samples, tick_at, tick_time_ms, value_at

NOW = 3_600_000_000  # a tick in 2027, in the billions like real ones


def test_ticks_are_a_fixed_grid_counted_from_the_epoch():
    assert tick_at(0) == 0
    assert tick_at(TICK_SECONDS * 10) == 10
    assert tick_at(TICK_SECONDS * 10 - 0.001) == 9
    assert tick_time_ms(10) == TICK_SECONDS * 10 * 1000


def test_a_ticks_value_depends_on_the_tick_alone():
    values = [value_at(tick) for tick in range(NOW, NOW + 50)]
    assert values == [value_at(tick) for tick in range(NOW, NOW + 50)]
    assert len(set(values)) > 10
    assert all(abs(value) <= 1.7 for value in values)


def test_a_poll_gets_the_ticks_after_its_cursor_up_to_now():
    columns = samples(after=NOW - 3, now=NOW, limit=MAX_BATCH_TICKS)
    assert columns["tick"] == [NOW - 2, NOW - 1, NOW]
    assert columns["time"] == [tick_time_ms(tick) for tick in columns["tick"]]
    assert columns["value"] == [value_at(tick) for tick in columns["tick"]]


def test_an_old_or_missing_cursor_gets_only_the_latest_limit_ticks():
    assert samples(after=0, now=NOW, limit=4)["tick"] == [NOW - 3, NOW - 2, NOW - 1, NOW]
    assert samples(after=NOW - 100, now=NOW, limit=2)["tick"] == [NOW - 1, NOW]


@pytest.mark.parametrize("after", [NOW, NOW + 1, NOW + 10**6])
def test_a_cursor_at_or_past_now_gets_nothing_yet(after):
    assert samples(after=after, now=NOW, limit=10) == {"tick": [], "time": [], "value": []}


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="limit"):
        samples(after=0, now=NOW, limit=0)
