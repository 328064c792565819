"""Pages per second of a live app page through gunicorn, next to a page without Bokeh.

Starts both servers exactly as the Procfile does (2 gunicorn workers × 4 threads, one Bokeh
process), then loads ``/`` (the gallery: no Bokeh work) and ``/apps/sliders`` (a live session
created, pulled, retitled and flushed per view) from 8 concurrent clients for a fixed time each.
Usage: ``python bench/page_throughput.py [seconds]`` (default 20 per page).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import running_stack

CLIENTS = 8


def hammer(url: str, seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + seconds

    def client(_):
        results = []
        with requests.Session() as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                status = http.get(url, timeout=60).status_code
                results.append((status, time.perf_counter() - started))
        return results

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [item for batch in pool.map(client, range(CLIENTS)) for item in batch]
    elapsed = time.monotonic() - started
    latencies = sorted(latency for _, latency in results)
    return {
        "pages_per_s": len(results) / elapsed,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "statuses": dict(Counter(status for status, _ in results)),
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    with running_stack(BOKEH_PULL_TIMEOUT="10") as stack:
        results = {path: hammer(stack.web_url + path, seconds) for path in ("/", "/apps/sliders")}
    print(f"{CLIENTS} concurrent clients, {seconds:g} s per page, 2 workers × 4 threads, one Bokeh process")
    for path, result in results.items():
        print(
            f"{path:<15}{result['pages_per_s']:8.1f} pages/s  median {result['median_ms']:7.1f} ms"
            f"  p95 {result['p95_ms']:7.1f} ms  statuses {result['statuses']}"
        )
    ratio = results["/"]["pages_per_s"] / results["/apps/sliders"]["pages_per_s"]
    print(f"a live page costs {ratio:.0f}x a plain page")


if __name__ == "__main__":
    main()
