"""What the visitor changed comes back with a rebuilt session: widgets, zoom, selection.

Bokeh's own example apps, unchanged, served from an apps folder outside the repository, and the
project's own sliders app. In Chromium, the visitor's changes are made as BokehJS makes them
(model properties set in the page and sent to the server); the Bokeh process holding the session
is killed (or the whole Bokeh side restarted); once the page says its settings were restored, the
widgets, the range zoomed to and the selection are the visitor's again, the app's Python has
brought the rest of the document along, a further change still runs Python, and the page logged
no error.
"""

from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass

import pytest
import requests

from tests.browser.test_bokeh_examples_in_browser import in_scope, wait_for_drawn, wait_until_checked
from tests.support.bokeh_examples import examples_folder, write_examples_catalog
from tests.support.bokeh_page import (
    RECONNECT_ATTEMPT_FAILED,
    WAIT_MS,
    column,
    model_value,
    move_first_slider_and_see_python_answer,
    record_notices,
    wait_for_canvas,
    wait_for_notice,
    wait_for_state,
    wait_until,
)
from tests.support.page_errors import PageErrors
from tests.support.restarts import bokeh_process, kill_process_that_took, sessions_created, wait_for_processes
from tests.support.servers import running_stack

EXAMPLES_DIR, WHY_NOT = examples_folder()
RESTORED = "Reconnected; your settings were restored."


@dataclass(frozen=True)
class Visit:
    """``change`` is what the visitor does (JS); ``seen`` holds once the app's Python answered it,
    and again after the restore; ``further`` and ``answered`` prove Python still runs after it."""

    change: str
    seen: str
    further: str
    answered: str


_FIGURE = "models.find((m) => m.type === 'Figure')"
_HIST_SUM = "sources.map((s) => [...(col(s, 'top') || [])].reduce((a, b) => a + b, 0))"

VISITS = {
    # A slider, the text of the title (Python sets the plot's title from it), and a zoom.
    "sliders": Visit(
        change=(
            "find('Slider', 'offset').value = 1.5; find('TextInput', 'title').value = 'kept wave';"
            f" {_FIGURE}.x_range.setv({{start: 1, end: 3}})"
        ),
        seen=(
            "find('Slider', 'offset').value === 1.5 && Math.abs(col(sourceWith('y'), 'y')[0] - 1.5) < 1e-9"
            f" && plotTitles.includes('kept wave') && {_FIGURE}.x_range.start === 1 && {_FIGURE}.x_range.end === 3"
        ),
        further="find('Slider', 'offset').value = -0.5",
        answered="Math.abs(col(sourceWith('y'), 'y')[0] + 0.5) < 1e-9",
    ),
    # A selection: Python draws the histograms of the selected and the other points.
    "selection_histogram": Visit(
        change="sourceWith('x').selected.indices = [...Array(300).keys()]",
        seen=(
            "sourceWith('x').selected.indices.length === 300"
            f" && {_HIST_SUM}.includes(-(col(sourceWith('x'), 'x').length - 300))"
        ),
        further="sourceWith('x').selected.indices = [...Array(50).keys()]",
        answered=f"{_HIST_SUM}.includes(-(col(sourceWith('x'), 'x').length - 50))",
    ),
    # Python replaces the whole figure on each change.
    "crossfilter": Visit(
        change="find('Select', 'X-Axis').value = 'weight'",
        seen="find('Select', 'X-Axis').value === 'weight' && plotTitles.includes('Weight vs Hp')",
        further="find('Select', 'Y-Axis').value = 'mpg'",
        answered="plotTitles.includes('Weight vs Mpg')",
    ),
    "weather": Visit(
        change="find('Select', 'City').value = 'Seattle'",
        seen="find('Select', 'City').value === 'Seattle' && plotTitles.includes('Weather data for Seattle, WA')",
        further="find('Select', 'City').value = 'Boston'",
        answered="plotTitles.includes('Weather data for Boston, MA')",
    ),
    "gapminder": Visit(
        change="find('Slider', 'Year').value = find('Slider', 'Year').start + 10",
        seen=(
            "find('Slider', 'Year').value === find('Slider', 'Year').start + 10 && models.some((m) =>"
            " m.type === 'Label' && m.text === String(find('Slider', 'Year').start + 10))"
        ),
        further="find('Slider', 'Year').value = find('Slider', 'Year').start + 20",
        answered="models.some((m) => m.type === 'Label' && m.text === String(find('Slider', 'Year').start + 20))",
    ),
}


def do(page, action: str) -> None:
    page.evaluate(in_scope(f"(() => {{ {action}; return true; }})()"))


def wait_for(page, condition: str) -> None:
    page.wait_for_function(in_scope(condition), arg=None, timeout=WAIT_MS * 2)


@pytest.fixture(scope="module")
def examples_stack(tmp_path_factory):
    if EXAMPLES_DIR is None:
        pytest.skip(WHY_NOT)
    apps = write_examples_catalog(tmp_path_factory.mktemp("bokeh-examples") / "apps", EXAMPLES_DIR)
    with running_stack(processes=2, APERTURE_APPS=str(apps)) as live:
        wait_until_checked(live)
        yield live


@pytest.mark.parametrize("name", list(VISITS))
def test_an_examples_settings_come_back_after_its_process_dies(examples_stack, page, name):
    stack = examples_stack
    visit = VISITS[name]
    wait_until_checked(stack)
    errors = PageErrors(page)
    record_notices(page)
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/{name}")
    wait_for_drawn(page)
    wait_for_state(page, "live")
    do(page, visit.change)
    wait_for(page, visit.seen)

    kill_process_that_took(stack, before)
    wait_for_notice(page, RESTORED)
    wait_for_drawn(page)
    wait_for(page, visit.seen)
    do(page, visit.further)
    wait_for(page, visit.answered)
    errors.assert_none(but=RECONNECT_ATTEMPT_FAILED)
    wait_for_processes(stack)


@pytest.fixture(scope="module")
def project_stack():
    with running_stack(processes=2) as live:
        yield live


def test_the_project_apps_settings_come_back_after_the_whole_bokeh_side_restarts(project_stack, page):
    stack = project_stack
    errors = PageErrors(page)
    record_notices(page)
    page.goto(f"{stack.web_url}/apps/sliders?N=37")
    wait_for_canvas(page)
    wait_for_state(page, "live")
    move_first_slider_and_see_python_answer(page, steps=3)
    offset = model_value(page, "offset", "model.value")

    stack.restart_bokeh()
    wait_for_notice(page, RESTORED)
    wait_for_canvas(page)
    assert model_value(page, "offset", "model.value") == offset
    wait_until(page, "wave", f"Math.abs({column('y')}[0] - {offset}) < 1e-9")
    move_first_slider_and_see_python_answer(page)
    errors.assert_none(but=RECONNECT_ATTEMPT_FAILED)


# Its Python streams a new bar every 100 ms: updates are always in flight when the processes die.
STREAMING_EXAMPLE = "ohlc"
KILLS = 3


def kill_every_bokeh_process(stack) -> None:
    """SIGKILL every Bokeh process at once: the page comes back to one the supervisor starts anew."""
    processes = [bokeh_process(stack, index) for index in range(len(stack.process_urls))]
    for process in processes:
        process.send_signal(signal.SIGKILL)
    for process in processes:
        process.wait(timeout=30)


def test_a_streaming_example_killed_again_and_again_never_throws_in_the_page(examples_stack, page):
    """The rebuilt session's updates that arrive before its document never reach the old one."""
    stack = examples_stack
    errors = PageErrors(page)
    record_notices(page)
    page.goto(f"{stack.web_url}/apps/{STREAMING_EXAMPLE}")
    wait_for_drawn(page)
    wait_for_state(page, "live")
    for _ in range(KILLS):
        wait_until_checked(stack)
        page.evaluate("() => (window.apertureNotices = [])")
        kill_every_bokeh_process(stack)
        wait_for_notice(page, "Reconnected")
        wait_for_drawn(page)
        # Its Python runs again: a new bar comes.
        bars = page.evaluate(in_scope("col(sourceWith('time'), 'time').length"))
        wait_for(page, f"col(sourceWith('time'), 'time').length !== {bars}")
    errors.assert_none(but=RECONNECT_ATTEMPT_FAILED)


# The 503 pages the site answered before its monitor saw the Bokeh server again.
SITE_NOT_YET_BACK = re.compile(rf"{RECONNECT_ATTEMPT_FAILED.pattern}|status of 503 \(SERVICE UNAVAILABLE\)")


def checking_process(stack) -> str | None:
    """The URL of a Bokeh process that answers while its startup self-check still runs, if any."""
    for url in stack.process_urls:
        try:
            if requests.get(f"{url}/readyz", timeout=2).json().get("checking"):
                return url
        except requests.RequestException:
            continue
    return None


def test_a_page_opened_while_the_processes_run_their_startup_check_draws(examples_stack, page):
    """Not dropped as a viewer that does not read when the check, which holds the process, ends."""
    stack = examples_stack
    wait_until_checked(stack)
    errors = PageErrors(page)
    kill_every_bokeh_process(stack)
    deadline = time.monotonic() + WAIT_MS / 1000
    while checking_process(stack) is None:
        assert time.monotonic() < deadline, "no replacement process was seen running its self-check"
        time.sleep(0.05)
    output_before = len(stack.bokeh.output())
    # The site answers 503 until its monitor has seen the Bokeh server again.
    while page.goto(f"{stack.web_url}/apps/{STREAMING_EXAMPLE}").status == 503:
        assert time.monotonic() < deadline, "the site did not see the Bokeh server again"
        time.sleep(0.1)
    opened_while_checking = checking_process(stack) is not None
    wait_for_drawn(page)
    wait_for_state(page, "live")
    wait_until_checked(stack)
    bars = page.evaluate(in_scope("col(sourceWith('time'), 'time').length"))
    wait_for(page, f"col(sourceWith('time'), 'time').length > {bars} + 20")
    assert "event=slow_viewer" not in stack.bokeh.output()[output_before:]
    assert opened_while_checking, "the self-check ended before the page was served: nothing was tested"
    assert page.evaluate("() => document.querySelector('.bk-session').dataset.state") == "live"
    errors.assert_none(but=SITE_NOT_YET_BACK)


def test_a_setting_whose_widget_cannot_be_found_again_is_named_in_the_notice(project_stack, page):
    """The visitor's page renamed the slider it moved: the rebuilt document has no such slider."""
    stack = project_stack
    record_notices(page)
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/sliders?N=37")
    wait_for_canvas(page)
    wait_for_state(page, "live")
    move_first_slider_and_see_python_answer(page)
    model_value(page, "offset", "(model.name = 'renamed', true)")

    kill_process_that_took(stack, before)
    wait_for_notice(page, "Reconnected; these settings of yours could not be restored: Slider")
    said = page.evaluate("() => window.apertureNotices.find((said) => said.includes('could not be restored'))")
    assert "(value)" in said and "(name)" in said
    # The rebuilt document is the app's own, and its widgets run Python.
    move_first_slider_and_see_python_answer(page)
    wait_for_processes(stack)
