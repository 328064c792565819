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
                "periodic_callbacks": 2,
                "pending_jobs": 0,
            }

        watcher.wait_until(only_the_watcher_left)
    assert start["live_sessions"] == 1, "the stack served no other stream session before"
