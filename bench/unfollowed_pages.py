"""Bokeh CPU per page view that no browser follows, and what a browser that comes late gets.

Bots, link previews, prefetching and ``HEAD`` requests load a page and never open its session.
For each way of embedding (the tutorial pattern, the site's token path and pull path) this loads
the page K times without opening any session, waits until the Bokeh processes have discarded every
session those views made (unused sessions are discarded within 5-7 s here, ``QUICK_CLEANUP``,
instead of 15-32 s; the discarding itself is what is measured), and divides the CPU time the Bokeh
processes used meanwhile, less their idle use, by K (so a way that costs nothing reads ± noise).

Then a few of those pages are opened late, the way BokehJS would, after their sessions were
discarded: does the browser get the session its page promised (arguments and the site's title),
a notice that the view expired, or silently a default one? Bokeh processes: one per core.

Usage: ``python bench/unfollowed_pages.py [--pages 40] [--late 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import QUICK_CLEANUP, BenchStack, Way, cpu_seconds, machine_load, running_bench_stack
from browser_like import fetch, http_client, open_session, origin_of, session_of_page, shows_expiry_notice

CLIENTS = 4
IDLE_SECONDS = 3.0
POLL_SECONDS = 0.5
# The collection Bokeh runs after discarding sessions comes up to a second later (session_cleanup).
SETTLE_SECONDS = 2.0
TARGET_MS = 2.0


@dataclass
class Result:
    cpu_ms_per_page: float
    idle_cpu_ms_per_s: float
    builds_per_page: float
    late: int
    late_kept: int
    late_notice: int


def idle_cpu_rate(bench: BenchStack) -> float:
    """CPU seconds per second the Bokeh processes use while nobody uses them (health polls included)."""
    processes = bench.bokeh_processes()
    before, started = cpu_seconds(processes), time.monotonic()
    while time.monotonic() - started < IDLE_SECONDS:
        bench.open_sessions()
        time.sleep(POLL_SECONDS)
    return (cpu_seconds(processes) - before) / (time.monotonic() - started)


async def load_pages(way: Way, count: int) -> list[str]:
    """``count`` page views of ``way`` by ``CLIENTS`` clients, none of them opening the session."""
    http = http_client()
    queue = list(range(count))
    pages: list[str] = []

    async def client() -> None:
        while queue:
            queue.pop()
            pages.append(await fetch(http, way.url))

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return pages


async def open_late(way: Way, pages: list[str]) -> tuple[int, int]:
    """Open each page's session now: how many kept what the page promised, how many got a notice."""
    http = http_client()
    kept = notice = 0
    for page in pages:
        doc = await open_session(await session_of_page(http, way.url, page), origin_of(way.url))
        kept += way.check.kept(doc)
        notice += shows_expiry_notice(doc)
    return kept, notice


def measure(bench: BenchStack, way: Way, count: int, late: int) -> Result:
    asyncio.run(load_pages(way, 4))  # warm-up
    bench.wait_until_no_sessions()
    time.sleep(SETTLE_SECONDS)
    idle_rate = idle_cpu_rate(bench)
    processes = bench.bokeh_processes()
    before, started, built = cpu_seconds(processes), time.monotonic(), bench.sessions_built()
    pages = asyncio.run(load_pages(way, count))
    while bench.open_sessions() > 0:
        time.sleep(POLL_SECONDS)
    time.sleep(SETTLE_SECONDS)
    used = cpu_seconds(processes) - before - idle_rate * (time.monotonic() - started)
    builds = (bench.sessions_built() - built) / count
    kept, notice = asyncio.run(open_late(way, pages[:late]))
    return Result(used / count * 1000, idle_rate * 1000, builds, late, kept, notice)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="page views per way")
    parser.add_argument("--late", type=int, default=10, help="pages opened after their session was discarded")
    args = parser.parse_args()
    processes = os.cpu_count() or 2
    with running_bench_stack(processes, **QUICK_CLEANUP) as bench:
        results = {way.name: measure(bench, way, args.pages, args.late) for way in bench.ways()}
    print(f"Page views no browser follows: {args.pages} per way, {processes} Bokeh processes")
    print(
        f"{'way':<10}{'builds/page':>13}{'Bokeh CPU ms/page':>19}{'vs tutorial':>13}{'idle ms/s':>11}"
        f"{'late browser gets':>42}"
    )
    base = results["tutorial"].cpu_ms_per_page
    for name, result in results.items():
        silent = result.late - result.late_kept - result.late_notice
        late = f"{result.late_kept}/{result.late} kept, {result.late_notice} notice, {silent} default"
        print(
            f"{name:<10}{result.builds_per_page:>13.2f}{result.cpu_ms_per_page:>19.1f}"
            f"{result.cpu_ms_per_page / base:>12.3f}×{result.idle_cpu_ms_per_s:>11.1f}{late:>42}"
        )
    print(
        "builds/page: sessions the Bokeh processes built per page (their /metrics); CPU per page is "
        "less the processes' idle use (idle ms/s), so a way that costs nothing reads ± noise."
    )
    token = results["token"]
    verdict = "reached" if token.cpu_ms_per_page <= TARGET_MS else "MISSED"
    print(
        f"target: ≤ {TARGET_MS:g} ms of Bokeh CPU per page view no browser follows: "
        f"token path {token.cpu_ms_per_page:.1f} ms ({verdict})"
    )
    verdict = "reached" if token.late_kept == token.late else "MISSED"
    print(
        "target: arguments and customisation kept for a browser that comes after the unused-session "
        f"lifetime: token path {token.late_kept}/{token.late} ({verdict})"
    )
    print(f"({machine_load()})")


if __name__ == "__main__":
    main()
