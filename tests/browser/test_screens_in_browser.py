"""Every screen in Chromium: a 390 px phone, a 1280 px laptop with an admin's header, the wall on
1920x1080 and 3840x2160. Widths and heights are measured in the page; the screenshots (in the
artifacts folder) are for a person to look at."""

from __future__ import annotations

import os

import pytest

from aperture.catalog import APPS_DIR
from tests.support.apps_folder import write_apps_folder
from tests.support.bokeh_page import WAIT_MS
from tests.support.page_errors import PageErrors
from tests.support.servers import running_stack
from tests.support.site_accounts import PASSWORD

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
PHONE_PAGES = (
    "/",
    "/dashboard",
    "/apps/stream",
    "/apps/sliders",
    "/apps/iris",
    "/apps/press",
    "/apps/sliders/match",
    "/classic/iris",
    "/classic/stream",
    "/login",
    "/wall",
)
# Every live session connected and every Bokeh view laid out: what the page will look like.
DRAWN = """() => {
    const sessions = [...document.querySelectorAll('.bk-session')];
    if (sessions.some((session) => session.dataset.state !== 'live')) return false;
    if (document.querySelectorAll('.live-app, .classic-plot').length === 0) return true;
    return Boolean(window.Bokeh && Bokeh.index && Bokeh.index.roots.length > 0
        && Bokeh.index.roots.every((view) => view.has_finished()));
}"""
SIZES = """() => ({
    scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth,
    scrollHeight: document.documentElement.scrollHeight, clientHeight: document.documentElement.clientHeight,
})"""
# The distinct rows the header's visible items sit in (by their vertical centre, to 4 px).
HEADER_ROWS = """() => {
    const items = document.querySelectorAll(
        '.site-header .brand, .site-header .site-menu-button, .site-nav a, .site-account > *');
    const rows = new Set();
    for (const item of items) {
        const box = item.getBoundingClientRect();
        if (box.width > 0 && box.height > 0) rows.add(Math.round((box.top + box.height / 2) / 4));
    }
    return rows.size;
}"""
# What makes a page wider than its window: the widest elements that stick out, outermost first.
WIDEST = """() => [...document.querySelectorAll('main *')]
  .filter((element) => element.getBoundingClientRect().right > document.documentElement.clientWidth)
  .slice(0, 5).map((element) => `${element.tagName}.${element.className}: ${element.textContent.slice(0, 120)}`)"""


def open_drawn(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(DRAWN, timeout=WAIT_MS)


def screenshot(page, directory, name: str) -> None:
    page.screenshot(path=str(directory / f"screen-{name}.png"), full_page=True)


def slug(path: str) -> str:
    return path.strip("/").replace("/", "-") or "gallery"


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.mark.parametrize("path", PHONE_PAGES, ids=slug)
def test_no_page_scrolls_sideways_on_a_phone(stack, phone, path, screenshot_dir):
    errors = PageErrors(phone)
    open_drawn(phone, stack.web_url + path)
    sizes = phone.evaluate(SIZES)
    screenshot(phone, screenshot_dir, f"phone-{slug(path)}")
    assert sizes["scrollWidth"] <= sizes["clientWidth"] == PHONE["width"], sizes
    errors.assert_none()


def test_the_phones_navigation_is_one_row_behind_a_menu_button(stack, phone, screenshot_dir):
    errors = PageErrors(phone)
    open_drawn(phone, f"{stack.web_url}/apps/sliders")
    button = phone.locator(".site-menu-button")
    assert button.is_visible() and button.get_attribute("aria-expanded") == "false"
    assert not phone.locator(".site-nav").is_visible()
    assert phone.evaluate(HEADER_ROWS) == 1
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    assert phone.get_by_role("link", name="Match the wave").is_visible()
    assert phone.locator(".login-link").is_visible()
    screenshot(phone, screenshot_dir, "phone-menu-open")
    assert phone.evaluate(SIZES)["scrollWidth"] <= PHONE["width"]
    phone.get_by_role("link", name="Dashboard").click()
    phone.wait_for_url(f"{stack.web_url}/dashboard")
    errors.assert_none()


def test_a_wide_screen_shows_the_navigation_without_a_menu_button(stack, page):
    open_drawn(page, f"{stack.web_url}/")
    assert not page.locator(".site-menu-button").is_visible()
    assert page.get_by_role("link", name="Match the wave").is_visible()


def test_an_admins_header_is_one_row_at_1280_px(stack, accounts, browser, screenshot_dir):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        page.goto(f"{stack.web_url}/login?next=/admin")
        page.fill('input[name="name"]', accounts["admin"])
        page.fill('input[name="password"]', PASSWORD)
        page.click('form.login-form button[type="submit"]')
        page.wait_for_url(f"{stack.web_url}/admin")
        assert page.locator(".account-name").inner_text() == accounts["admin"]
        assert page.get_by_role("link", name="Admin", exact=True).is_visible()
        # The picture first: a failure below is then there to be seen.
        screenshot(page, screenshot_dir, "laptop-admin")
        assert page.evaluate(HEADER_ROWS) == 1
        sizes = page.evaluate(SIZES)
        assert sizes["scrollWidth"] <= sizes["clientWidth"], (sizes, page.evaluate(WIDEST))
    finally:
        context.close()


@pytest.mark.parametrize(
    ("width", "height", "scale"), [(1920, 1080, 1), (3840, 2160, 1), (1920, 1080, 2)], ids=["1080p", "4k", "4k-at-200"]
)
def test_the_wall_fills_the_screen_without_scrolling(stack, browser, width, height, scale, screenshot_dir):
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
    page = context.new_page()
    try:
        errors = PageErrors(page)
        open_drawn(page, f"{stack.web_url}/wall")
        sizes = page.evaluate(SIZES)
        assert sizes["scrollWidth"] <= sizes["clientWidth"] == width, sizes
        assert sizes["scrollHeight"] <= sizes["clientHeight"] == height, sizes
        # The views take the whole screen, less the wall's margin, and every one has drawn.
        views = page.evaluate(
            "() => { const box = document.querySelector('.wall-views').getBoundingClientRect();"
            " return [box.width, box.height]; }"
        )
        assert views[0] >= width - 40 and views[1] >= height - 40, views
        assert page.locator(".wall-view .bk-session[data-state='live']").count() == page.locator(".wall-view").count()
        screenshot(page, screenshot_dir, f"wall-{width}x{height}-at-{scale}x")
        errors.assert_none()
    finally:
        context.close()


# A team's app laid out in pixels, wider than any phone, as many Bokeh apps are.
WIDE_APP = {
    "wide.py": """
        from bokeh.io import curdoc
        from bokeh.plotting import figure

        plot = figure(width=900, height=300, title="Nine hundred pixels wide", name="wide_plot")
        plot.line([0, 1, 2], [0, 1, 0])
        curdoc().add_root(plot)
    """,
}
WIDE_ENTRY = """
    [[apps]]
    name = "wide"
    title = "Wide"
    source = "wide.py"
"""


@pytest.fixture(scope="module")
def team_stack(tmp_path_factory):
    """Both servers over the project's apps and a team's folder holding a fixed-size app."""
    folder = write_apps_folder(tmp_path_factory.mktemp("team-wide"), WIDE_ENTRY, WIDE_APP)
    with running_stack(processes=1, APERTURE_APPS=os.pathsep.join([str(APPS_DIR), str(folder)])) as live:
        yield live


def test_a_teams_fixed_size_app_scrolls_inside_its_card_not_the_page(team_stack, phone, screenshot_dir):
    open_drawn(phone, f"{team_stack.web_url}/apps/wide")
    sizes = phone.evaluate(SIZES)
    assert sizes["scrollWidth"] <= sizes["clientWidth"], sizes
    card = phone.evaluate(
        "() => { const card = document.querySelector('.live-app');"
        " return {scrollWidth: card.scrollWidth, clientWidth: card.clientWidth}; }"
    )
    assert card["scrollWidth"] >= 900 > card["clientWidth"], card
    screenshot(phone, screenshot_dir, "phone-team-wide-app")
