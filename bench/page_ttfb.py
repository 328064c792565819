"""Page time to first byte at one client, with the Bokeh server idle and busy: token page vs tutorial.

One client loads, in turn, a plain page of the site (``/``, no Bokeh), the site's token page
(``/apps/sliders``), its pull page (``/apps/sliders/match``) and the tutorial site's page
(``bench/tutorial_site.py``: ``pull_session`` + ``server_session``), and times each request from
sending it to the first byte of the answer. First with nothing else running, then while other
clients (a process of their own) keep every Bokeh process busy opening sessions, as visitors'
browsers do. No session of the measured pages is opened. Bokeh processes: one per core.

Usage: ``python bench/page_ttfb.py [--samples 20] [--busy-clients 4]``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import POINTS, QUICK_CLEANUP, machine_load, running_bench_stack
from browser_like import open_session

from aperture.session_token import mint_session, token_payload
from tests.support.bokeh_client import EmbeddedSession
from tests.support.servers import TEST_BOKEH_SECRET

TARGET_MS = 25.0
PAUSE_SECONDS = 0.02


def first_byte_seconds(url: str) -> tuple[float, int]:
    """Seconds from sending a ``GET`` for ``url`` to reading the status line and headers; the status."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.connect()
        started = time.perf_counter()
        connection.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path)
        response = connection.getresponse()
        elapsed = time.perf_counter() - started
        response.read()
        return elapsed, response.status
    finally:
        connection.close()


def busy_load(app_url: str, origin: str, clients: int, stop, opened) -> None:
    """Keep the Bokeh server busy: ``clients`` browsers opening new sessions until ``stop`` is set.

    ``opened`` (a shared counter) counts the sessions opened.
    """

    async def browser() -> None:
        while not stop.is_set():
            grant = mint_session(TEST_BOKEH_SECRET, 300, token_payload({"N": POINTS}))
            try:
                await open_session(EmbeddedSession(grant.token, "/sliders", app_url), origin)
                with opened.get_lock():
                    opened.value += 1
            except Exception:  # load only: a failed session just comes again
                await asyncio.sleep(0.05)

    async def run() -> None:
        await asyncio.gather(*(browser() for _ in range(clients)))

    asyncio.run(run())


@dataclass
class Samples:
    """First-byte times of the answers that were pages (200), and the statuses of the others."""

    seconds: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)


def sample(pages: dict[str, str], count: int) -> dict[str, Samples]:
    """``count`` first-byte times of each page, the pages taken in turn."""
    samples = {name: Samples() for name in pages}
    for _ in range(count):
        for name, url in pages.items():
            seconds, status = first_byte_seconds(url)
            if status == 200:
                samples[name].seconds.append(seconds)
            else:
                samples[name].failures[status] += 1
            time.sleep(PAUSE_SECONDS)
    return samples


def percentile_ms(samples: Samples, quantile: float) -> float:
    ordered = sorted(samples.seconds)
    if not ordered:
        return float("nan")
    if quantile == 0.5:
        return statistics.median(ordered) * 1000
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


def _statuses(samples: Samples) -> str:
    return " ".join(f"{count}×{status}" for status, count in sorted(samples.failures.items())) or "0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="requests per page, idle and busy each")
    parser.add_argument("--busy-clients", type=int, default=4, help="clients opening sessions meanwhile")
    args = parser.parse_args()
    processes = os.cpu_count() or 2
    with running_bench_stack(processes, **QUICK_CLEANUP) as bench:
        ways = {way.name: way.url for way in bench.ways()}
        pages = {
            "plain /": bench.product.web_url + "/",
            "token": ways["token"],
            "pull": ways["pull"],
            "tutorial": ways["tutorial"],
        }
        sample(pages, 3)  # warm-up
        idle = sample(pages, args.samples)
        context = multiprocessing.get_context("spawn")
        stop, opened = context.Event(), context.Value("i", 0)
        load = context.Process(
            target=busy_load,
            args=(bench.product.bokeh_url + "/sliders", bench.product.web_url, args.busy_clients, stop, opened),
        )
        load.start()
        try:
            time.sleep(3.0)  # let the load reach its pace
            opened_before, started = opened.value, time.monotonic()
            busy = sample(pages, args.samples)
            busy_rate = (opened.value - opened_before) / (time.monotonic() - started)
        finally:
            stop.set()
            load.join(timeout=30)
            if load.is_alive():
                load.terminate()
    print(
        f"Page TTFB at one client, {args.samples} requests per page, {processes} Bokeh processes; "
        f"busy: {args.busy_clients} other clients opening {busy_rate:.1f} sessions/s"
    )
    print(
        f"{'page':<10}{'idle p50 ms':>13}{'busy p50 ms':>13}{'busy p95 ms':>13}{'busy p50 vs token':>19}"
        f"{'not 200 (idle, busy)':>24}"
    )
    token_busy = percentile_ms(busy["token"], 0.5)
    for name in pages:
        busy_p50 = percentile_ms(busy[name], 0.5)
        print(
            f"{name:<10}{percentile_ms(idle[name], 0.5):>13.1f}{busy_p50:>13.1f}"
            f"{percentile_ms(busy[name], 0.95):>13.1f}{busy_p50 / token_busy:>18.2f}×"
            f"{_statuses(idle[name]) + ', ' + _statuses(busy[name]):>24}"
        )
    verdict = "reached" if token_busy <= TARGET_MS else "MISSED"
    print(f"target: token page TTFB p50 ≤ {TARGET_MS:g} ms while Bokeh is busy: {token_busy:.1f} ms ({verdict})")
    print(f"({machine_load()})")


if __name__ == "__main__":
    main()
