"""The pull client's failure paths, against real sockets that refuse or never answer."""

import asyncio
import socket
import time

import pytest

from aperture.session_token import mint_session, token_payload
from tests.support.servers import TEST_BOKEH_SECRET
from web.embedding.bokeh_pull import BokehUnavailable, GrantedClientSession, pull_and_change


@pytest.fixture
def silent_server():
    """A TCP server whose kernel accepts connections that nobody ever answers (a frozen peer)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def pull(port, timeout):
    grant = mint_session(TEST_BOKEH_SECRET, 60, token_payload({}))
    pull_and_change(f"http://127.0.0.1:{port}/sliders", grant, lambda doc: None, timeout, "Sliders")


def test_refused_connection_is_bokeh_unavailable(closed_port):
    with pytest.raises(BokehUnavailable) as caught:
        pull(closed_port, timeout=5)
    assert caught.value.app_title == "Sliders"
    assert caught.value.reason == "the Bokeh server cannot be reached"


def test_silent_server_is_bokeh_unavailable_at_the_deadline(silent_server):
    started = time.monotonic()
    with pytest.raises(BokehUnavailable, match=r"did not answer within 0\.5 s"):
        pull(silent_server, timeout=0.5)
    # Not a speed limit: proof that our deadline ended the wait, not bokeh's own 20 s one.
    assert time.monotonic() - started < 20


def test_failed_pulls_leave_no_file_descriptors(silent_server, closed_port):
    def open_fds():
        import os

        return len(os.listdir("/proc/self/fd"))

    pull_failures = [(closed_port, 5), (silent_server, 0.2)]
    for port, timeout in pull_failures:  # warm-up: imports and lazily created objects
        with pytest.raises(BokehUnavailable):
            pull(port, timeout)
    before = open_fds()
    for _ in range(10):
        for port, timeout in pull_failures:
            with pytest.raises(BokehUnavailable):
                pull(port, timeout)
    assert open_fds() - before <= 2


def test_pulls_work_from_a_thread_running_an_event_loop(closed_port):
    """Flask runs ``async`` views on an event loop; Bokeh's synchronous client must still work."""

    async def async_view():
        pull(closed_port, timeout=5)

    with pytest.raises(BokehUnavailable, match="cannot be reached"):
        asyncio.run(async_view())


def test_the_client_connects_with_the_sites_token_not_its_own():
    grant = mint_session(TEST_BOKEH_SECRET, 60, token_payload({"N": 30}))
    session = GrantedClientSession(grant, "ws://127.0.0.1:1/sliders/ws", io_loop=None)
    assert session.id == grant.session_id
    assert session.token == grant.token
