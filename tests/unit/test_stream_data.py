"""The ``stream`` app's numbers (bkapps.stream.data), computed without Bokeh."""

from collections import namedtuple

import psutil
import pytest

from bkapps.stream.data import (
    ACTIVITY_LABELS,
    CoreLoadMeter,
    HostMeter,
    MachineReading,
    activity_columns,
    busy_percent,
    largest_by_memory,
    read_machine,
    top_processes,
)

Times = namedtuple("Times", "user nice system idle iowait guest guest_nice")


def times(user=0.0, system=0.0, idle=0.0, iowait=0.0, guest=0.0):
    return Times(user=user, nice=0.0, system=system, idle=idle, iowait=iowait, guest=guest, guest_nice=0.0)


@pytest.mark.parametrize(
    ("before", "after", "percent"),
    [
        (times(user=10, idle=10), times(user=13, idle=11), 75.0),
        (times(idle=5), times(idle=9), 0.0),
        (times(user=1, iowait=1), times(user=2, iowait=4), 25.0),  # waiting for I/O is idle
        (times(user=2, guest=1), times(user=6, guest=3, idle=4), 50.0),  # guest is inside user
        (times(user=3), times(user=3), 0.0),  # no time passed
    ],
)
def test_busy_percent_between_two_readings(before, after, percent):
    assert busy_percent(before, after) == percent


def reading(at: float, cpu=None, cores=(), memory=50.0) -> MachineReading:
    return MachineReading(time=at, cpu_times=cpu or times(), core_times=tuple(cores), memory_percent=memory)


def test_host_meter_makes_one_row_per_new_reading_with_the_load_since_its_previous_row():
    meter = HostMeter(reading(1.0, times(user=0, idle=0)))
    assert meter.row(reading(2.5, times(user=1, idle=3), memory=41.25)) == {
        "time": [2500.0],
        "cpu": [25.0],
        "memory": [41.2],
    }
    assert meter.row(reading(3.0, times(user=5, idle=3)))["cpu"] == [100.0]


def test_host_meter_skips_a_reading_no_newer_than_its_last_row():
    meter = HostMeter(reading(1.0))
    assert meter.row(reading(2.0)) is not None
    assert meter.row(reading(2.0)) is None
    assert meter.row(reading(1.5)) is None


def test_meters_of_two_sessions_each_measure_their_own_interval():
    first = reading(0.0, cores=[times(user=0, idle=0)])
    middle = reading(1.0, cores=[times(user=4, idle=0)])
    last = reading(2.0, cores=[times(user=4, idle=4)])
    every_second, every_two_seconds = CoreLoadMeter(first), CoreLoadMeter(first)
    assert every_second.measure(middle) == [100.0]
    assert every_second.measure(last) == [0.0]
    assert every_two_seconds.measure(last) == [50.0]


def test_a_reading_of_this_machine_has_every_core():
    now = read_machine()
    meter = CoreLoadMeter(now)
    assert len(meter.labels) == len(now.core_times) == len(psutil.cpu_times(percpu=True))
    assert meter.labels[0] == "cpu0"
    later = read_machine()
    assert all(0.0 <= load <= 100.0 for load in meter.measure(later))
    assert 0.0 < later.memory_percent < 100.0 and later.time >= now.time


def test_largest_by_memory_keeps_the_biggest_first_in_mebibytes():
    rows = [(2 * 2**20, 10, "small"), (300 * 2**20, 11, "big"), (50 * 2**20, 12, "medium")]
    assert largest_by_memory(rows, 2) == {"pid": [11, 12], "name": ["big", "medium"], "rss_mb": [300.0, 50.0]}


def test_top_processes_reads_this_machine():
    columns = top_processes(limit=3)
    assert 1 <= len(columns["pid"]) <= 3
    assert columns["rss_mb"] == sorted(columns["rss_mb"], reverse=True)


def test_activity_columns_label_every_count_in_order():
    counts = {key: index for index, key in enumerate(ACTIVITY_LABELS)}
    columns = activity_columns(counts)
    assert columns["metric"] == list(ACTIVITY_LABELS)
    assert columns["value"] == list(range(len(ACTIVITY_LABELS)))
