"""The site when the Bokeh server is stopped or frozen: a bounded 503, everything else serving."""

import signal
import time

import pytest
import requests

from aperture.catalog import CATALOG
from aperture.session_token import mint_session, token_payload
from tests.support.servers import TEST_BOKEH_SECRET
from web.embedding.bokeh_pull import BokehUnavailable, pull_and_change

# The pull deadline the fragile stack runs with (BOKEH_PULL_TIMEOUT in conftest).
TIMEOUT = 2
# Bokeh's client gives up on its own after 20 s; finishing before that proves our deadline acted.
BOKEH_OWN_TIMEOUT = 20
# How long the site may take to notice (BOKEH_HEALTH_INTERVAL is 2 s there, plus one probe).
NOTICE_SECONDS = 30


def wait_for_status(url: str, status: int, seconds: float = NOTICE_SECONDS) -> requests.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = requests.get(url, timeout=30)
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.text[:500]
            return response
        time.sleep(0.2)


def assert_rest_of_site_works(stack):
    assert requests.get(f"{stack.web_url}/", timeout=30).status_code == 200
    # Each gunicorn worker has its own monitor; whichever answers has noticed within the bound.
    deadline = time.monotonic() + NOTICE_SECONDS
    while True:
        health = requests.get(f"{stack.web_url}/healthz", timeout=30)
        assert health.status_code == 200, "liveness does not depend on the Bokeh server"
        if health.json()["bokeh"]["reachable"] is False:
            break
        assert time.monotonic() < deadline, "the site never noticed the Bokeh server was down"
        time.sleep(0.2)


def freeze(stack, signum):
    """Stop (or continue) every process of the Bokeh side: the supervisor and its servers."""
    for process in [*stack.bokeh.children(), stack.bokeh.process]:
        process.send_signal(signum)


def test_bokeh_stopped_gives_a_503_and_recovers(fragile_stack):
    fragile_stack.bokeh.stop()
    response = wait_for_status(f"{fragile_stack.web_url}/apps/sliders", 503)
    assert "The live app “Sliders” is unavailable" in response.text
    assert "the Bokeh server cannot be reached" in response.text
    assert response.headers["Retry-After"]
    assert_rest_of_site_works(fragile_stack)
    # An anonymous visitor's private tiles say to log in instead.
    public_tiles = [view.app for view in CATALOG.page_views("dashboard") if CATALOG[view.app].public]
    # Within the bound: the worker that answers may not have probed since the stop.
    deadline = time.monotonic() + NOTICE_SECONDS
    while True:
        dashboard = requests.get(f"{fragile_stack.web_url}/dashboard", timeout=30)
        assert dashboard.status_code == 200, "a dashboard is never a 503: each tile says what happened"
        if dashboard.text.count("is unavailable: the Bokeh server cannot be reached") == len(public_tiles):
            break
        assert time.monotonic() < deadline, "the dashboard's tiles never said the Bokeh server was down"
        time.sleep(0.2)

    fragile_stack.restart_bokeh()
    wait_for_status(f"{fragile_stack.web_url}/apps/sliders", 200)


def test_bokeh_frozen_gives_a_503_within_the_timeout(fragile_stack):
    freeze(fragile_stack, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = wait_for_status(f"{fragile_stack.web_url}/apps/iris", 503)
        assert f"the Bokeh server did not answer within {TIMEOUT} s" in response.text
        assert time.monotonic() - started < NOTICE_SECONDS
        assert_rest_of_site_works(fragile_stack)
    finally:
        freeze(fragile_stack, signal.SIGCONT)
    wait_for_status(f"{fragile_stack.web_url}/apps/iris", 200)


def test_bokeh_freezing_mid_pull_still_ends_at_the_deadline(fragile_stack):
    """The deadline covers every step: here the process freezes after the pull, before the flush."""
    process_url = fragile_stack.process_urls[0]
    server = next(
        child
        for child in fragile_stack.bokeh.children()
        if child.pid == requests.get(f"{process_url}/healthz", timeout=10).json()["pid"]
    )

    def freeze_server(doc):
        doc.title = "edited"
        server.send_signal(signal.SIGSTOP)

    grant = mint_session(TEST_BOKEH_SECRET, 60, token_payload({}))
    try:
        started = time.monotonic()
        with pytest.raises(BokehUnavailable, match="did not answer within 1 s"):
            pull_and_change(f"{process_url}/sliders", grant, freeze_server, 1, "Sliders")
        assert time.monotonic() - started < BOKEH_OWN_TIMEOUT
    finally:
        server.send_signal(signal.SIGCONT)


def test_a_token_signed_with_another_key_is_refused_by_the_server(stack):
    # Bokeh accepts the websocket, checks the token, then closes it: the client only sees a close.
    grant = mint_session("another-secret-that-is-long-enough-0123456789", 60, token_payload({}))
    with pytest.raises(BokehUnavailable, match="refused the session"):
        pull_and_change(f"{stack.bokeh_url}/sliders", grant, lambda doc: None, 10, "Sliders")
    # The server logs the refusal as it closes the socket; the line may follow the close.
    refusal = "websocket refused, GET /sliders/ws (127.0.0.1): Invalid token signature"
    deadline = time.monotonic() + NOTICE_SECONDS
    while refusal not in stack.bokeh.output():
        assert time.monotonic() < deadline, "the refusal was not logged"
        time.sleep(0.1)
