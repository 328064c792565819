"""Every live app in a real browser, embedded in the site and standalone, and the dashboard."""

import pytest

from aperture.catalog import CATALOG, MAIN_PLOT_NAME
from tests.support.bokeh_page import WAIT_MS, column, model_value, wait_for_canvas, wait_until

# True once BokehJS has drawn a plot (canvases live in shadow DOM) in every one of the tiles.
EVERY_TILE_DRAWN = """(apps) => apps.every((app) => {
    const walk = (root) => [...root.querySelectorAll('*')].some((el) =>
        (el.tagName === 'CANVAS' && el.width > 0) || (el.shadowRoot && walk(el.shadowRoot)));
    const tile = document.getElementById(`tile-${app}`);
    return tile !== null && walk(tile);
})"""


# Open to anonymous visitors (the private ones: test_private_apps_in_browser.py), and built
# through the project's kit, which applies the site's title option.
PUBLIC_APPS = [spec.name for spec in CATALOG if spec.public and spec.kit]
DASHBOARD_APPS = [view.app for view in CATALOG.page_views("dashboard")]
PUBLIC_TILES = [name for name in DASHBOARD_APPS if CATALOG[name].public]


@pytest.mark.parametrize("name", PUBLIC_APPS)
def test_every_app_renders_embedded_and_standalone(stack, page, name):
    page.goto(f"{stack.web_url}/apps/{name}")
    wait_for_canvas(page)
    assert model_value(page, MAIN_PLOT_NAME, "model.title.text") == f"{CATALOG[name].title} — served by Flask"
    assert page.locator("header.site-header").is_visible()

    page.goto(f"{stack.bokeh_url}/{name}")
    wait_for_canvas(page)
    assert model_value(page, MAIN_PLOT_NAME, "model.name") == MAIN_PLOT_NAME


def test_standalone_template_lays_out_the_page_with_its_css(stack, page):
    page.goto(f"{stack.bokeh_url}/iris")
    wait_for_canvas(page)
    header = page.locator("header.app-header")
    assert header.locator("h1").inner_text() == "Iris"
    # static/iris.css, served from the app's own static folder, colours the header.
    assert header.evaluate("(el) => getComputedStyle(el).backgroundColor") == "rgb(16, 42, 67)"
    wait_until(page, "session_info", "model.text.includes('open session(s) of this app')")


def test_the_stream_plot_grows_between_two_looks(stack, page):
    page.goto(f"{stack.web_url}/apps/stream?rate=100")
    wait_for_canvas(page)
    wait_until(page, "host", f"{column('time')}.length > 0")
    first_look = model_value(page, "host", f"{column('time')}.length")
    wait_until(page, "host", f"{column('time')}.length > {first_look}")
    # The thread's and the pool's results arrive too.
    wait_until(page, "processes", f"{column('pid')}.length > 0")
    wait_until(page, "cores", f"{column('load')}.some((load) => load > 0)")


def test_pressing_the_button_adds_a_number(stack, page):
    page.goto(f"{stack.bokeh_url}/press")
    wait_for_canvas(page)
    assert model_value(page, "numbers", f"{column('text')}.length") == 0
    button = page.get_by_role("button", name="Press Me")
    button.click()
    wait_until(page, "numbers", f"{column('text')}.length === 1")
    button.click()
    wait_until(page, "numbers", f"{column('text')}.join(',') === '0,1'")


def test_the_dashboard_shows_every_tile_live(stack, page):
    page.goto(f"{stack.web_url}/dashboard")
    page.wait_for_function(f"() => window.Bokeh && Bokeh.documents.length === {len(PUBLIC_TILES)}", timeout=WAIT_MS)
    page.wait_for_function(EVERY_TILE_DRAWN, arg=PUBLIC_TILES, timeout=WAIT_MS)
    assert page.locator(".live-app-private").count() == len(DASHBOARD_APPS) - len(PUBLIC_TILES)
    assert page.locator(".tile-unavailable").count() == 0
    first_look = model_value(page, "host", f"{column('time')}.length")
    wait_until(page, "host", f"{column('time')}.length > {first_look}")
