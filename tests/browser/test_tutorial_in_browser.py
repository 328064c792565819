"""The tutorial's last step in Chromium: the team's own page shows the app, and its slider runs Python."""

import pytest

from tests.support.bokeh_page import column, model_value, wait_for_canvas, wait_until
from tests.support.page_errors import PageErrors
from tests.support.servers import running_stack
from tests.support.tutorial import served_with, team_apps_folder, team_procfile_commands


@pytest.fixture(scope="module")
def team_stack(tmp_path_factory):
    """Step 4: Aperture's servers with the team's site in place of Aperture's own."""
    scratch = tmp_path_factory.mktemp("tutorial")
    team_apps = team_apps_folder(scratch)
    commands = team_procfile_commands(team_apps, scratch)
    with running_stack(commands, processes=1, **served_with(team_apps)) as stack:
        yield stack


def test_the_teams_page_shows_the_app_and_smooths_it_in_python(team_stack, page):
    errors = PageErrors(page)
    page.goto(f"{team_stack.web_url}/team/orders")
    wait_for_canvas(page)
    assert page.locator("h1").inner_text() == "Orders this half-year"
    assert model_value(page, "orders_plot", "model.title.text") == "Orders, last 26 weeks"
    before = model_value(page, "orders", f"Array.from({column('orders')})")
    # Move the slider as a visitor does; only the app's Python callback changes the line.
    handle = page.locator(".noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    wait_until(page, "smoothing", "model.value == 2")
    wait_until(page, "orders", f"Array.from({column('orders')})[1] != {before[1]}")
    errors.assert_none()
