"""Embedding a live session: our embed module against the tutorial's pattern, side by side.

Starts a real Bokeh server with the launcher, then in this process creates sessions of the
``sliders`` app three ways, one after the other:

* naive: ``with pull_session(url=...) as session: server_session(...)`` (the tutorial pattern:
  no io_loop, so a Tornado IOLoop is left open per call; no customisation possible to keep);
* embed, customised: ``create_live_session`` with a retitle, as the app page does (pull,
  edit, flush with ``force_roundtrip``);
* embed, plain: ``create_live_session`` without customisation, as the dashboard does (the
  session is created, nothing is pulled).

Prints per-call latency (median, p95), open file descriptors gained per call, and the ratios.
Usage: ``python bench/embed_latency.py [calls]`` (default 300; the fd count is the point, and
the naive way leaks about four per call, so mind ``ulimit -n`` above ~200).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import TEST_BOKEH_SECRET, free_port, running, stack_env

os.environ["BOKEH_SECRET_KEY"] = TEST_BOKEH_SECRET

from web import settings  # noqa: F401  (exports the signing secret before bokeh is imported)

# isort: split
from bokeh.client import pull_session
from bokeh.embed import server_session

from bkapps.signing import new_session_id
from web.embed import create_live_session


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def naive(url: str) -> None:
    with pull_session(url=url) as session:
        server_session(session_id=session.id, url=url)


def customised(url: str) -> None:
    def retitle(doc):
        doc.select_one({"name": "main_plot"}).title.text = "Sliders — served by Flask"

    session_id = new_session_id(TEST_BOKEH_SECRET)
    create_live_session(url, session_id, {}, timeout=30, customize=retitle, app_title="Sliders")
    server_session(session_id=session_id, url=url)


def plain(url: str) -> None:
    session_id = new_session_id(TEST_BOKEH_SECRET)
    create_live_session(url, session_id, {}, timeout=30, customize=None, app_title="Sliders")
    server_session(session_id=session_id, url=url)


def measure(way, url: str, calls: int) -> dict[str, float]:
    for _ in range(5):
        way(url)
    fds_before = open_fds()
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        way(url)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "fds_per_call": (open_fds() - fds_before) / calls,
    }


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    port = free_port()
    env = stack_env(port, free_port())
    argv = [sys.executable, "-m", "bkapps"]
    with running("bokeh", argv, env, f"http://127.0.0.1:{port}/"):
        url = f"http://127.0.0.1:{port}/sliders"
        results = {
            name: measure(way, url, calls)
            for name, way in (("naive", naive), ("customised", customised), ("plain", plain))
        }
    print(f"{calls} calls each against a local Bokeh server (sliders app)")
    print(f"{'way':<12}{'median ms':>11}{'p95 ms':>9}{'fds/call':>10}")
    for name, result in results.items():
        print(f"{name:<12}{result['median_ms']:>11.1f}{result['p95_ms']:>9.1f}{result['fds_per_call']:>10.2f}")
    base = results["naive"]["median_ms"]
    print(f"median latency ratio customised/naive: {results['customised']['median_ms'] / base:.2f}")
    print(f"median latency ratio plain/naive:      {results['plain']['median_ms'] / base:.2f}")


if __name__ == "__main__":
    main()
