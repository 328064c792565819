"""Readiness, draining on SIGTERM and recycling of the Bokeh processes, and the site's SIGTERM.

Measured from outside: health routes, websocket close codes, exit statuses and the supervisor's
log, never durations.
"""

import asyncio
import signal
import threading
import time

import psutil
import pytest
import requests
from tornado.websocket import websocket_connect

from aperture.catalog import CATALOG
from aperture.endpoints import CREDENTIAL_HEADER, stats_credential
from tests.support.bokeh_client import browser_session, embedded_session
from tests.support.servers import TEST_BOKEH_SECRET, running_stack

WAIT_SECONDS = 60.0


def wait_for(predicate, message: str, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def health(url: str) -> dict | None:
    try:
        response = requests.get(f"{url}/healthz", timeout=5)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def test_ready_when_every_process_builds_every_app(stack):
    response = requests.get(f"{stack.web_url}/readyz", timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [process["process"] for process in body["processes"]] == [0, 1]
    for process in body["processes"]:
        assert set(process["apps"]) == set(CATALOG.names)
        assert all(app["ok"] for app in process["apps"].values())
    rechecked = requests.get(f"{stack.web_url}/readyz?recheck=1", timeout=60).json()
    assert all(
        app["checked_at"] > body["processes"][0]["apps"]["sliders"]["checked_at"]
        for app in rechecked["processes"][0]["apps"].values()
    )
    assert requests.get(f"{stack.web_url}/healthz", timeout=30).status_code == 200


def test_not_ready_names_the_process_that_does_not_answer(fragile_stack):
    stack = fragile_stack
    frozen = psutil.Process(health(stack.process_urls[1])["pid"])
    frozen.send_signal(signal.SIGSTOP)
    try:
        response = requests.get(f"{stack.web_url}/readyz", timeout=30)
        assert response.status_code == 503
        processes = response.json()["processes"]
        assert processes[0]["ready"] is True
        assert processes[1]["ready"] is False and "not reachable" in processes[1]["error"]
        # Liveness depends on nothing.
        assert requests.get(f"{stack.web_url}/healthz", timeout=30).status_code == 200
    finally:
        frozen.send_signal(signal.SIGCONT)


async def open_like_a_browser(embed, websocket_url: str):
    """A websocket with the page's token, as BokehJS opens it; returns it once Bokeh has ACKed."""
    socket = await websocket_connect(websocket_url, subprotocols=["bokeh", embed.token])
    await socket.read_message()  # the ACK header, which opens a session on the process
    return socket


async def close_code(socket) -> int | None:
    while await socket.read_message() is not None:
        pass
    return socket.close_code


def rechecking(*urls: str) -> bool:
    return any(requests.get(f"{url}/readyz", timeout=10).json().get("checking") for url in urls)


def start_in_flight(url: str, started, headers: dict | None = None) -> tuple[threading.Thread, dict]:
    """A request to ``url`` in a thread, returned once ``started()`` saw it being served."""
    for _ in range(20):
        result: dict = {}

        def fetch(into: dict = result) -> None:
            into["response"] = requests.get(url, headers=headers, timeout=60)

        request = threading.Thread(target=fetch)
        request.start()
        while request.is_alive():
            if started():
                return request, result
        # It finished before we saw it in flight; try again.
    raise AssertionError(f"never saw {url} in flight")


def test_sigterm_drains_a_bokeh_process_and_its_websockets_close_cleanly(fragile_stack):
    stack = fragile_stack
    victim_url = stack.process_urls[0]
    victim = psutil.Process(health(victim_url)["pid"])
    page = requests.get(f"{stack.web_url}/apps/sliders", timeout=30).text
    embed = embedded_session(page)
    loop = asyncio.new_event_loop()
    try:
        socket = loop.run_until_complete(open_like_a_browser(embed, victim_url.replace("http", "ws") + "/sliders/ws"))
        # A request in flight when the signal comes: a recheck, which builds every app's document.
        request, in_flight = start_in_flight(
            f"{victim_url}/readyz?recheck=1",
            lambda: rechecking(victim_url),
            headers={CREDENTIAL_HEADER: stats_credential(TEST_BOKEH_SECRET)},
        )
        victim.send_signal(signal.SIGTERM)
        code = loop.run_until_complete(asyncio.wait_for(close_code(socket), WAIT_SECONDS))
        request.join(WAIT_SECONDS)
    finally:
        loop.close()
    assert code == 1001, "the websocket was closed with 'going away', not dropped"
    assert in_flight["response"].status_code == 200, "the request in flight was answered"
    victim.wait(WAIT_SECONDS)
    # Its exit status, as its parent saw it: it drained and exited by itself, nobody killed it.
    wait_for(lambda: "Bokeh process 0 exited with status 0" in stack.bokeh.output(), "no clean exit logged")
    # The supervisor replaces it, and the site keeps serving meanwhile.
    wait_for(lambda: (h := health(victim_url)) and h["pid"] != victim.pid, "the process was not replaced")


def test_gunicorn_finishes_a_request_in_flight_on_sigterm(fragile_stack):
    stack = fragile_stack
    # In flight once the Bokeh processes are rechecking for it.
    request, results = start_in_flight(f"{stack.web_url}/readyz?recheck=1", lambda: rechecking(*stack.process_urls))
    stack.web.signal(signal.SIGTERM)
    request.join(WAIT_SECONDS)
    assert results["response"].status_code == 200
    assert stack.web.process.wait(WAIT_SECONDS) == 0


@pytest.fixture
def recycling_stack():
    with running_stack(processes=2, BOKEH_RECYCLE_AFTER_SESSIONS="6") as live:
        yield live


def test_processes_are_recycled_one_at_a_time_after_their_sessions(recycling_stack):
    stack = recycling_stack
    first_pids = {health(url)["pid"] for url in stack.process_urls}

    def every_process_replaced() -> bool:
        # Visitors keep opening new pages' sessions through the shared port, wherever the kernel
        # sends them; one that arrives while a process restarts is simply refused.
        embed = embedded_session(requests.get(f"{stack.web_url}/apps/press", timeout=30).text)
        try:
            with browser_session(embed):
                pass
        except (AssertionError, OSError, RuntimeError):
            pass
        pids = {(answer or {}).get("pid") for answer in map(health, stack.process_urls)}
        return None not in pids and not pids & first_pids

    wait_for(every_process_replaced, "not every process was recycled", 180)
    log = stack.bokeh.output()
    assert log.count("recycling Bokeh process") >= 2
    assert "giving up" not in log
    # One at a time: a process was told to drain only after the previous replacement answered.
    events = [
        line for line in log.splitlines() if "recycling Bokeh process" in line or "starting its replacement" in line
    ]
    assert all(
        "recycling" in first and "replacement" in second
        for first, second in zip(events[::2], events[1::2], strict=False)
    )
