"""Chromium navigation → plot drawn: the sliders app embedded in the site vs served standalone.

Debian's Chromium, driven by Playwright with the browser tests' launch arguments, loads the site's
``/apps/sliders`` (token path: the page carries BokehJS's script tags and the session's token) and
the Bokeh server's own ``/sliders`` in turn, each in a fresh browser context (nothing cached), and
records the time from navigation start to the first plot canvas BokehJS has drawn (the check of
``tests/support/bokeh_page.wait_for_canvas``, polled at every animation frame). Bokeh processes:
one per core. Prints the medians and their ratio.

Then the viewers who come to a page others already watch: for each page, rounds of 10 viewers
opening it one after another, each in a context of its own that stays open (watching) until the
round ends; the 2nd..10th viewer's time to plot is recorded. Pages: the site's shared view of
``stream`` (``/apps/stream?rate=1000``, shared in the catalog: the 2nd viewer on a process joins the
document the 1st built), and per-visitor pages, which build a document per viewer: the same app
standalone on the Bokeh server (``/stream``; the site never shows ``stream`` per visitor) and the
site's ``/apps/sliders``. Prints median and p90 of each, and the shared view's ratios.

Usage: ``python bench/time_to_plot.py [--loads 10] [--rounds 2] [--viewers 10]`` (needs
/usr/bin/chromium; never downloads one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import machine_load
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.servers import running_stack

TARGET_RATIO = 1.1
STREAM_ARGUMENTS = "rate=1000"
# performance.now() counts from the navigation's start; the predicate returns it once a plot
# canvas with a size exists anywhere, shadow roots included.
CANVAS_DRAWN_AT = """() => {
    const found = [];
    const walk = (root) => root.querySelectorAll('*').forEach((el) => {
        if (el.tagName === 'CANVAS' && el.width > 0 && el.height > 0) found.push(el);
        if (el.shadowRoot) walk(el.shadowRoot);
    });
    walk(document);
    return found.length > 0 ? performance.now() : false;
}"""


def time_to_plot_ms(browser, url: str) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=60_000)
        drawn = page.wait_for_function(CANVAS_DRAWN_AT, polling="raf", timeout=60_000)
        return float(drawn.json_value())
    finally:
        context.close()


def later_viewers_ms(browser, url: str, viewers: int, all_watch: bool = True) -> list[float]:
    """``viewers`` open ``url`` one after another and keep watching (or, without ``all_watch``,
    only the first does: each later one leaves once its plot is drawn); the 2nd..last one's times."""
    contexts = []
    times = []
    try:
        for viewer in range(viewers):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            contexts.append(context)
            page = context.new_page()
            page.goto(url, wait_until="commit", timeout=60_000)
            drawn = page.wait_for_function(CANVAS_DRAWN_AT, polling="raf", timeout=60_000)
            if viewer > 0:
                times.append(float(drawn.json_value()))
                if not all_watch:
                    contexts.pop().close()
    finally:
        for context in contexts:
            context.close()
    return times


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def print_later_viewers(
    times: dict[str, list[float]], rounds: int, viewers: int, processes: int, all_watch: bool
) -> None:
    watching = "kept open until the round ends" if all_watch else "closed once drawn, the first kept open"
    print(
        f"\nChromium navigation → plot drawn for viewers 2..{viewers} of a page ({rounds} rounds of {viewers} "
        f"viewers, each in its own context, {watching}), {processes} Bokeh processes"
    )
    print(f"{'page':<30}{'loads':>6}{'median ms':>11}{'p90 ms':>8}{'min ms':>8}{'max ms':>8}")
    for name, values in times.items():
        print(
            f"{name:<30}{len(values):>6}{statistics.median(values):>11.0f}{p90(values):>8.0f}"
            f"{min(values):>8.0f}{max(values):>8.0f}"
        )
    shared = times["shared /apps/stream"]
    for name, values in times.items():
        if values is not shared:
            print(
                f"shared view / {name}: median {statistics.median(shared) / statistics.median(values):.2f}×, "
                f"p90 {p90(shared) / p90(values):.2f}×"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10, help="measured loads of each page")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of viewers of each page (0: none)")
    parser.add_argument("--viewers", type=int, default=10, help="viewers per round, the first not measured")
    parser.add_argument(
        "--all-watch",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="every viewer keeps watching until the round ends (else only the first does)",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    processes = os.cpu_count() or 2
    times: dict[str, list[float]] = {"embedded": [], "standalone": []}
    later: dict[str, list[float]] = {}
    with running_stack(processes=processes) as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            urls = {"embedded": f"{stack.web_url}/apps/sliders", "standalone": f"{stack.bokeh_url}/sliders"}
            for url in urls.values():
                time_to_plot_ms(browser, url)  # warm-up: imports, first session of each process
            for _ in range(args.loads):
                for name, url in urls.items():
                    times[name].append(time_to_plot_ms(browser, url))
            viewer_urls = {
                "shared /apps/stream": f"{stack.web_url}/apps/stream?{STREAM_ARGUMENTS}",
                "per visitor standalone /stream": f"{stack.bokeh_url}/stream?{STREAM_ARGUMENTS}",
                "per visitor /apps/sliders": f"{stack.web_url}/apps/sliders",
            }
            for url in viewer_urls.values():
                time_to_plot_ms(browser, url)  # warm-up: the stream app's first session on a process
            later = {name: [] for name in viewer_urls}
            for _ in range(args.rounds):
                for name, url in viewer_urls.items():
                    later[name] += later_viewers_ms(browser, url, args.viewers, args.all_watch)
        finally:
            browser.close()
    print(
        f"Chromium navigation → plot drawn, {args.loads} loads each, a fresh context per load, "
        f"{processes} Bokeh processes"
    )
    print(f"{'page':<12}{'median ms':>11}{'min ms':>9}{'max ms':>9}")
    for name, values in times.items():
        print(f"{name:<12}{statistics.median(values):>11.0f}{min(values):>9.0f}{max(values):>9.0f}")
    ratio = statistics.median(times["embedded"]) / statistics.median(times["standalone"])
    verdict = "reached" if ratio <= TARGET_RATIO else "MISSED"
    print(f"target: embedded ≤ {TARGET_RATIO:g}× standalone: {ratio:.2f}× ({verdict})")
    if args.rounds > 0 and args.viewers > 1:
        print_later_viewers(later, args.rounds, args.viewers, processes, args.all_watch)
    print(f"({machine_load()})")


if __name__ == "__main__":
    main()
