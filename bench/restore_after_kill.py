"""Kill → the visitor's state back: how much the replay of the visitor's settings adds to a reconnect.

A stack with two Bokeh processes and the project's ``sliders`` app embedded in the site, in Debian's
Chromium (Playwright, the browser tests' launch arguments). Each round opens the page afresh, moves
the Offset slider to a new value as the visitor would (the page sets it and sends it), waits until
Python on the server has moved the wave, then SIGKILLs the Bokeh process holding the session.
The page notes, on its own clock, when BokehJS announced the reconnect (the moment the page said
a plain "Reconnected." before the settings were kept: the rebuilt document pulled and drawn, every
widget at its default) and when the slider was back at the visitor's value with the wave
Python computes from it (the restored state). Prints p50 and p99 of both times from the kill,
and their ratio.

Usage: ``python bench/restore_after_kill.py [--kills 20]`` (needs /usr/bin/chromium; never
downloads one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import machine_load
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.bokeh_page import move_first_slider_and_see_python_answer, wait_for_canvas, wait_for_state
from tests.support.restarts import kill_process_that_took, sessions_created, wait_for_processes
from tests.support.servers import running_stack

WAIT_MS = 60_000

# In the page: the times (Date.now(), the machine's clock, as the kill's) of the reconnect and of
# the first moment after it when the slider and the wave are the visitor's again.
WATCH_RESTORE = """(offset) => {
    const doc = Bokeh.documents.find((d) => d.get_model_by_name('offset'));
    const times = (window.apertureRestore = {reconnected: null, restored: null});
    const wave = () => {
        const model = doc.get_model_by_name('wave');
        const y = model === null ? null : (model.data instanceof Map ? model.data.get('y') : model.data.y);
        return y == null ? NaN : y[0];
    };
    const check = () => {
        const slider = doc.get_model_by_name('offset');
        if (times.reconnected !== null && times.restored === null && slider !== null
            && slider.value === offset && Math.abs(wave() - offset) < 1e-9) {
            times.restored = Date.now();
        }
    };
    doc.on_event('client_reconnected', () => { times.reconnected = Date.now(); check(); });
    doc.on_change(check);
    return true;
}"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def one_kill(browser, stack) -> tuple[float, float]:
    """Milliseconds from the kill to BokehJS's reconnect, and to the visitor's state restored."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        before = sessions_created(stack)
        page.goto(f"{stack.web_url}/apps/sliders")
        wait_for_canvas(page)
        wait_for_state(page, "live", timeout_ms=WAIT_MS)
        move_first_slider_and_see_python_answer(page, steps=4)
        offset = page.evaluate("() => Bokeh.documents[0].get_model_by_name('offset').value")
        page.evaluate(WATCH_RESTORE, offset)
        killed_at = time.time() * 1000
        kill_process_that_took(stack, before)
        page.wait_for_function("() => window.apertureRestore.restored !== null", timeout=WAIT_MS)
        times = page.evaluate("() => window.apertureRestore")
        return times["reconnected"] - killed_at, times["restored"] - killed_at
    finally:
        context.close()
        wait_for_processes(stack)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    reconnected, restored = [], []
    with running_stack(processes=2) as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for _ in range(args.kills):
                plain, kept = one_kill(browser, stack)
                reconnected.append(plain)
                restored.append(kept)
        finally:
            browser.close()
    print(f"kill → state restored, the sliders app, {args.kills} kills ({os.cpu_count()} cores, {machine_load()})")
    print(f"{'':34}{'p50 ms':>10}{'p99 ms':>10}")
    for label, times in (
        ("plain reconnect (BokehJS alone)", reconnected),
        ("settings restored, Python answered", restored),
    ):
        print(f"{label:34}{percentile(times, 0.5):>10.0f}{percentile(times, 0.99):>10.0f}")
    extra = [kept - plain for plain, kept in zip(reconnected, restored, strict=True)]
    print(
        f"restored / plain reconnect, p50: {statistics.median(restored) / statistics.median(reconnected):.2f}x"
        f"; the replay's own part: p50 {statistics.median(extra):.0f} ms, p99 {percentile(extra, 0.99):.0f} ms"
    )


if __name__ == "__main__":
    main()
