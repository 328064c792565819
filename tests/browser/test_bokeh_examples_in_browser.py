"""Bokeh's own example apps, unchanged, served from a catalog file outside the repository.

One stack (two Bokeh processes) serves every example from an apps folder in a temporary folder,
whose ``catalog.toml`` declares no BokehJS bundles: the self-check finds them. Each example,
embedded in a site page in Chromium: its plot is drawn, one widget runs Python on the server (the
browser sees a change only the app's Python callback makes), its ``CustomJS`` runs under the
page's CSP where it has one (export_csv's Download button), and nothing is logged as an error;
then the Bokeh process holding its session is killed, and the page comes back by itself on the
other process, numpy columns included, with the visitor's setting restored and the widget running
Python again. Then standalone,
where a numpy example comes back after a kill too.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
import requests

from tests.support.bokeh_examples import EXAMPLES, examples_folder, write_examples_catalog
from tests.support.bokeh_page import (
    RECONNECT_ATTEMPT_FAILED,
    WAIT_MS,
    record_notices,
    wait_for_notice,
    wait_for_state,
)
from tests.support.page_errors import PageErrors
from tests.support.restarts import (
    kill_process_that_took,
    kill_processes_that_took,
    sessions_created,
    wait_for_processes,
)
from tests.support.servers import running_stack

EXAMPLES_DIR, WHY_NOT = examples_folder()
pytestmark = pytest.mark.skipif(EXAMPLES_DIR is None, reason=WHY_NOT)

# Names the expressions below use, bound from the page's BokehJS documents.
_SCOPE = """
const models = Bokeh.documents.flatMap((doc) => [...doc.all_models]);
const find = (type, title) => models.find((m) => m.type === type && m.title === title);
const col = (source, name) => (source.data instanceof Map ? source.data.get(name) : source.data[name]);
const sources = models.filter((m) => m.type === 'ColumnDataSource');
const sourceWith = (name) => sources.find((source) => col(source, name) !== undefined);
const plotTitles = models.filter((m) => m.type === 'Figure').map((plot) => plot.title && plot.title.text);
"""


@dataclass(frozen=True)
class Drive:
    """How to make an example run Python, as JS: ``act`` changes a widget in the browser, and
    ``answered`` holds once the server's Python callback has changed the document in reply
    (``arg`` is what ``before`` read just before the change)."""

    act: str
    answered: str
    before: str = "null"


def _mean_of_last(count: int) -> str:
    return (
        f"(() => {{ const s = sourceWith('macd'); const close = [...col(s, 'close')]; const ma = col(s, 'ma');"
        f" const n = close.length; if (n < {count} + 5) return false;"
        f" const mean = close.slice(n - {count}).reduce((a, b) => a + b, 0) / {count};"
        f" return Math.abs(ma[n - 1] - mean) < 1e-6 * Math.abs(mean); }})()"
    )


DRIVES = {
    "sliders": Drive(
        act="find('Slider', 'offset').value = 1.5",
        answered="Math.abs(col(sourceWith('y'), 'y')[0] - 1.5) < 1e-9",
    ),
    # Its input is a selection (box or lasso); the histograms of the unselected points go negative.
    "selection_histogram": Drive(
        act="sourceWith('x').selected.indices = [...Array(300).keys()]",
        answered="sources.some((source) => [...(col(source, 'top') || [])].some((value) => value < 0))",
    ),
    "crossfilter": Drive(
        act="find('Select', 'X-Axis').value = 'weight'",
        answered="plotTitles.includes('Weight vs Hp')",
    ),
    "export_csv": Drive(
        act="find('RangeSlider', 'Max Salary').value = [10000, 110000]",
        before="col(sourceWith('salary'), 'salary').length",
        answered="col(sourceWith('salary'), 'salary').length > arg",
    ),
    # Its widgets steer random draws; the moving-average choice shows in every new row.
    "ohlc": Drive(act="find('Select', '').value = '26-tick Moving Avg'", answered=_mean_of_last(26)),
    "movies": Drive(
        act="find('Slider', 'Minimum number of reviews').value = 10",
        before="plotTitles.find((title) => / movies selected$/.test(title || ''))",
        answered="plotTitles.some((title) => / movies selected$/.test(title || '') && title !== arg)",
    ),
    "weather": Drive(
        act="find('Select', 'City').value = 'Seattle'",
        answered="plotTitles.includes('Weather data for Seattle, WA')",
    ),
    "gapminder": Drive(
        act="find('Slider', 'Year').value = find('Slider', 'Year').start + 10",
        answered="models.some((m) => m.type === 'Label' && m.text === String(find('Slider', 'Year').start + 10))",
    ),
}
# After a reconnect the widget is back where the visitor left it (the page replays the visitor's
# settings): to see Python answer again, each example's widget is moved somewhere else.
AGAIN = {
    "sliders": Drive(
        act="find('Slider', 'offset').value = -0.5",
        answered="Math.abs(col(sourceWith('y'), 'y')[0] + 0.5) < 1e-9",
    ),
    "selection_histogram": Drive(
        act="sourceWith('x').selected.indices = [...Array(50).keys()]",
        answered=(
            "sources.some((source) => [...(col(source, 'top') || [])].reduce((a, b) => a + b, 0)"
            " === -(col(sourceWith('x'), 'x').length - 50))"
        ),
    ),
    "crossfilter": Drive(act="find('Select', 'Y-Axis').value = 'mpg'", answered="plotTitles.includes('Weight vs Mpg')"),
    "export_csv": Drive(
        act="find('RangeSlider', 'Max Salary').value = [10000, 60000]",
        before="col(sourceWith('salary'), 'salary').length",
        answered="col(sourceWith('salary'), 'salary').length < arg",
    ),
    "ohlc": Drive(act="find('Select', '').value = '12-tick Moving Avg'", answered=_mean_of_last(12)),
    "movies": Drive(
        act="find('Slider', 'Minimum number of reviews').value = 40",
        before="plotTitles.find((title) => / movies selected$/.test(title || ''))",
        answered="plotTitles.some((title) => / movies selected$/.test(title || '') && title !== arg)",
    ),
    "weather": Drive(
        act="find('Select', 'City').value = 'Boston'", answered="plotTitles.includes('Weather data for Boston, MA')"
    ),
    "gapminder": Drive(
        act="find('Slider', 'Year').value = find('Slider', 'Year').start + 20",
        answered="models.some((m) => m.type === 'Label' && m.text === String(find('Slider', 'Year').start + 20))",
    ),
}
# Apps with CustomJS: how to run it, and what it must do.
DOWNLOADS = {"export_csv": ("Download", "data_result.csv")}


def wait_for_drawn(page) -> None:
    """Until BokehJS has drawn a plot canvas or, for a table-only app, a row of its table."""
    page.wait_for_function(
        """() => {
            let drawn = false;
            const walk = (root) => root.querySelectorAll('*').forEach((el) => {
                if (el.tagName === 'CANVAS' && el.width > 0 && el.height > 0) drawn = true;
                if (el.classList.contains('slick-row')) drawn = true;
                if (el.shadowRoot) walk(el.shadowRoot);
            });
            walk(document);
            return drawn;
        }""",
        timeout=WAIT_MS,
    )


def in_scope(body: str) -> str:
    return f"(arg) => {{ {_SCOPE} return ({body}); }}"


def run_python(page, name: str, drives: dict[str, Drive] = DRIVES) -> None:
    """Change the example's widget in the browser and wait until its Python callback answered."""
    drive = drives[name]
    page.wait_for_function(in_scope("models.length > 0"), arg=None, timeout=WAIT_MS)
    before = page.evaluate(in_scope(drive.before))
    page.evaluate(in_scope(f"(() => {{ {drive.act}; return true; }})()"))
    page.wait_for_function(in_scope(drive.answered), arg=before, timeout=WAIT_MS * 2)


def run_custom_js(page, name: str) -> None:
    """Click the button whose CustomJS makes a file, and check the file the browser got."""
    label, filename = DOWNLOADS[name]
    with page.expect_download(timeout=WAIT_MS) as download:
        page.get_by_role("button", name=label).click()
    assert download.value.suggested_filename == filename
    assert open(download.value.path()).readline().strip() == "name,salary,years_experience"


@pytest.fixture(scope="module")
def examples_stack(tmp_path_factory):
    apps = write_examples_catalog(tmp_path_factory.mktemp("bokeh-examples") / "apps", EXAMPLES_DIR)
    with running_stack(processes=2, APERTURE_APPS=str(apps)) as live:
        wait_until_checked(live)
        yield live


def wait_until_checked(stack, seconds: float = 180) -> None:
    """Until every process has built every example once (the site learns their needs from that)."""
    deadline = time.monotonic() + seconds
    while True:
        answers = [requests.get(f"{url}/readyz", timeout=30).json() for url in stack.process_urls]
        if all(set(answer.get("apps", {})) == set(EXAMPLES) and not answer["checking"] for answer in answers):
            assert all(answer["broken"] == [] for answer in answers), answers
            return
        assert time.monotonic() < deadline, f"the self-checks did not finish: {answers}"
        time.sleep(0.5)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_an_example_runs_embedded_and_comes_back_after_its_process_dies(examples_stack, page, name):
    stack = examples_stack
    # A process replaced by an earlier test builds every app once more: not a session to count.
    wait_until_checked(stack)
    errors = PageErrors(page)
    record_notices(page)
    before = sessions_created(stack)
    page.goto(f"{stack.web_url}/apps/{name}")
    wait_for_drawn(page)
    # The page's own notice says when the connection drops; BokehJS's toast would say it twice.
    assert page.evaluate("() => Bokeh.documents[0].config.notify_connection_status") is False
    run_python(page, name)
    if name in DOWNLOADS:
        run_custom_js(page, name)
    errors.assert_none()

    wait_for_state(page, "live")
    kill_process_that_took(stack, before)
    wait_for_notice(page, "Reconnected; your settings were restored.")
    wait_for_drawn(page)
    if DRIVES[name].before == "null":
        # What Python answered to the visitor's change holds again on the rebuilt document.
        page.wait_for_function(in_scope(DRIVES[name].answered), arg=None, timeout=WAIT_MS * 2)
    run_python(page, name, AGAIN)
    errors.assert_none(but=RECONNECT_ATTEMPT_FAILED)
    wait_for_processes(stack)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_an_example_runs_standalone(examples_stack, page, name):
    errors = PageErrors(page)
    page.goto(f"{examples_stack.bokeh_url}/{name}")
    wait_for_drawn(page)
    run_python(page, name)
    if name in DOWNLOADS:
        run_custom_js(page, name)
    errors.assert_none()


# Numpy columns in both, a single module and a directory app; once restored, the document is the
# one the app builds anew, the widget moved earlier back where it starts.
STARTS_AGAIN = {
    "sliders": "find('Slider', 'offset').value === 0",
    "gapminder": "find('Slider', 'Year').value === find('Slider', 'Year').start",
}


@pytest.mark.parametrize("name", list(STARTS_AGAIN))
def test_a_standalone_example_comes_back_after_its_process_dies(examples_stack, page, name):
    stack = examples_stack
    wait_until_checked(stack)
    errors = PageErrors(page)
    before = sessions_created(stack)
    page.goto(f"{stack.bokeh_url}/{name}")
    wait_for_drawn(page)
    run_python(page, name)
    kill_processes_that_took(stack, before)
    wait_for_processes(stack)
    # Bokeh's own page says nothing: the rebuilt document, and its widget running Python again, do.
    page.wait_for_function(in_scope(STARTS_AGAIN[name]), arg=None, timeout=WAIT_MS * 2)
    run_python(page, name)
    errors.assert_none(but=RECONNECT_ATTEMPT_FAILED)


def page_needs(stack, name: str) -> tuple[set[str], bool]:
    """The BokehJS bundles a site page of ``name`` loads, and whether its CSP allows code strings."""
    response = requests.get(f"{stack.web_url}/apps/{name}", timeout=30)
    assert response.status_code == 200
    bundles = set(re.findall(r"/static/js/bokeh-([a-z]+)\.min\.js", response.text))
    return bundles, "'unsafe-eval'" in response.headers["Content-Security-Policy"]


def test_pages_load_the_bundles_found_in_each_examples_document(examples_stack):
    """Nothing declared: the pages learn each app's needs from the Bokeh processes' self-checks."""
    expected = {name: ({"widgets"}, False) for name in EXAMPLES}
    expected["selection_histogram"] = (set(), False)
    expected["export_csv"] = ({"widgets", "tables"}, True)
    deadline = time.monotonic() + 60
    # Each site worker learns them from its own monitor: ask until several answers in a row agree.
    agreeing = 0
    while agreeing < 6:
        seen = {name: page_needs(examples_stack, name) for name in EXAMPLES}
        agreeing = agreeing + 1 if seen == expected else 0
        assert time.monotonic() < deadline, f"pages load {seen}, not {expected}"
