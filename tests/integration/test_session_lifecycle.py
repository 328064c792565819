"""Ended sessions clean up on a real Bokeh server: subscriptions end, callbacks stop, the hooks run.

A stack of its own (one Bokeh process, so that one watcher sees every session) discards unused
sessions within about 0.7 s. A session of the ``stream`` app follows the server's activity table
live while browsers open the sessions of site pages (two ``/apps/stream`` pages and a
``/dashboard``) and leave again.
"""

import pytest
import requests

from tests.support.bokeh_client import browser_session, embedded_sessions, followed_session
from tests.support.servers import running_stack

PAGES = ("/apps/stream", "/apps/stream?rate=200&window=30", "/dashboard")
STREAM_SESSIONS = 3  # one per page above


@pytest.fixture(scope="module")
def quick_expiry_stack():
    with running_stack(
        processes=1, BOKEH_UNUSED_SESSION_LIFETIME_MS="500", BOKEH_CHECK_UNUSED_SESSIONS_MS="200"
    ) as live:
        yield live


def activity(doc) -> dict[str, int]:
    data = doc.select_one({"name": "server_activity"}).data
    return dict(zip(data["metric"], data["value"], strict=True))


def visit_like_a_browser(url: str) -> None:
    """Load the page and open each of its sessions, then leave."""
    page = requests.get(url, timeout=30)
    assert page.status_code == 200
    for embed in embedded_sessions(page.text):
        with browser_session(embed):
            pass


def test_ended_sessions_leave_the_sampler_and_stop_their_callbacks(quick_expiry_stack):
    stack = quick_expiry_stack
    with followed_session(f"{stack.bokeh_url}/stream", arguments={"rate": 100}) as watcher:
        start = activity(watcher.document)
        for page in PAGES:
            visit_like_a_browser(stack.web_url + page)
        seen = []

        def only_the_watcher_left(doc):
            now = activity(doc)
            seen.append(now)
            return now == {
                "live_sessions": 1,
                "sessions_created": start["sessions_created"] + STREAM_SESSIONS,
                "sessions_destroyed": start["sessions_destroyed"] + STREAM_SESSIONS,
                "threads": 1,
                "subscriptions": 1,
                # The watcher's sampling, its process scan and its activity table's refresh.
                "periodic_callbacks": 3,
                "pending_jobs": 0,
            }

        watcher.wait_until(only_the_watcher_left)
    assert start["live_sessions"] == 1, "the stack served no other stream session before"


def test_a_shared_views_table_is_true_from_its_first_frame(quick_expiry_stack):
    """The site's stream page is a shared view: its table counts the view's own session, its
    sampler subscription and its callbacks as soon as a browser sees it, and again after a
    second viewer joins the same document."""
    stack = quick_expiry_stack
    page = requests.get(f"{stack.web_url}/apps/stream?rate=700&window=70", timeout=30)
    assert page.status_code == 200
    [embed] = embedded_sessions(page.text)
    with browser_session(embed) as first:
        shown = activity(first)
        # No session of this stack is paused: each holds one subscription and three callbacks.
        assert shown["live_sessions"] >= 1
        assert shown["subscriptions"] == shown["live_sessions"], shown
        assert shown["periodic_callbacks"] == 3 * shown["live_sessions"], shown
        assert shown["threads"] == 1
        with browser_session(embed) as second:
            assert activity(second)["live_sessions"] == shown["live_sessions"], "one document for both viewers"
