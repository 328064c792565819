"""The site when the Bokeh server is stopped or frozen: a bounded 503, everything else serving."""

import os
import signal
import time

import pytest
import requests

from bkapps.signing import new_session_id
from tests.support.servers import TEST_BOKEH_SECRET
from web.dashboard import DASHBOARD_APPS
from web.embed import BokehUnavailable, create_live_session

# The pull deadline the fragile stack runs with (BOKEH_PULL_TIMEOUT in conftest).
TIMEOUT = 2
# Bokeh's client gives up on its own after 20 s; finishing before that proves our deadline acted.
BOKEH_OWN_TIMEOUT = 20


def assert_rest_of_site_works(stack):
    assert requests.get(f"{stack.web_url}/", timeout=30).status_code == 200
    health = requests.get(f"{stack.web_url}/healthz", timeout=30)
    assert health.status_code == 200
    assert health.json()["bokeh"]["reachable"] is False


def test_bokeh_stopped_gives_a_503_and_recovers(fragile_stack):
    fragile_stack.bokeh.stop()
    response = requests.get(f"{fragile_stack.web_url}/apps/sliders", timeout=30)
    assert response.status_code == 503
    assert "The live app “Sliders” is unavailable" in response.text
    assert "the Bokeh server cannot be reached" in response.text
    assert_rest_of_site_works(fragile_stack)
    dashboard = requests.get(f"{fragile_stack.web_url}/dashboard", timeout=30)
    assert dashboard.status_code == 200, "a dashboard is never a 503: each tile says what happened"
    assert dashboard.text.count("is unavailable: the Bokeh server cannot be reached") == len(DASHBOARD_APPS)

    fragile_stack.restart_bokeh()
    assert requests.get(f"{fragile_stack.web_url}/apps/sliders", timeout=30).status_code == 200


def test_bokeh_frozen_gives_a_503_within_the_timeout(fragile_stack):
    fragile_stack.bokeh.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = requests.get(f"{fragile_stack.web_url}/apps/iris", timeout=60)
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert f"the Bokeh server did not answer within {TIMEOUT} s" in response.text
        assert elapsed < BOKEH_OWN_TIMEOUT
        assert_rest_of_site_works(fragile_stack)
    finally:
        fragile_stack.bokeh.signal(signal.SIGCONT)
    assert requests.get(f"{fragile_stack.web_url}/apps/iris", timeout=30).status_code == 200


def test_bokeh_freezing_mid_pull_still_ends_at_the_deadline(fragile_stack):
    """The deadline covers every step: here the server freezes after the pull, before the flush."""

    def freeze_server(doc):
        doc.title = "edited"
        os.kill(fragile_stack.bokeh.pid, signal.SIGSTOP)

    try:
        started = time.monotonic()
        with pytest.raises(BokehUnavailable, match="did not answer within 1 s"):
            create_live_session(
                url=f"{fragile_stack.bokeh_url}/sliders",
                session_id=new_session_id(TEST_BOKEH_SECRET),
                arguments={},
                timeout=1,
                customize=freeze_server,
                app_title="Sliders",
            )
        assert time.monotonic() - started < BOKEH_OWN_TIMEOUT
    finally:
        fragile_stack.bokeh.signal(signal.SIGCONT)


def test_forged_session_is_refused_by_the_server(stack):
    # Bokeh accepts the websocket, checks the token, then closes it: the client only sees a close.
    with pytest.raises(BokehUnavailable, match="refused the session"):
        create_live_session(
            url=f"{stack.bokeh_url}/sliders",
            session_id=new_session_id("another-secret-that-is-long-enough-0123456789"),
            arguments={},
            timeout=10,
            customize=None,
            app_title="Sliders",
        )
    assert "had invalid signature" in stack.bokeh.output()
