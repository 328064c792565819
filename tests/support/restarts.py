"""Killing the Bokeh process that holds a page's session, and waiting for the supervisor to replace it."""

from __future__ import annotations

import signal
import time

import requests


def sessions_created(stack) -> list[int]:
    """Each Bokeh process's count of visitors' sessions since it started (its own ``/healthz``).

    A count that only grows, and leaves out the sessions the startup self-check builds: open
    sessions would not do, since the self-check's expire while a test runs, and a page's session
    can then replace one of them without changing the number.
    """
    return [_after_self_check(url)["sessions_created"] for url in stack.process_urls]


def _after_self_check(url: str, seconds: float = 180) -> dict:
    """The process's ``/healthz`` once its startup self-check has finished (mid-check, its count can dip)."""
    deadline = time.monotonic() + seconds
    while requests.get(f"{url}/readyz", timeout=30).json().get("checking", True):
        assert time.monotonic() < deadline, f"{url} did not finish its self-check"
        time.sleep(0.2)
    return requests.get(f"{url}/healthz", timeout=10).json()


def _processes_that_took(stack, before: list[int]) -> tuple[list[int], list[int]]:
    """The indexes of the Bokeh processes whose visitors' sessions grew since ``before``, and the counts now."""
    now = sessions_created(stack)
    return [index for index, (was, count) in enumerate(zip(before, now, strict=True)) if count > was], now


def process_that_took(stack, before: list[int]) -> int:
    """The index of the one Bokeh process whose visitors' sessions grew since ``before``."""
    grown, now = _processes_that_took(stack, before)
    assert len(grown) == 1, f"cannot tell which process holds the page's session: {before} -> {now}"
    return grown[0]


def bokeh_process(stack, index: int):
    """The ``psutil.Process`` of Bokeh process ``index`` (its own ``/healthz`` says its pid)."""
    import psutil

    return psutil.Process(requests.get(f"{stack.process_urls[index]}/healthz", timeout=10).json()["pid"])


def kill_process_that_took(stack, before: list[int]) -> int:
    """SIGKILL the Bokeh process whose visitors' sessions grew since ``before`` (``sessions_created``)."""
    index = process_that_took(stack, before)
    bokeh_process(stack, index).send_signal(signal.SIGKILL)
    return index


def kill_a_process_that_holds_a_shared_view(stack, before: list[int]) -> int:
    """SIGKILL a Bokeh process whose sessions grew since ``before`` for a shared view's page.

    The view's owner builds its document, and a relay (the process the page's websocket reached,
    if not the owner) holds a mirror of it: one or two processes grew. Either death must bring the
    page back, so the first of them is killed.
    """
    grown, now = _processes_that_took(stack, before)
    assert 1 <= len(grown) <= 2, f"cannot tell which processes hold the shared view: {before} -> {now}"
    bokeh_process(stack, grown[0]).send_signal(signal.SIGKILL)
    return grown[0]


def kill_processes_that_took(stack, before: list[int]) -> list[int]:
    """SIGKILL, one after the other, every Bokeh process whose visitors' sessions grew.

    A standalone page builds a session where its page request lands, and its websocket may reach
    another process, which builds it again from the page's token: both hold the page's session.
    Each is replaced before the next is killed, so that the page always has a process to come
    back to before BokehJS's last retry.
    """
    grown, now = _processes_that_took(stack, before)
    assert grown, f"no process took the page's session: {before} -> {now}"
    for index in grown:
        process = bokeh_process(stack, index)
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
