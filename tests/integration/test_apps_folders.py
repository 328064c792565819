"""Apps folders outside the project: served from their own catalog file, refused when it is wrong."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import requests
from bokeh.models import Plot

from aperture.catalog import APPS_DIR
from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder
from tests.support.bokeh_client import browser_session, embedded_session
from tests.support.bokeh_examples import examples_folder
from tests.support.servers import PROJECT_ROOT, free_port, running_stack, stack_env

BAD_NAME = PLAIN_ENTRY.replace('name = "plain"', 'name = "bk-plain"')
BAD_NAME_MESSAGE = (
    "catalog.toml, app \"bk-plain\": the name must be 'plain', the name of its source 'plain': Bokeh serves "
    "the app at /plain, so pages asking for /bk-plain would never load it"
)


@pytest.fixture
def bad_catalog_env(tmp_path):
    """A stack's environment whose APERTURE_APPS names a folder with a misnamed app."""
    env = stack_env(free_port(), free_port(), 1, APERTURE_APPS=str(write_apps_folder(tmp_path / "apps", BAD_NAME)))
    yield env
    shutil.rmtree(env["APERTURE_INSTANCE_DIR"], ignore_errors=True)


def start_and_wait(argv, env):
    """Run a server command that is expected to refuse to start; its exit status and output."""
    result = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def test_the_bokeh_server_refuses_a_bad_catalog_with_one_line(bad_catalog_env):
    status, output = start_and_wait([sys.executable, "-m", "bkapps"], bad_catalog_env)
    assert status == 1
    assert output.strip() == f"bkapps: {bad_catalog_env['APERTURE_APPS']}/{BAD_NAME_MESSAGE}"


def test_the_site_refuses_a_bad_catalog_with_one_line(bad_catalog_env):
    argv = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    status, output = start_and_wait(argv, bad_catalog_env)
    assert status != 0
    assert output.strip() == f"web: {bad_catalog_env['APERTURE_APPS']}/{BAD_NAME_MESSAGE}"


BAD_VIEW = PLAIN_ENTRY + '\n[[wall]]\napp = "plain"\narguments = { N = 5 }\n'
BAD_VIEW_MESSAGE = (
    "catalog.toml: wall view 1 (plain): invalid argument N: is not an argument of this app (it takes: none)"
)


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("bkapps", [sys.executable, "-m", "bkapps"]),
        ("web", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]),
    ],
)
def test_both_servers_refuse_a_bad_page_view_with_one_line(tmp_path, name, argv):
    env = stack_env(free_port(), free_port(), 1, APERTURE_APPS=str(write_apps_folder(tmp_path / "apps", BAD_VIEW)))
    try:
        status, output = start_and_wait(argv, env)
    finally:
        shutil.rmtree(env["APERTURE_INSTANCE_DIR"], ignore_errors=True)
    assert status != 0
    assert output.strip() == f"{name}: {env['APERTURE_APPS']}/{BAD_VIEW_MESSAGE}"


@pytest.fixture(scope="module")
def outside_stack(tmp_path_factory):
    """Both servers over one apps folder outside the project, holding a plain Bokeh app."""
    folder = write_apps_folder(tmp_path_factory.mktemp("team-apps"), PLAIN_ENTRY)
    with running_stack(processes=1, APERTURE_APPS=str(folder)) as live:
        yield live


def test_an_outside_app_is_embedded_by_the_site(outside_stack):
    page = requests.get(f"{outside_stack.web_url}/apps/plain", timeout=30)
    assert page.status_code == 200, page.text
    with browser_session(embedded_session(page.text)) as doc:
        assert doc.select_one({"name": "plain_plot"}).title.text == "A plain Bokeh app"
        assert doc.select_one({"name": "add_point"}).label == "Add a point"
    gallery = requests.get(f"{outside_stack.web_url}/", timeout=30).text
    assert 'data-app="plain"' in gallery


def test_an_outside_app_opens_standalone(outside_stack):
    page = requests.get(f"{outside_stack.bokeh_url}/plain", timeout=30)
    assert page.status_code == 200
    assert "<title>Plain</title>" in page.text


def test_the_sites_pages_built_on_its_own_apps_say_they_are_absent(outside_stack):
    for path in ("/apps/sliders/match", "/classic/iris", "/api/iris/histogram", "/dashboard", "/wall"):
        assert requests.get(outside_stack.web_url + path, timeout=30).status_code == 404, path
    assert navigation(requests.get(f"{outside_stack.web_url}/", timeout=30).text) == ["Gallery", "Classic stream"]


def navigation(page: str) -> list[str]:
    return re.findall(r">([^<]+)</a>", page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0])


EXAMPLES_DIR, WHY_NO_EXAMPLES = examples_folder()
# A team's own app named like one of the project's, on a dashboard its catalog file declares.
TEAM_SLIDERS_CATALOG = """
    [[apps]]
    name = "sliders"
    title = "Our sliders"
    source = "sliders.py"
    bokehjs = ["widgets"]

    [[dashboard]]
    app = "sliders"
    caption = "Our own sliders"
"""


@pytest.fixture(scope="module")
def team_sliders_stack(tmp_path_factory):
    """Both servers over a team's folder holding Bokeh's sliders example (a copy) as its ``sliders``."""
    if EXAMPLES_DIR is None:
        pytest.skip(WHY_NO_EXAMPLES)
    folder = write_apps_folder(tmp_path_factory.mktemp("team-sliders"), TEAM_SLIDERS_CATALOG, {})
    shutil.copy(EXAMPLES_DIR / "sliders.py", folder / "sliders.py")
    with running_stack(processes=1, APERTURE_APPS=str(folder)) as live:
        yield live


def test_a_teams_sliders_is_not_the_one_the_sites_pages_need(team_sliders_stack):
    for path in ("/apps/sliders/match", "/wall", "/classic/iris"):
        response = requests.get(team_sliders_stack.web_url + path, timeout=30)
        assert response.status_code == 404, path
        assert "404 · Not found" in response.text
    gallery = requests.get(f"{team_sliders_stack.web_url}/", timeout=30).text
    assert navigation(gallery) == ["Gallery", "Dashboard", "Classic stream"]


def test_a_teams_catalog_file_gives_it_its_own_dashboard(team_sliders_stack):
    dashboard = requests.get(f"{team_sliders_stack.web_url}/dashboard", timeout=30)
    assert dashboard.status_code == 200
    assert dashboard.text.count('class="tile"') == 1 and "Our own sliders" in dashboard.text
    with browser_session(embedded_session(dashboard.text)) as doc:
        [plot] = doc.select({"type": Plot})
        assert plot.title.text == "my sine wave", "the team's own sliders example, drawing"


# A plain single-module app keeping numpy arrays, as most Bokeh apps do: it has no main plot named
# for the kit, no title option, no site theme, and its document travels with binary buffers.
NUMPY_APP = {
    "waves.py": """
        import numpy as np
        from bokeh.io import curdoc
        from bokeh.plotting import figure

        x = np.linspace(0, 10, 200)
        plot = figure(title="Waves")
        plot.line(x, np.sin(x))
        curdoc().add_root(plot)
    """,
}
NUMPY_ENTRY = """
    [[apps]]
    name = "waves"
    title = "Waves"
    source = "waves.py"
"""


CATALOG_TESTS = (
    "test_app_documents",
    "test_document_validation",
    "test_catalog",
    "test_catalog_file",
    "test_launcher",
    "test_pages",
    "test_api",
    "test_dashboard",
    "test_access",
    "test_site_pages",
)


def test_plain_apps_in_the_catalog_leave_the_projects_own_tests_green(tmp_path):
    folder = write_apps_folder(tmp_path / "apps", PLAIN_ENTRY + NUMPY_ENTRY, {**PLAIN_APP, **NUMPY_APP})
    env = {**os.environ, "APERTURE_APPS": os.pathsep.join([str(APPS_DIR), str(folder)])}
    # Every unit test that goes over the catalog's apps.
    files = [f"tests/unit/{name}.py" for name in CATALOG_TESTS]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
