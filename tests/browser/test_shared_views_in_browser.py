"""Shared views in Chromium: two visitors on one view see one document, and how many are watching.

A stack of its own with one Bokeh process, so that every page's websocket reaches the process
holding the view (a shared view is one document per process).
"""

import signal

import pytest

from tests.support.bokeh_page import model_value, wait_for_canvas, wait_for_model, wait_for_state, wait_until
from tests.support.restarts import bokeh_process
from tests.support.servers import running_stack

VIEWERS = ".live-session-viewers"


@pytest.fixture(scope="module")
def one_process_stack():
    with running_stack(processes=1) as live:
        yield live


@pytest.fixture
def second_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


def open_stream(page, url):
    page.goto(url)
    wait_for_canvas(page)
    wait_for_model(page, "pause")


def wait_for_viewers(page, count):
    page.wait_for_function(
        "([selector, count]) => document.querySelector(selector)?.dataset.viewers === String(count)",
        arg=[VIEWERS, count],
    )


def test_two_visitors_share_one_document_and_see_how_many_watch(one_process_stack, page, second_page, browser):
    url = f"{one_process_stack.web_url}/apps/stream?rate=1000"
    open_stream(page, url)
    open_stream(second_page, url)
    for viewer in (page, second_page):
        wait_for_viewers(viewer, 2)
        assert viewer.locator(VIEWERS).inner_text() == "Shared view · 2 watching"
    assert model_value(second_page, "pause", "model.active") is False

    # A widget moved by one visitor changes the other's page: it is one document.
    page.locator("button", has_text="Pause").click()
    wait_until(second_page, "pause", "model.active === true")
    assert model_value(second_page, "pause", "model.label") == "Resume"

    # Another view (other arguments) is another document: nobody paused it, one visitor watches.
    third = browser.new_context().new_page()
    try:
        open_stream(third, f"{one_process_stack.web_url}/apps/stream?rate=2000")
        wait_for_viewers(third, 1)
        assert model_value(third, "pause", "model.active") is False
    finally:
        third.context.close()

    second_page.context.close()
    wait_for_viewers(page, 1)
    assert page.locator(VIEWERS).inner_text() == "Shared view · 1 watching"
    page.locator("button", has_text="Resume").click()
    wait_until(page, "pause", "model.active === false")


def test_a_per_visitor_app_says_nothing_about_viewers(one_process_stack, page):
    page.goto(f"{one_process_stack.web_url}/apps/sliders")
    wait_for_canvas(page)
    assert page.locator(VIEWERS).count() == 0


@pytest.fixture
def short_token_stack():
    """Tokens that expire 8 s after the page view, and one Bokeh process to kill."""
    with running_stack(processes=1, BOKEH_TOKEN_LIFETIME="8") as live:
        yield live


def test_the_wall_renews_its_expired_tokens_by_itself_after_an_outage(short_token_stack, page):
    stack = short_token_stack
    page.goto(f"{stack.web_url}/wall")
    wait_for_canvas(page)
    wait_for_state(page, "live")
    assert page.locator("header.site-header").count() == 0
    assert page.locator(".bk-session[data-shared='true']").count() == 3
    first_expiry = page.evaluate("() => Number(document.querySelector('.bk-session').dataset.expiresAt)")
    page.wait_for_function(f"() => Date.now() / 1000 > {first_expiry}", timeout=30_000)

    process = bokeh_process(stack, 0)
    with page.expect_navigation(timeout=90_000):
        process.send_signal(signal.SIGKILL)
    # Reloaded by itself, with fresh tokens for the same views, live again.
    wait_for_canvas(page)
    wait_for_state(page, "live")
    assert page.evaluate("() => Number(document.querySelector('.bk-session').dataset.expiresAt)") > first_expiry
