"""Live page views per second at 8 clients: the tutorial pattern vs the site's token, pull and shared views.

A page view is what a browser does for a page with a live sliders app: the page ``GET``, then the
session opened the way BokehJS opens it (``autoload.js`` first for the tutorial's page; websocket
with the token, ``ACK``, ``PULL-DOC-REQ``, ``PULL-DOC-REPLY``; close), see ``browser_like.py``.
Three ways, each asking for ``N=37`` and a retitled plot:

* tutorial: ``bench/tutorial_site.py``, ``pull_session`` + ``server_session`` per request, served
  by gunicorn with the site's settings, against the same Bokeh server;
* token: the site's ``/apps/sliders`` (no Bokeh request during the page view);
* pull: the site's ``/apps/sliders/match`` (pulls a session on one Bokeh process, draws into it);
* tutorial_stream and shared: the ``stream`` app (``rate=1000``, retitled), pulled per view by the
  tutorial site, and as the site's ``/apps/stream``, one shared view (the catalog shares ``stream``):
  every viewer's websocket joins the document the first one built on its process. Their check is
  the title and the app's ``host`` samples. The shared view's ratio is printed against both the
  tutorial row (sliders, the standing baseline) and the tutorial pattern of the same app.

Run with 1 Bokeh process and with one per core. For each: page views/s, the ratio to the tutorial
pattern, latency of the whole view, how many sessions kept the page's arguments and title, errors,
and the CPU the Bokeh processes and the site's gunicorn workers spent per view. Unused sessions
are discarded within 5-7 s (``QUICK_CLEANUP``), so each row pays for its own.

Usage: ``python bench/live_page_views.py [--seconds 15] [--clients 8] [--processes 1 2] [--no-shared]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import QUICK_CLEANUP, BenchStack, Way, cpu_seconds, machine_load, running_bench_stack
from browser_like import PageView, http_client, page_view

WARM_UP_SECONDS = 2.0
TARGET_RATIO, STRETCH_RATIO = 3.0, 5.0
SHARED_TARGET_RATIO = 10.0


@dataclass
class Run:
    """The page views of one way in one configuration."""

    views: list[PageView] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    # The first message of each kind of error, to say what failed.
    first_errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    bokeh_cpu: float = 0.0
    web_cpu: float = 0.0
    sessions_built: int = 0
    # Documents serialised for viewers joining a shared view, and replies reused (their /metrics).
    replies: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return len(self.views) / self.seconds

    @property
    def kept(self) -> int:
        return sum(view.kept for view in self.views)

    def ceiling(self, cores: int) -> float:
        """Views/s if the servers' CPU per view were the only limit."""
        cpu_per_view = (self.bokeh_cpu + self.web_cpu) / max(len(self.views), 1)
        return cores / cpu_per_view if cpu_per_view > 0 else float("inf")

    def latency_ms(self, quantile: float) -> float:
        latencies = sorted(view.total_seconds for view in self.views)
        if not latencies:
            return float("nan")
        if quantile == 0.5:
            return statistics.median(latencies) * 1000
        return latencies[min(len(latencies) - 1, int(len(latencies) * quantile))] * 1000


async def hammer(way: Way, clients: int, seconds: float) -> Run:
    """``clients`` concurrent browsers viewing ``way``'s page again and again for ``seconds``."""
    run = Run()
    http = http_client()
    deadline = time.monotonic() + seconds

    async def browser() -> None:
        while time.monotonic() < deadline:
            try:
                run.views.append(await page_view(http, way.url, way.check))
            except Exception as error:  # counted and shown: a failed view is a result too
                kind = type(error).__name__
                run.errors[kind] += 1
                run.first_errors.setdefault(kind, str(error)[:160])
                await asyncio.sleep(0.05)

    started = time.monotonic()
    await asyncio.gather(*(browser() for _ in range(clients)))
    run.seconds = time.monotonic() - started
    return run


def warm_up(bench: BenchStack, ways: list[Way], clients: int) -> None:
    """Every way's first views (imports, first sessions of each process), then their cleanup."""
    for way in ways:
        asyncio.run(hammer(way, clients, WARM_UP_SECONDS))
    bench.wait_until_no_sessions()


def measure(bench: BenchStack, way: Way, clients: int, seconds: float) -> Run:
    """One row; it ends once the Bokeh processes have discarded its sessions, and pays for that."""
    bokeh = bench.bokeh_processes()
    web = bench.web_processes(tutorial=way.tutorial)
    bokeh_before, web_before = cpu_seconds(bokeh), cpu_seconds(web)
    built_before = bench.sessions_built(way.app)
    replies_before = bench.shared_view_replies()
    run = asyncio.run(hammer(way, clients, seconds))
    run.sessions_built = bench.sessions_built(way.app) - built_before
    run.replies = {kind: count - replies_before[kind] for kind, count in bench.shared_view_replies().items()}
    # The sessions this run made are discarded (and paid for) before the CPU is read.
    bench.wait_until_no_sessions()
    time.sleep(1.0)
    run.bokeh_cpu = cpu_seconds(bokeh) - bokeh_before
    run.web_cpu = cpu_seconds(web) - web_before
    return run


def print_table(results: dict[tuple[int, str], Run], clients: int, seconds: float) -> None:
    print(
        f"Live page views: page GET + its session opened as BokehJS does, {clients} clients, "
        f"{seconds:g} s per row (after {WARM_UP_SECONDS:g} s of warm-up per way)"
    )
    header = (
        f"{'Bokeh procs':<12}{'way':<16}{'views/s':>8}{'vs tutorial':>13}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'kept':>22}{'errors':>8}{'builds/view':>13}{'Bokeh CPU ms/view':>19}{'site CPU ms/view':>18}"
        f"{'CPU-bound views/s':>19}{'vs tutorial':>13}"
    )
    print(header)
    cores = os.cpu_count() or 1
    for (processes, name), run in results.items():
        base = results[(processes, "tutorial")].per_second
        base_ceiling = results[(processes, "tutorial")].ceiling(cores)
        count = len(run.views)
        kept = f"{run.kept}/{count} ({100 * run.kept / count:.0f} %)" if count else "-"
        per_view = max(count, 1)
        print(
            f"{processes:<12}{name:<16}{run.per_second:>8.1f}{run.per_second / base:>12.2f}×"
            f"{run.latency_ms(0.5):>8.0f}{run.latency_ms(0.95):>8.0f}{kept:>22}{sum(run.errors.values()):>8}"
            f"{run.sessions_built / per_view:>13.2f}"
            f"{run.bokeh_cpu / per_view * 1000:>19.1f}{run.web_cpu / per_view * 1000:>18.1f}"
            f"{run.ceiling(cores):>19.1f}{run.ceiling(cores) / base_ceiling:>12.2f}×"
        )
    print(
        "builds/view: sessions the Bokeh processes built per view (their /metrics). CPU-bound views/s: "
        f"what {cores} cores would serve if the servers had them to themselves (cores ÷ Bokeh and site "
        "CPU per view); the machine is shared, so views/s is lower and noisier."
    )
    for (processes, name), run in results.items():
        if name == "shared" and run.views:
            reused, serialised = run.replies.get("reused", 0), run.replies.get("serialised", 0)
            print(
                f"  shared, {processes} process(es): {serialised} of {reused + serialised} joining viewers got the "
                f"document serialised for them, {reused} the reply made for an earlier viewer (the document "
                "changes at every update and whenever the number of viewers does)"
            )
        if run.errors:
            print(f"  errors, {name} with {processes} process(es): {dict(run.errors)}; first: {run.first_errors}")


def print_shared_targets(results: dict[tuple[int, str], Run], cores: int) -> None:
    """The shared view against the tutorial pattern, for every number of processes measured."""
    for processes, name in results:
        if name != "shared":
            continue
        shared = results[(processes, "shared")]
        ratios = []
        for baseline in ("tutorial", "tutorial_stream"):
            base = results[(processes, baseline)]
            ratios.append(
                f"{shared.per_second / base.per_second:.1f}× {baseline} "
                f"(CPU-bound {shared.ceiling(cores) / base.ceiling(cores):.1f}×)"
            )
        reached = min(shared.per_second / results[(processes, b)].per_second for b in ("tutorial", "tutorial_stream"))
        verdict = "reached" if reached >= SHARED_TARGET_RATIO else "MISSED"
        print(
            f"target: live page views/s of a shared view ≥ {SHARED_TARGET_RATIO:g}× the tutorial pattern "
            f"with {processes} processes: {'; '.join(ratios)} ({verdict})"
        )


def print_targets(results: dict[tuple[int, str], Run], processes: int) -> None:
    if (processes, "tutorial") not in results:
        return
    base = results[(processes, "tutorial")].per_second
    token = results[(processes, "token")].per_second / base
    verdict = "reached" if token >= TARGET_RATIO else "MISSED"
    stretch = ", stretch reached" if token >= STRETCH_RATIO else ""
    print(
        f"target: live page views/s ≥ {TARGET_RATIO:g}× the tutorial pattern with {processes} processes "
        f"(stretch {STRETCH_RATIO:g}×): token path {token:.2f}× ({verdict}{stretch}); "
        f"pull path {results[(processes, 'pull')].per_second / base:.2f}×"
    )
    shares = {
        name: 100 * run.kept / len(run.views) if run.views else 0.0
        for (count, name), run in results.items()
        if count == processes
    }
    verdict = "reached" if shares["token"] == 100 and shares["pull"] == 100 else "MISSED"
    print(
        f"target: arguments and customisation kept in 100 % of pages with {processes} processes: "
        f"token {shares['token']:.0f} %, pull {shares['pull']:.0f} % ({verdict}); tutorial {shares['tutorial']:.0f} %"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per row")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, os.cpu_count() or 2])
    parser.add_argument(
        "--shared", action=argparse.BooleanOptionalAction, default=True, help="also the shared view's rows"
    )
    args = parser.parse_args()
    client_started = time.process_time()
    load_before = machine_load()
    results: dict[tuple[int, str], Run] = {}
    for processes in args.processes:
        with running_bench_stack(processes, **QUICK_CLEANUP) as bench:
            ways = bench.ways(shared=args.shared)
            warm_up(bench, ways, args.clients)
            for way in ways:
                results[(processes, way.name)] = measure(bench, way, args.clients, args.seconds)
    print_table(results, args.clients, args.seconds)
    print_targets(results, max(args.processes))
    print_shared_targets(results, os.cpu_count() or 1)
    print(
        f"(this client used {time.process_time() - client_started:.0f} s of CPU on the same machine; "
        f"before: {load_before}; after: {machine_load()})"
    )


if __name__ == "__main__":
    main()
