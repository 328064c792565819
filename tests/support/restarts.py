"""Killing the Bokeh process that holds a page's session, and waiting for the supervisor to replace it."""

from __future__ import annotations

import signal
import time

import requests


def open_sessions(stack, app: str) -> list[int]:
    """Each Bokeh process's open sessions of ``app`` (its own ``/healthz``)."""
    return [requests.get(f"{url}/healthz", timeout=10).json()["sessions"][app] for url in stack.process_urls]


def kill_process_that_took(stack, app: str, before: list[int]) -> int:
    """SIGKILL the Bokeh process whose open sessions of ``app`` grew since ``before``.

    Counting sessions, not looking for any: every process also keeps the sessions its startup
    self-check built for a while.
    """
    import psutil

    now = open_sessions(stack, app)
    grown = [index for index, (was, count) in enumerate(zip(before, now, strict=True)) if count > was]
    assert len(grown) == 1, f"cannot tell which process holds the page's session: {before} -> {now}"
    pid = requests.get(f"{stack.process_urls[grown[0]]}/healthz", timeout=10).json()["pid"]
    psutil.Process(pid).send_signal(signal.SIGKILL)
    return grown[0]


def kill_processes_that_took(stack, app: str, before: list[int]) -> list[int]:
    """SIGKILL, one after the other, every Bokeh process whose open sessions of ``app`` grew.

    A standalone page builds a session where its page request lands, and its websocket may reach
    another process, which builds it again from the page's token: both hold the page's session.
    Each is replaced before the next is killed, so that the page always has a process to come
    back to before BokehJS's last retry.
    """
    import psutil

    now = open_sessions(stack, app)
    grown = [index for index, (was, count) in enumerate(zip(before, now, strict=True)) if count > was]
    assert grown, f"no process took the page's session: {before} -> {now}"
    for index in grown:
        pid = requests.get(f"{stack.process_urls[index]}/healthz", timeout=10).json()["pid"]
        process = psutil.Process(pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        wait_for_processes(stack)
    return grown


def wait_for_processes(stack, seconds: float = 60) -> None:
    """Until the supervisor has every Bokeh process back (the next test kills one again)."""
    deadline = time.monotonic() + seconds
    for url in stack.process_urls:
        while not _answers(url):
            assert time.monotonic() < deadline, f"{url} did not come back"
            time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
