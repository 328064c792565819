"""Chromium navigation → plot drawn: the sliders app embedded in the site vs served standalone.

Debian's Chromium, driven by Playwright with the browser tests' launch arguments, loads the site's
``/apps/sliders`` (token path: the page carries BokehJS's script tags and the session's token) and
the Bokeh server's own ``/sliders`` in turn, each in a fresh browser context (nothing cached), and
records the time from navigation start to the first plot canvas BokehJS has drawn (the check of
``tests/support/bokeh_page.wait_for_canvas``, polled at every animation frame). Bokeh processes:
one per core. Prints the medians and their ratio.

Usage: ``python bench/time_to_plot.py [--loads 10]`` (needs /usr/bin/chromium; never downloads one).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10, help="measured loads of each page")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    processes = os.cpu_count() or 2
    times: dict[str, list[float]] = {"embedded": [], "standalone": []}
    with running_stack(processes=processes) as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            urls = {"embedded": f"{stack.web_url}/apps/sliders", "standalone": f"{stack.bokeh_url}/sliders"}
            for url in urls.values():
                time_to_plot_ms(browser, url)  # warm-up: imports, first session of each process
            for _ in range(args.loads):
                for name, url in urls.items():
                    times[name].append(time_to_plot_ms(browser, url))
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
    print(f"({machine_load()})")


if __name__ == "__main__":
    main()
