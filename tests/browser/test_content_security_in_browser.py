"""Every page of the site under its Content-Security-Policy in Chromium: no violation, plots drawn.

Run against the two ways the product starts: the site and Bokeh on their own ports (``make run``)
and both behind the front (``make run-front``), where BokehJS and the websockets share the
site's origin.
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.support.bokeh_page import wait_for_canvas
from tests.support.front import running_front_stack
from tests.support.page_errors import csp_violations, watch_csp

# Pages that draw a plot once their scripts ran.
PLOTTING = re.compile(r"^/(apps/|dashboard|classic/)")


@pytest.fixture(scope="module")
def front():
    with running_front_stack() as live:
        yield live


def site_pages(site_url: str) -> list[str]:
    """The gallery and every page of the site it links to (the navigation, and each app's page)."""
    gallery = requests.get(site_url + "/", timeout=30).text
    body = gallery.split("<body>", 1)[1]
    return ["/", *dict.fromkeys(path for path in re.findall(r'href="(/[^"]*)"', body) if path != "/")]


def assert_no_violation_on_every_page(page, site_url: str) -> None:
    console_reports = []
    page.on("console", lambda message: "Content Security Policy" in message.text and console_reports.append(message))
    # Any other error in the console too (a failed resource, an ERROR reply from the Bokeh server).
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(f"{page.url}: {message.text}"))
    watch_csp(page)
    pages = site_pages(site_url)
    assert len(pages) >= 6
    for path in pages:
        response = page.goto(site_url + path)
        assert response.status in (200, 302, 303) or response.request.redirected_from, path
        if PLOTTING.match(path) and response.url.startswith(site_url + path.split("?")[0]):
            wait_for_canvas(page)
        assert csp_violations(page) == [], path
    assert [message.text for message in console_reports] == []
    assert errors == []


def test_no_page_breaks_its_content_security_policy(stack, page):
    assert_no_violation_on_every_page(page, stack.web_url)


def test_no_page_breaks_its_content_security_policy_behind_the_front(front, page):
    assert_no_violation_on_every_page(page, front.site_url)
