"""Plain Bokeh apps from an apps folder outside the project: readiness per app, arguments as requests.

One of the three apps is broken (its ``main.py`` raises): ``/readyz`` names it while the process
stays ready and the two others serve, and its site page is a 503 that says so, not a dead plot.
Another reads its request's arguments the usual Bokeh way
(``curdoc().session_context.request.arguments``): the startup self-check builds it with its
catalog defaults, as a site page without a query string would, so it passes.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder
from tests.support.bokeh_client import browser_session, embedded_session
from tests.support.servers import running_stack

READS_ARGUMENTS = {
    "reads_arguments.py": """
        from bokeh.io import curdoc
        from bokeh.models import Div

        size = int(curdoc().session_context.request.arguments["size"][0])
        curdoc().add_root(Div(text=f"size {size}", name="size"))
    """,
}
BROKEN = {
    "broken.py": """
        from bokeh.io import curdoc
        from bokeh.models import Div

        curdoc().add_root(Div(text="half built"))
        raise RuntimeError("the data source is gone")
    """,
}
CATALOG = (
    PLAIN_ENTRY
    + """
    [[apps]]
    name = "reads_arguments"
    title = "Reads its arguments"
    source = "reads_arguments.py"

    [[apps.params]]
    name = "size"
    type = "int"
    default = 5
    minimum = 1
    maximum = 9

    [[apps]]
    name = "broken"
    title = "Broken"
    source = "broken.py"
"""
)


@pytest.fixture(scope="module")
def plain_stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain-apps") / "apps"
    write_apps_folder(folder, CATALOG, {**PLAIN_APP, **READS_ARGUMENTS, **BROKEN})
    with running_stack(processes=1, APERTURE_APPS=str(folder)) as live:
        yield live


def checked_readiness(stack, seconds: float = 120) -> requests.Response:
    """The site's ``/readyz`` once the Bokeh process has checked every app."""
    deadline = time.monotonic() + seconds
    while True:
        response = requests.get(f"{stack.web_url}/readyz", timeout=30)
        (process,) = response.json()["processes"]
        if len(process.get("apps", {})) == 3 and not process.get("checking"):
            return response
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)


def test_one_broken_app_is_named_while_the_others_serve(plain_stack):
    response = checked_readiness(plain_stack)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["broken_apps"] == ["broken"]
    (process,) = body["processes"]
    assert process["ready"] is True
    assert process["apps"]["plain"]["ok"] is True
    assert not process["apps"]["broken"]["ok"]
    assert "the data source is gone" in process["apps"]["broken"]["error"]

    page = requests.get(f"{plain_stack.web_url}/apps/plain", timeout=30)
    assert page.status_code == 200
    with browser_session(embedded_session(page.text)) as document:
        assert document.select_one({"name": "add_point"}).label == "Add a point"


def test_the_page_of_a_broken_app_says_so_and_the_others_still_open(plain_stack):
    checked_readiness(plain_stack)
    deadline = time.monotonic() + 30
    # Each site worker learns it from its own probe of the Bokeh server.
    while True:
        pages = [requests.get(f"{plain_stack.web_url}/apps/broken", timeout=30) for _ in range(4)]
        if all(page.status_code == 503 for page in pages):
            break
        assert time.monotonic() < deadline, [page.status_code for page in pages]
        time.sleep(0.2)
    assert "could not build this app" in pages[0].text
    assert "Broken" in pages[0].text
    assert requests.get(f"{plain_stack.web_url}/apps/plain", timeout=30).status_code == 200
    assert requests.get(f"{plain_stack.web_url}/", timeout=30).status_code == 200


def test_an_app_reading_its_request_arguments_passes_the_self_check(plain_stack):
    (process,) = checked_readiness(plain_stack).json()["processes"]
    assert process["apps"]["reads_arguments"] == {**process["apps"]["reads_arguments"], "ok": True, "error": ""}
    page = requests.get(f"{plain_stack.web_url}/apps/reads_arguments?size=7", timeout=30)
    with browser_session(embedded_session(page.text)) as document:
        assert document.select_one({"name": "size"}).text == "size 7"
