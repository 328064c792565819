"""The ``stream`` app's numbers (bkapps.stream.data), computed without Bokeh."""

from collections import namedtuple

import psutil
import pytest

from bkapps.stream.data import (
    ACTIVITY_LABELS,
    CoreLoadMeter,
    HostMeter,
    activity_columns,
    busy_percent,
    largest_by_memory,
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


def test_host_meter_samples_one_row_since_its_previous_reading():
    readings = iter([times(user=0, idle=0), times(user=1, idle=3), times(user=5, idle=3)])
    Memory = namedtuple("Memory", "percent")
    meter = HostMeter(cpu_times=lambda: next(readings), memory=lambda: Memory(41.25), clock=lambda: 2.5)
    assert meter.sample() == {"time": [2500.0], "cpu": [25.0], "memory": [41.2]}
    assert meter.sample()["cpu"] == [100.0]


def test_core_meter_measures_every_core_of_this_machine():
    meter = CoreLoadMeter()
    loads = meter.measure()
    assert len(loads) == len(meter.labels) == len(psutil.cpu_times(percpu=True))
    assert all(0.0 <= load <= 100.0 for load in loads)
    assert meter.labels[0] == "cpu0"


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
