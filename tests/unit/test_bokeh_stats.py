"""The admin view's reading of a Bokeh process's /metrics (web.operations.bokeh_stats)."""

from collections import Counter

import pytest

from bkruntime import metrics
from web.operations.bokeh_stats import metrics_numbers, with_metrics


@pytest.fixture
def exposition():
    """What a process answers at /metrics after two iris builds and a few messages."""
    created, destroyed = Counter(iris=2), Counter(iris=1)
    registry = metrics.CollectorRegistry()
    registry.register(metrics.SessionCounts(created, destroyed))
    registry.register(metrics.REGISTRY)
    for seconds in (0.1, 0.3):
        metrics.BUILD_SECONDS.labels("admin-test", "built").observe(seconds)
    metrics.BUILD_SECONDS.labels("admin-test", "error").observe(5.0)
    metrics.count_received("admin-test", "PULL-DOC-REQ")
    metrics.count_sent("admin-test", "ACK")
    metrics.count_sent("admin-test", "PULL-DOC-REPLY")
    return metrics.generate_latest(registry).decode()


def test_the_numbers_per_app_and_per_process(exposition):
    numbers = metrics_numbers(exposition)
    iris, app = numbers["apps"]["iris"], numbers["apps"]["admin-test"]
    assert iris["sessions_created"] == 2 and iris["sessions_destroyed"] == 1
    assert app["document_builds"] == 2 and app["build_ms_mean"] == pytest.approx(200.0)
    assert app["messages_received"] == 1 and app["messages_sent"] == 2
    assert numbers["rss_bytes"] > 0
    assert set(numbers["gc"]) == {"0", "1", "2"}


def test_metrics_take_the_place_of_the_same_numbers_from_stats():
    report = {"reachable": True, "rss_bytes": 1, "apps": {"iris": {"open_sessions": 0, "sessions_created": 0}}}
    numbers = {"apps": {"iris": {"open_sessions": 3, "sessions_created": 5, "document_builds": 5}}, "rss_bytes": 9}
    merged = with_metrics(report, numbers)
    assert merged["apps"]["iris"] == {"open_sessions": 3, "sessions_created": 5, "document_builds": 5}
    assert merged["rss_bytes"] == 9 and merged["metrics"] is numbers
    assert with_metrics(report, None) is report


def test_viewers_per_app_and_per_shared_view():
    text = metrics.exposition({"stream": 1}, viewers={"stream": 12}, shared_views=[("stream", "abcdefabcdef", 12)])
    numbers = metrics_numbers(text.decode())
    assert numbers["apps"]["stream"]["viewers"] == 12
    assert numbers["shared_views"] == [{"app": "stream", "view": "abcdefabcdef", "viewers": 12}]
