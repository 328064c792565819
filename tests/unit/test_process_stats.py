"""What a Bokeh process reports to the admin view, and who may ask (``bkruntime.process_stats``)."""

import asyncio
import logging

from itsdangerous import TimestampSigner

from aperture.endpoints import credential_is_valid, stats_credential
from bkruntime.process_stats import MAX_ERRORS, ProcessStats
from tests.support.servers import TEST_BOKEH_SECRET


def test_only_a_fresh_credential_signed_with_the_bokeh_key_is_valid(monkeypatch):
    credential = stats_credential(TEST_BOKEH_SECRET)
    assert credential_is_valid(TEST_BOKEH_SECRET, credential)
    assert not credential_is_valid(TEST_BOKEH_SECRET, stats_credential("another-secret-0123456789abcdefghijk"))
    assert not credential_is_valid(TEST_BOKEH_SECRET, "")
    now = TimestampSigner(TEST_BOKEH_SECRET).get_timestamp()
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now + 120)
    assert not credential_is_valid(TEST_BOKEH_SECRET, credential), "a minute at most"


def test_sessions_are_counted_per_app_by_bokehs_session_hooks():
    stats = ProcessStats()
    sliders, iris = stats.counter_for("sliders"), stats.counter_for("iris")
    for hook in (sliders.on_session_created, sliders.on_session_created, iris.on_session_created):
        asyncio.run(hook(None))
    asyncio.run(sliders.on_session_destroyed(None))
    report = stats.report({"sliders": 1, "iris": 1})
    assert report["apps"]["sliders"] == {"open_sessions": 1, "sessions_created": 2, "sessions_destroyed": 1}
    assert report["apps"]["iris"]["sessions_created"] == 1
    assert report["rss_bytes"] > 10_000_000


def test_recent_errors_keep_the_latest_short_lines():
    stats = ProcessStats()
    logger = logging.getLogger("test.process_stats")
    logger.addHandler(stats.errors)
    try:
        logger.warning("not an error")
        for number in range(MAX_ERRORS + 5):
            logger.error("failure %d\nwith a second line", number)
        try:
            raise ValueError("bad value")
        except ValueError:
            logger.exception("callback failed")
    finally:
        logger.removeHandler(stats.errors)
    report = stats.report({})
    assert report["errors_total"] == MAX_ERRORS + 6
    assert len(report["recent_errors"]) == MAX_ERRORS
    assert report["recent_errors"][-1]["message"] == "callback failed (ValueError: bad value)"
    assert report["recent_errors"][-2]["message"] == f"failure {MAX_ERRORS + 4}"
