"""The classic pages in a real browser: no Bokeh server needed, nothing loaded from elsewhere."""

from tests.support.bokeh_page import model_value, wait_for_canvas, wait_until

LENGTH = "model.get_length()"
# Every plotted time is later than the one before it: no tick was appended twice.
STRICTLY_INCREASING = "Array.from(model.get_column('time')).every((t, i, all) => i === 0 || t > all[i - 1])"


def record_requests(page) -> list[str]:
    """Every URL the page requests from now on (scripts, styles, polls...)."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def record_console_errors(page) -> list[str]:
    """Errors the page logs from now on (BokehJS logs a failed poll there)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def assert_all_from(origin: str, urls: list[str]) -> None:
    foreign = [url for url in urls if not url.startswith(origin + "/")]
    assert not foreign, f"requests that left {origin}: {foreign}"


def test_the_drop_down_changes_the_feature(stack, page, screenshot_dir):
    requested = record_requests(page)
    page.goto(f"{stack.web_url}/classic/iris?bins=12")
    wait_for_canvas(page)
    assert model_value(page, "main_plot", "model.below[0].axis_label") == "Sepal length (cm)"

    with page.expect_navigation():
        page.select_option("#feature", label="Petal width (cm)")

    wait_for_canvas(page)
    assert model_value(page, "main_plot", "model.below[0].axis_label") == "Petal width (cm)"
    assert model_value(page, "histogram", "model.get_column('center').length") == 12
    assert page.url.endswith("/classic/iris?feature=petal_width&bins=12")
    assert_all_from(stack.web_url, requested)
    page.screenshot(path=str(screenshot_dir / "classic-iris.png"), full_page=True)


def test_the_ajax_plot_has_more_points_on_the_second_look(stack, page, screenshot_dir):
    requested = record_requests(page)
    errors = record_console_errors(page)
    page.goto(f"{stack.web_url}/classic/stream")
    wait_until(page, "stream_append", f"{LENGTH} > 0")
    first_look = model_value(page, "stream_append", LENGTH)

    wait_until(page, "stream_append", f"{LENGTH} > {first_look}")

    assert model_value(page, "stream_append", STRICTLY_INCREASING)
    # The replace plot always holds the same 30 s window, however many polls it made.
    wait_until(page, "stream_replace", f"{LENGTH} === 60")
    polls = [url for url in requested if "/api/stream/signal?after=" in url]
    assert len(set(polls)) >= 2, "the cursor did not move between polls"
    assert_all_from(stack.web_url, requested)
    assert not errors
    page.screenshot(path=str(screenshot_dir / "classic-stream.png"), full_page=True)


def test_both_pages_render_with_the_bokeh_server_stopped(fragile_stack, page):
    fragile_stack.bokeh.stop()
    requested = record_requests(page)

    page.goto(f"{fragile_stack.web_url}/classic/iris")
    wait_for_canvas(page)
    assert model_value(page, "histogram", "model.get_column('center').length") == 10

    page.goto(f"{fragile_stack.web_url}/classic/stream")
    wait_for_canvas(page)
    wait_until(page, "stream_append", f"{LENGTH} > 0")

    assert_all_from(fragile_stack.web_url, requested)
