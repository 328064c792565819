"""``make dev``: from saving an app's file to the edit shown in the page open on it.

Both servers run as ``make dev`` runs them (``deploy/Procfile.dev``), one Bokeh process per core,
over an apps folder outside the project with thirteen apps (the browser test's: a plain directory
app with a helper module, and twelve small ones). The app's embedded page (the site's
``/apps/plain``) and its standalone page (the Bokeh server's ``/plain``) are open in Debian's
Chromium; each round saves the app's main.py with a new plot title, and each page notes the
wall-clock time at which its plot first shows that title (checked at every animation frame, kept
across the embedded page's reload): the time from the save to that is recorded per page. Two
ways, each on its own fresh stack:

* restart: every save restarts every Bokeh process (``APERTURE_DEV_RESTART_ON_SAVE=true``, the
  way ``make dev`` worked before), and the page reconnects to the new processes;
* in place: the saved app alone is rebuilt inside the running processes (``bkruntime.app_reload``).

Prints the median and the slowest of each, and their ratio; a page that never showed the edit
(within ``GIVE_UP_SECONDS``) counts as ``inf``.

Usage: ``python bench/dev_loop.py [--rounds 3]`` (needs /usr/bin/chromium; never downloads one).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests
from bench_stack import machine_load
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_dev_loop_in_browser import EXTRA_APPS, extra_apps
from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder
from tests.support.servers import DEFAULT_PROCESSES, DEV_COMMANDS, running_stack

TARGET_SECONDS = 3.0
# A page that has not shown the edit by then never will (its reconnection attempts ran out).
GIVE_UP_SECONDS = 120
ORIGINAL_TITLE = "A plain Bokeh app"
WAYS = {"restart": {"APERTURE_DEV_RESTART_ON_SAVE": "true"}, "in place": {}}
# Runs in every page (again after a reload): notes, once per title, the wall-clock time at which
# the plot first shows it, in sessionStorage (which a reload keeps).
NOTE_TITLES = """(() => {
    const note = () => {
        const models = (window.Bokeh?.documents ?? []).flatMap((doc) => [...doc.all_models]);
        const title = models.find((model) => model.name === 'plain_plot')?.title?.text;
        if (title && sessionStorage.getItem('shown:' + title) === null) {
            sessionStorage.setItem('shown:' + title, String(Date.now()));
        }
        requestAnimationFrame(note);
    };
    requestAnimationFrame(note);
})();"""
SHOWN_AT = "(title) => Number(sessionStorage.getItem('shown:' + title)) || false"
# The embedded page reloaded since the save, shows ``title`` and says its app is live.
AT_REST = """(title) => window.openedBeforeTheSave === undefined
    && sessionStorage.getItem('shown:' + title) !== null
    && [...document.querySelectorAll(".bk-session")].every((notice) => notice.dataset.state === 'live')"""


def save_title(folder: Path, title: str) -> None:
    main = folder / "plain" / "main.py"
    text = main.read_text()
    start = text.index('title="') + len('title="')
    main.write_text(text[:start] + title + text[text.index('"', start) :])


def wait_served(stack, seconds: float = 120.0) -> None:
    """Until the site answers and sees Bokeh (after a restart, the processes are back)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{stack.web_url}/healthz", timeout=5).json()["bokeh"]["reachable"]:
                return
        except (requests.RequestException, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise RuntimeError("the stack did not come back")


def shown_after_seconds(page, title: str, saved_ms: float) -> float:
    """Seconds from the save to ``title`` shown in ``page``; inf if it never was."""
    try:
        shown_ms = page.wait_for_function(SHOWN_AT, arg=title, timeout=GIVE_UP_SECONDS * 1000).json_value()
    except PlaywrightTimeoutError:
        return math.inf
    return (shown_ms - saved_ms) / 1000


def measure(browser, way: str, rounds: int) -> dict[str, list[float]]:
    """Both pages open at once; each round saves a new title and times it into each page."""
    entries, files = extra_apps(EXTRA_APPS)
    with tempfile.TemporaryDirectory(prefix="aperture-dev-loop-") as temporary:
        folder = write_apps_folder(Path(temporary) / "apps", PLAIN_ENTRY + entries, {**PLAIN_APP, **files})
        with running_stack(
            commands=DEV_COMMANDS, processes=DEFAULT_PROCESSES, APERTURE_APPS=str(folder), **WAYS[way]
        ) as stack:
            # A context (a window) per page: a page in a background tab is not drawn.
            contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
            try:
                return measure_in(contexts, stack, folder, way, rounds)
            finally:
                for context in contexts:
                    context.close()


def measure_in(contexts, stack, folder: Path, way: str, rounds: int) -> dict[str, list[float]]:
    pages = {"embedded": f"{stack.web_url}/apps/plain", "standalone": f"{stack.bokeh_url}/plain"}
    opened = {}
    for context, (kind, url) in zip(contexts, pages.items(), strict=True):
        context.add_init_script(NOTE_TITLES)
        opened[kind] = context.new_page()
        opened[kind].goto(url, timeout=60_000)
        opened[kind].wait_for_function(SHOWN_AT, arg=ORIGINAL_TITLE, timeout=60_000)
    times: dict[str, list[float]] = {kind: [] for kind in pages}
    for number in range(rounds):
        wait_served(stack)
        title = f"{way} {number}"
        opened["embedded"].evaluate("() => { window.openedBeforeTheSave = true; }")
        saved_ms = time.time() * 1000
        save_title(folder, title)
        for kind, page in opened.items():
            times[kind].append(shown_after_seconds(page, title, saved_ms))
        # At rest before the next save, as after an edit: the embedded page has reloaded and is live.
        opened["embedded"].wait_for_function(AT_REST, arg=title, timeout=GIVE_UP_SECONDS * 1000)
        said = ", ".join(f"{kind} {times[kind][-1]:.2f} s" for kind in pages)
        print(f"  {way:<9} round {number + 1}: {said}", flush=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="saves measured per page and way")
    args = parser.parse_args()
    print(f"dev loop: save -> edit shown in the open page; {DEFAULT_PROCESSES} Bokeh process(es); {machine_load()}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            results = {way: measure(browser, way, args.rounds) for way in WAYS}
        finally:
            browser.close()
    print(f"\n{'page':<11} {'restart (median / max)':>24} {'in place (median / max)':>25} {'ratio':>7}")
    for kind in ("embedded", "standalone"):
        old, new = results["restart"][kind], results["in place"][kind]
        ratio = statistics.median(old) / statistics.median(new)
        print(
            f"{kind:<11} {statistics.median(old):>13.2f} / {max(old):5.2f} s"
            f" {statistics.median(new):>14.2f} / {max(new):5.2f} s {ratio:>6.1f}x"
        )
    slowest = max(max(results["in place"][kind]) for kind in ("embedded", "standalone"))
    verdict = "within" if slowest <= TARGET_SECONDS else "OVER"
    print(f"in place, slowest of all: {slowest:.2f} s ({verdict} the {TARGET_SECONDS:g} s target)")


if __name__ == "__main__":
    main()
