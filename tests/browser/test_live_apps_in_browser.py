"""A real browser on the site: live apps render, widgets run Python, origins are enforced."""

import time

from tests.support.bokeh_page import (
    column,
    model_value,
    move_first_slider_and_see_python_answer,
    wait_for_canvas,
    wait_until,
)


def test_sliders_page_shows_the_live_app_with_the_flask_title(stack, page, screenshot_dir):
    page.goto(f"{stack.web_url}/apps/sliders")
    wait_for_canvas(page)
    assert page.locator("header.site-header").is_visible()
    assert model_value(page, "main_plot", "model.title.text") == "Sliders — served by Flask"
    page.screenshot(path=str(screenshot_dir / "sliders-in-flask.png"), full_page=True)


def test_moving_a_slider_reshapes_the_wave_in_python(stack, page):
    page.goto(f"{stack.web_url}/apps/sliders?N=100")
    wait_for_canvas(page)
    assert model_value(page, "wave", f"{column('y')}.length") == 100
    assert model_value(page, "wave", f"{column('y')}[0]") == 0
    move_first_slider_and_see_python_answer(page, steps=5)


def test_iris_page_starts_on_the_requested_feature_and_follows_the_select(stack, page):
    page.goto(f"{stack.web_url}/apps/iris?feature=petal_length&bins=12")
    wait_for_canvas(page)
    select = page.locator("select")
    assert model_value(page, "feature", "model.value") == "petal_length"
    assert select.evaluate("(el) => el.selectedOptions[0].textContent") == "Petal length (cm)"
    assert model_value(page, "histogram", f"{column('center')}.length") == 12
    first_center = model_value(page, "histogram", f"{column('center')}[0]")

    select.select_option(label="Sepal width (cm)")

    wait_until(page, "histogram", f"{column('center')}[0] !== {first_center}")
    assert model_value(page, "main_plot", "model.below[0].axis_label") == "Sepal width (cm)"


def test_standalone_app_renders_on_the_bokeh_server(stack, page):
    page.goto(f"{stack.bokeh_url}/sliders")
    wait_for_canvas(page)
    assert model_value(page, "main_plot", "model.title.text") == "my sine wave"


def test_pages_from_origins_not_allowed_get_their_websocket_refused(stack, page):
    # The stack allows 127.0.0.1:<port> only; the same page under "localhost" is another origin.
    foreign_origin = stack.web_url.replace("127.0.0.1", "localhost")
    handshake_errors = []

    def watch(websocket):
        websocket.on("socketerror", lambda error: handshake_errors.append(error))

    page.on("websocket", watch)
    page.goto(f"{foreign_origin}/apps/sliders")
    refusal = f"Refusing websocket connection from Origin '{foreign_origin}'"
    deadline = time.monotonic() + 30
    while not (handshake_errors and refusal in stack.bokeh.output()) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert handshake_errors == ["Error during WebSocket handshake: Unexpected response code: 403"]
    assert refusal in stack.bokeh.output()
    assert page.evaluate("() => !window.Bokeh || Bokeh.documents.length === 0")


def test_twenty_loads_over_two_processes_all_keep_arguments_and_options(stack, page):
    for _ in range(20):
        page.goto(f"{stack.web_url}/apps/sliders?N=37")
        wait_for_canvas(page)
        assert model_value(page, "wave", f"{column('y')}.length") == 37
        assert model_value(page, "main_plot", "model.title.text") == "Sliders — served by Flask"


def test_pulled_pages_show_the_sites_change_and_stay_interactive(stack, page):
    for _ in range(10):
        page.goto(f"{stack.web_url}/apps/sliders/match?N=80")
        wait_for_canvas(page)
        assert model_value(page, "target_wave", f"{column('y')}.length") == 80
        assert model_value(page, "main_plot", "model.title.text") == "Match the dashed wave"
    move_first_slider_and_see_python_answer(page, steps=3)
