"""``make dev`` in Chromium: an app from an apps folder of its own, edited while its page is open.

A saved file of an app rebuilds that app alone inside the running Bokeh process: its open pages,
embedded (which reloads) and standalone (which pulls the new document in place), show the edit;
another app's open page keeps its session, and no process restarts.
"""

import pytest

from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder
from tests.support.bokeh_page import WAIT_MS, model_value, wait_for_canvas, wait_until
from tests.support.servers import DEV_COMMANDS, running_stack

EXTRA_APPS = 12
# How many lines the site's navigation takes, measured by the height of one of its links.
NAV_LINES = """() => {
    const nav = document.querySelector('.site-nav');
    return Math.round(nav.getBoundingClientRect().height / nav.querySelector('a').getBoundingClientRect().height);
}"""


def extra_apps(count: int) -> tuple[str, dict[str, str]]:
    """Catalog entries and files of ``count`` small single-module apps."""
    entries = "".join(
        f'\n[[apps]]\nname = "extra{number}"\ntitle = "Extra app {number}"\nsource = "extra{number}.py"\n'
        for number in range(count)
    )
    app = "from bokeh.io import curdoc\nfrom bokeh.plotting import figure\n\ncurdoc().add_root(figure())\n"
    return entries, {f"extra{number}.py": app for number in range(count)}


@pytest.fixture
def dev_stack(tmp_path):
    """`make dev`'s two commands over an apps folder outside the project, with many apps."""
    entries, files = extra_apps(EXTRA_APPS)
    folder = write_apps_folder(tmp_path / "apps", PLAIN_ENTRY + entries, {**PLAIN_APP, **files})
    with running_stack(commands=DEV_COMMANDS, processes=1, APERTURE_APPS=str(folder)) as live:
        yield live, folder


def test_saving_an_apps_file_rebuilds_it_and_the_open_page_reloads(dev_stack, page):
    stack, folder = dev_stack
    page.goto(f"{stack.web_url}/apps/plain")
    wait_for_canvas(page)
    assert model_value(page, "plain_plot", "model.title.text") == "A plain Bokeh app"
    # A plain app embedded by the site runs Python: its callback relabels the button.
    page.get_by_role("button", name="Add a point").click()
    wait_until(page, "add_point", "model.label === '5 points'")
    # Thirteen apps, and the navigation stays on one line: the gallery lists them.
    assert page.evaluate(NAV_LINES) == 1

    page.evaluate("() => { window.openedBeforeTheEdit = true; }")
    main = folder / "plain" / "main.py"
    main.write_text(main.read_text().replace('title="A plain Bokeh app"', 'title="Edited while open"'))
    page.wait_for_function("() => window.openedBeforeTheEdit === undefined", timeout=WAIT_MS * 2)
    wait_until(page, "plain_plot", "model.title.text === 'Edited while open'")
    assert model_value(page, "add_point", "model.label") == "Add a point", "a fresh session of the new code"


def edit_title(folder, title: str) -> None:
    main = folder / "plain" / "main.py"
    main.write_text(main.read_text().replace('title="A plain Bokeh app"', f'title="{title}"'))


def test_a_saved_app_file_rebuilds_that_app_alone_in_the_running_process(dev_stack, browser):
    stack, folder = dev_stack
    context = browser.new_context()
    try:
        standalone = context.new_page()
        standalone.goto(f"{stack.bokeh_url}/plain")
        wait_for_canvas(standalone)
        assert model_value(standalone, "plain_plot", "model.title.text") == "A plain Bokeh app"
        other = context.new_page()
        other.goto(f"{stack.web_url}/apps/extra0")
        wait_for_canvas(other)
        other.evaluate("() => { window.openedBeforeTheEdit = true; }")
        pids = [child.pid for child in stack.bokeh.children()]

        edit_title(folder, "Edited standalone")

        # The standalone page pulls the rebuilt document in place, with the new title.
        wait_until(standalone, "plain_plot", "model.title.text === 'Edited standalone'")
        assert "rebuilt app plain" in stack.bokeh.output()
        # Only that app: the other page did not reconnect (it would reload), the processes kept running.
        assert other.evaluate("() => window.openedBeforeTheEdit") is True
        assert "rebuilt app extra" not in stack.bokeh.output()
        assert "restarting" not in stack.bokeh.output()
        assert [child.pid for child in stack.bokeh.children()] == pids
    finally:
        context.close()
