"""Which site pages a catalog supports: the navigation lists them, the others answer the site's 404."""

import re

import pytest

from aperture.catalog import APPS_DIR, CATALOG, AppNeed
from aperture.catalog_file import read_catalogs
from tests.support.apps_folder import write_apps_folder

# A team's own app that happens to be called like one of the project's: another app.
TEAM_SLIDERS = {"sliders.py": "from bokeh.io import curdoc\n"}
TEAM_ENTRY = """
    [[apps]]
    name = "sliders"
    title = "Our sliders"
    source = "sliders.py"
"""
TEAM_VIEWS = """
    [[dashboard]]
    app = "sliders"
    caption = "Our sliders on the dashboard"

    [[wall]]
    app = "sliders"
    caption = "Our sliders on the wall"
"""
PAGES_BUILT_ON_THE_PROJECTS_APPS = ("/apps/sliders/match", "/classic/iris", "/api/iris/histogram")


@pytest.fixture
def serve_folders(monkeypatch):
    """Make the site serve the catalog of ``folders`` (as APERTURE_APPS would) for one test."""

    def serve(*folders):
        monkeypatch.setattr(CATALOG, "_loaded", read_catalogs(list(folders)))

    return serve


def navigation(page: str) -> list[str]:
    nav = page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<]+)</a>", nav)


def test_the_projects_catalog_serves_every_page(client):
    assert navigation(client.get("/").get_data(as_text=True)) == [
        "Gallery",
        "Dashboard",
        "Wall",
        "Match the wave",
        "Classic Iris",
        "Classic stream",
    ]


def test_a_team_app_of_the_same_name_is_not_the_app_a_page_needs(tmp_path):
    team = read_catalogs([write_apps_folder(tmp_path, TEAM_ENTRY, TEAM_SLIDERS)])
    assert AppNeed("sliders").find(team) is None
    assert AppNeed("sliders", folder=tmp_path).find(team) is team["sliders"]
    assert AppNeed("sliders").find(read_catalogs([APPS_DIR])).folder == APPS_DIR


def test_pages_whose_apps_are_not_served_leave_the_navigation_and_answer_404(client, tmp_path, serve_folders):
    serve_folders(write_apps_folder(tmp_path, TEAM_ENTRY, TEAM_SLIDERS))
    gallery = client.get("/").get_data(as_text=True)
    assert navigation(gallery) == ["Gallery", "Classic stream"]
    assert "/classic/iris" not in gallery
    for path in (*PAGES_BUILT_ON_THE_PROJECTS_APPS, "/dashboard", "/wall"):
        response = client.get(path)
        assert response.status_code == 404, path
        if not path.startswith("/api/"):
            assert "404 · Not found" in response.get_data(as_text=True), path
    # The team's app keeps its own page (a 503 here only because no Bokeh server runs).
    assert client.get("/apps/sliders").status_code == 503


def test_a_teams_catalog_file_gives_it_a_dashboard_and_a_wall(client, tmp_path, serve_folders):
    serve_folders(write_apps_folder(tmp_path, TEAM_VIEWS + TEAM_ENTRY, TEAM_SLIDERS))
    assert navigation(client.get("/").get_data(as_text=True)) == ["Gallery", "Dashboard", "Wall", "Classic stream"]
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'id="tile-sliders"' in dashboard and "Our sliders on the dashboard" in dashboard
    wall = client.get("/wall").get_data(as_text=True)
    assert wall.count('class="wall-view"') == 1 and "Our sliders on the wall" in wall
    for path in PAGES_BUILT_ON_THE_PROJECTS_APPS:
        assert client.get(path).status_code == 404, path


def test_views_pass_their_arguments_and_one_app_may_show_twice(client, tmp_path, serve_folders):
    entry = TEAM_ENTRY + '\n[[apps.params]]\nname = "N"\ntype = "int"\ndefault = 5\nminimum = 1\nmaximum = 99\n'
    views = '[[dashboard]]\napp = "sliders"\n\n[[dashboard]]\napp = "sliders"\narguments = { N = 42 }\n'
    serve_folders(write_apps_folder(tmp_path, views + entry, TEAM_SLIDERS))
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'id="tile-sliders"' in dashboard and 'id="tile-sliders-2"' in dashboard
    assert 'href="/apps/sliders?N=42"' in dashboard
