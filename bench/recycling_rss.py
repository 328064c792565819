"""Resident memory of the Bokeh processes over a long run of sessions, without and with recycling.

A Bokeh process's memory grows with the sessions it has served and is not given back. With
``BOKEH_RECYCLE_ABOVE_MB`` the supervisor replaces a process (one at a time, after draining it)
once it passes the limit. Both runs get the same load: waves of visitors, each opening a page's
``sliders`` session as BokehJS does, keeping it a few seconds and leaving; while one long-lived
visitor keeps a ``stream`` session open throughout, to show it survives the replacements (it
reconnects, as BokehJS does, and the session is rebuilt from its token).

Usage: ``python bench/recycling_rss.py [--waves 30] [--visitors 20] [--limit-mb 90]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.bokeh_client import embedded_session
from tests.support.servers import running_stack
from tests.support.session_holder import SessionHolder

HOLD_SECONDS = 3.0
QUICK_CLEANUP = {"BOKEH_UNUSED_SESSION_LIFETIME_MS": "2000", "BOKEH_CHECK_UNUSED_SESSIONS_MS": "1000"}


def bokeh_rss_mb(stack) -> list[float]:
    """Resident memory of each Bokeh server process (the supervisor's children), in MiB."""
    return [child.memory_info().rss / 2**20 for child in psutil.Process(stack.bokeh.pid).children()]


async def wave(stack, visitors: int) -> None:
    pages = [requests.get(f"{stack.web_url}/apps/sliders?N=500", timeout=60).text for _ in range(visitors)]
    holders = [SessionHolder(embedded_session(page), stack.web_url) for page in pages]
    until = time.monotonic() + HOLD_SECONDS
    await asyncio.gather(*(holder.hold(until) for holder in holders))


def run(label: str, waves: int, visitors: int, **env: str) -> dict[str, object]:
    with running_stack(processes=2, **QUICK_CLEANUP, **env) as stack:
        start = bokeh_rss_mb(stack)
        page = requests.get(f"{stack.web_url}/apps/stream?rate=1000", timeout=60).text
        watcher = SessionHolder(embedded_session(page), stack.web_url)
        samples = []

        async def load() -> None:
            watching = asyncio.ensure_future(watcher.hold(time.monotonic() + 10_000))
            for number in range(waves):
                await wave(stack, visitors)
                samples.append((number, bokeh_rss_mb(stack)))
            watching.cancel()

        started = time.monotonic()
        asyncio.run(load())
        recycled = stack.bokeh.output().count("recycling Bokeh process")
        return {
            "label": label,
            "seconds": time.monotonic() - started,
            "start": sum(start),
            "peak": max(sum(rss) for _, rss in samples),
            "end": sum(samples[-1][1]),
            "largest process": max(max(rss) for _, rss in samples),
            "recycled": recycled,
            "watcher reconnects": watcher.connects - 1,
            "watcher updates": watcher.updates,
            "curve": [round(sum(rss)) for _, rss in samples],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waves", type=int, default=30)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--limit-mb", type=int, default=90)
    args = parser.parse_args()
    results = [
        run("no recycling", args.waves, args.visitors),
        run(f"recycle above {args.limit_mb} MB", args.waves, args.visitors, BOKEH_RECYCLE_ABOVE_MB=str(args.limit_mb)),
    ]
    sessions = args.waves * args.visitors
    print(f"Resident memory of 2 Bokeh processes over {sessions} sliders sessions ({args.waves} waves)")
    print(f"{'':28}{results[0]['label']:>18}{results[1]['label']:>24}{'ratio':>9}")
    for key in ("start", "peak", "end", "largest process"):
        off, on = results[0][key], results[1][key]
        print(
            f"{key + ' (MiB, sum)' if key != 'largest process' else 'largest process (MiB)':<28}"
            f"{off:>18.0f}{on:>24.0f}{on / off:>8.2f}×"
        )
    for key in ("recycled", "watcher reconnects", "watcher updates", "seconds"):
        print(f"{key:<28}{results[0][key]:>18.0f}{results[1][key]:>24.0f}")
    for result in results:
        print(f"{result['label']}: total MiB after each wave: {result['curve']}")


if __name__ == "__main__":
    main()
