"""Soak: many page views and long-held live sessions while a Bokeh process restarts.

2,000 embedded page views from 16 concurrent clients, while 100 websocket clients (arriving over
20 s) hold ``stream`` sessions for two minutes, and one Bokeh process is restarted (SIGTERM: it drains, the supervisor
replaces it) in the middle. No page view may fail with a 5xx, every held session must come back
after the restart and keep receiving updates, and afterwards the open file descriptors and
threads of every process are back to where they started. Resident memory is reported (before,
at peak, after), not asserted.
"""

import asyncio
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from tests.support.bokeh_client import embedded_session, embedded_sessions
from tests.support.servers import running_stack
from tests.support.session_holder import SessionHolder

PAGE_VIEWS = 2000
CONCURRENCY = 16
HOLDERS = 100
HOLD_SECONDS = 120
# The holders' visitors arrive over this long (a hundred session builds in one instant is a
# burst no site sees; the page views below already come 16 at a time).
ARRIVAL_SECONDS = 20
# The page views are spread over most of the holding time, so that the restart in their middle
# finds every holder connected.
PAGE_VIEW_SECONDS = 90
PAGES = ("/apps/sliders?N=300", "/apps/iris?feature=petal_width", "/apps/stream?rate=1000", "/dashboard", "/apps/press")
# Room for what a process legitimately opens on its own (a log file, a pooled connection).
FD_SLACK = 8
THREAD_SLACK = 2
SETTLE_SECONDS = 120
WARM_UP = 32


@pytest.fixture(scope="module")
def soak_stack():
    # Sessions left alone are discarded within about three seconds, so the end state comes soon.
    with running_stack(
        processes=2, BOKEH_UNUSED_SESSION_LIFETIME_MS="2000", BOKEH_CHECK_UNUSED_SESSIONS_MS="1000"
    ) as live:
        yield live


def processes_of(stack) -> dict[str, psutil.Process]:
    """Every process of the product: gunicorn's master and workers, the supervisor and servers."""
    found = {"web": psutil.Process(stack.web.pid), "supervisor": psutil.Process(stack.bokeh.pid)}
    for worker in found["web"].children():
        found[f"web-worker-{worker.pid}"] = worker
    for url in stack.process_urls:
        try:
            pid = requests.get(f"{url}/healthz", timeout=60).json()["pid"]
        except requests.RequestException:
            continue  # restarting right now
        found[f"bokeh-{url.rsplit(':', 1)[1]}-{pid}"] = psutil.Process(pid)
    return found


def usage(stack) -> dict[str, dict[str, int]]:
    found = {}
    for name, process in processes_of(stack).items():
        try:
            with process.oneshot():
                found[name] = {
                    "fds": process.num_fds(),
                    "threads": process.num_threads(),
                    "rss_mb": process.memory_info().rss >> 20,
                }
        except psutil.NoSuchProcess:
            continue
    return found


def open_sessions(stack) -> int:
    return sum(
        sum(requests.get(f"{url}/healthz", timeout=60).json()["sessions"].values()) for url in stack.process_urls
    )


def warm_every_worker(stack) -> None:
    """More pages until every gunicorn worker has about as many threads as the busiest: the kernel may
    hand a whole warm-up burst to one worker, and the other's first requests would look like a leak."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        threads = [values["threads"] for name, values in usage(stack).items() if name.startswith("web-worker-")]
        if min(threads) + THREAD_SLACK >= max(threads):
            return
        assert time.monotonic() < deadline, f"the site's workers never all served pages: {threads} threads"
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(lambda path: requests.get(stack.web_url + path, timeout=60).text, PAGES * 4))


def wait_until_no_sessions(stack) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while open_sessions(stack) > 0 and time.monotonic() < deadline:
        time.sleep(0.5)


def test_soak(soak_stack, capsys):
    stack = soak_stack
    # Warm up: every page and every worker thread once, and a few dozen sessions at once, so that
    # lazily made things exist and the thread pools behind Bokeh's sessions (bounded: its
    # response executor, asyncio's default one) have their steady size before the baseline.
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        pages = list(pool.map(lambda path: requests.get(stack.web_url + path, timeout=60).text, PAGES * 8))
    warmers = [SessionHolder(embed, stack.web_url) for page in pages for embed in embedded_sessions(page)][:WARM_UP]

    async def warm_up() -> None:
        await asyncio.gather(*(holder.hold(time.monotonic() + 5) for holder in warmers))

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    warming = threading.Thread(target=lambda: asyncio.run(warm_up()), name="warm-up")
    warming.start()
    warming.join(SETTLE_SECONDS)
    warm_every_worker(stack)
    wait_until_no_sessions(stack)
    before = usage(stack)
    peak = {name: dict(values) for name, values in before.items()}

    holders = []
    for _ in range(HOLDERS):
        page = requests.get(f"{stack.web_url}/apps/stream?rate=1000", timeout=60).text
        holders.append(SessionHolder(embedded_session(page), stack.web_url))
    until = time.monotonic() + HOLD_SECONDS

    async def hold_all() -> None:
        arrival = ARRIVAL_SECONDS / HOLDERS
        await asyncio.gather(*(holder.hold(until, start_after=i * arrival) for i, holder in enumerate(holders)))

    holding = threading.Thread(target=lambda: asyncio.run(hold_all()), name="session-holders")
    holding.start()

    statuses: Counter = Counter()
    failures: Counter = Counter()
    restarted = {}

    started = time.monotonic()

    def view(number: int) -> None:
        # Paced, not a burst: page view ``number`` goes out at its place in the schedule.
        time.sleep(max(0.0, started + number * PAGE_VIEW_SECONDS / PAGE_VIEWS - time.monotonic()))
        if number == PAGE_VIEWS // 2 and not restarted:
            victim = requests.get(f"{stack.process_urls[0]}/healthz", timeout=60).json()["pid"]
            restarted["pid"] = victim
            restarted["sessions"] = [
                requests.get(f"{url}/healthz", timeout=60).json()["sessions"]["stream"] for url in stack.process_urls
            ]
            psutil.Process(victim).send_signal(signal.SIGTERM)
        response = requests.get(stack.web_url + PAGES[number % len(PAGES)], timeout=60)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures[(PAGES[number % len(PAGES)], response.text[-300:])] += 1
        if number % 100 == 0:
            for name, values in usage(stack).items():
                for key, value in values.items():
                    peak.setdefault(name, {}).setdefault(key, 0)
                    peak[name][key] = max(peak[name][key], value)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(view, range(PAGE_VIEWS)))
    holding.join(HOLD_SECONDS + 120)

    wait_until_no_sessions(stack)
    deadline = time.monotonic() + SETTLE_SECONDS
    after = usage(stack)
    # File descriptors and threads come back as the last sessions end; give them the same deadline.
    while time.monotonic() < deadline and not settled(before, after):
        time.sleep(0.5)
        after = usage(stack)

    with capsys.disabled():
        print(f"\nsoak: {sum(statuses.values())} page views {dict(statuses)}; {HOLDERS} held stream sessions")
        closed = sum(1 for holder in holders if 1001 in holder.closed_by_server)
        print(
            f"held sessions closed by the restart (1001) and back: {closed}; updates received: "
            f"{sum(holder.updates for holder in holders)}"
        )
        print("stream sessions per process when one was restarted:", restarted.get("sessions"))
        codes = Counter(code for holder in holders for code in holder.closed_by_server)
        print("close codes:", dict(codes), "connects:", dict(Counter(holder.connects for holder in holders)))
        print("holder errors:", dict(Counter(holder.error for holder in holders)))
        for (path, text), count in failures.items():
            print(f"{count} x 5xx on {path}: {text!r}")

        print(f"{'process':<26}{'RSS MB before':>14}{'peak':>8}{'after':>8}{'fds':>12}{'threads':>12}")
        for name in sorted(after):
            start = before.get(name) or baseline_for(name, before)
            print(
                f"{name:<26}{start['rss_mb']:>14}{peak.get(name, after[name])['rss_mb']:>8}{after[name]['rss_mb']:>8}"
                f"{start['fds']:>6}→{after[name]['fds']:<5}{start['threads']:>6}→{after[name]['threads']:<5}"
            )

    assert sum(statuses.values()) == PAGE_VIEWS
    assert not [status for status in statuses if status >= 500], f"5xx answers: {dict(statuses)} {failures}"
    assert restarted, "a Bokeh process was restarted"
    closed = [holder for holder in holders if holder.closed_by_server]
    assert closed, "the restarted process held sessions"
    assert all(1001 in holder.closed_by_server for holder in closed), "closed cleanly, with 'going away'"
    lost = [holder for holder in closed if holder.updates_after_reconnect == 0]
    assert not lost, f"{len(lost)} held sessions did not come back after the restart: {lost[0].error}"
    assert all(holder.updates > 0 for holder in holders)
    assert open_sessions(stack) == 0
    assert settled(before, after), f"not back to the baseline: {before} -> {after}"


def baseline_for(name: str, before: dict) -> dict:
    """The baseline of a process that replaced one (the restarted Bokeh process): its peers'."""
    kind = name.split("-", 1)[0]
    peers = [values for other, values in before.items() if other.split("-", 1)[0] == kind]
    return {key: max(values[key] for values in peers) for key in ("fds", "threads", "rss_mb")}


def settled(before: dict, after: dict) -> bool:
    for name, values in after.items():
        start = before.get(name) or baseline_for(name, before)
        if values["fds"] > start["fds"] + FD_SLACK or values["threads"] > start["threads"] + THREAD_SLACK:
            return False
    return True
