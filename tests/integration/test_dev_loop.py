"""``make dev``: a catalog error while both sides reload is shown, and they carry on once it is fixed."""

import html
import time

import requests

from tests.support.apps_folder import PLAIN_ENTRY, write_apps_folder
from tests.support.servers import DEV_COMMANDS, running_stack

WAIT_SECONDS = 60.0
MESSAGE = "the name must be 'plain', the name of its source 'plain'"


def wait_for(predicate, message: str, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def site_page(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=10)
    except requests.RequestException:
        return None  # the site is between two loads


def test_a_catalog_error_is_shown_not_a_crash_loop(tmp_path):
    folder = write_apps_folder(tmp_path / "apps", PLAIN_ENTRY)
    catalog = folder / "catalog.toml"
    good = catalog.read_text()
    with running_stack(commands=DEV_COMMANDS, processes=1, APERTURE_APPS=str(folder)) as stack:
        catalog.write_text(good.replace('name = "plain"', 'name = "bk-plain"'))

        # (A response is falsy for an error status: compare the status, keep the text.)
        shown = wait_for(
            lambda: (page := site_page(stack.web_url + "/")) is not None and page.status_code == 500 and page.text,
            "the site does not show the catalog error",
        )
        assert MESSAGE in html.unescape(shown)
        wait_for(lambda: MESSAGE in stack.bokeh.output(), "the Bokeh side does not log the catalog error")
        # Both keep running; the Bokeh processes serve the last good catalog meanwhile.
        assert stack.bokeh.process.poll() is None and stack.web.process.poll() is None
        assert requests.get(f"{stack.bokeh_url}/plain", timeout=30).status_code == 200
        errors = [line for line in stack.bokeh.output().splitlines() if MESSAGE in line]
        assert len(errors) == 1, errors

        catalog.write_text(good)
        wait_for(
            lambda: (page := site_page(stack.web_url + "/apps/plain")) is not None and page.status_code == 200,
            "the site does not come back once the catalog is fixed",
        )
        wait_for(lambda: "restarting 1 Bokeh process" in stack.bokeh.output(), "the Bokeh side does not restart")
