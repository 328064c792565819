"""The views catalog files declare for the dashboard and the wall: read, checked, refused in one line."""

import pytest

from aperture.catalog import APPS_DIR
from aperture.catalog_file import CatalogError, read_catalogs
from tests.support.apps_folder import write_apps_folder

TEAM_APP = {"team.py": "from bokeh.io import curdoc\n"}
TEAM_ENTRY = """
    [[apps]]
    name = "team"
    title = "Team app"
    source = "team.py"

    [[apps.params]]
    name = "points"
    type = "int"
    default = 10
    minimum = 1
    maximum = 100
"""


def team_folder(tmp_path, pages: str):
    # Views first: a bare key after [[apps.params]] would belong to that table.
    return write_apps_folder(tmp_path / "team", pages + TEAM_ENTRY, TEAM_APP)


def test_the_projects_catalog_declares_its_dashboard_and_wall():
    catalog = read_catalogs([APPS_DIR])
    assert [view.app for view in catalog.page_views("dashboard")] == ["stream", "iris", "sliders", "portfolio"]
    wall = catalog.page_views("wall")
    assert [view.app for view in wall] == ["stream", "iris", "sliders"]
    assert wall[0].arguments == {"rate": 1000, "window": 300} and wall[0].caption == "This server, live"


def test_a_team_declares_its_own_views_with_arguments_and_captions(tmp_path):
    folder = team_folder(
        tmp_path,
        """
        [[dashboard]]
        app = "team"
        arguments = { points = 40 }
        caption = "Forty points"

        [[wall]]
        app = "team"
        """,
    )
    catalog = read_catalogs([folder])
    [tile] = catalog.page_views("dashboard")
    assert (tile.app, tile.arguments, tile.caption) == ("team", {"points": 40}, "Forty points")
    assert [view.arguments for view in catalog.page_views("wall")] == [{}]


def test_a_file_without_views_leaves_the_pages_empty(tmp_path):
    catalog = read_catalogs([team_folder(tmp_path, "")])
    assert catalog.page_views("dashboard") == () and catalog.page_views("wall") == ()


def test_every_served_files_views_show_in_the_order_of_the_folders(tmp_path):
    folder = team_folder(tmp_path, '[[dashboard]]\napp = "team"\n')
    catalog = read_catalogs([APPS_DIR, folder])
    assert [view.app for view in catalog.page_views("dashboard")] == ["stream", "iris", "sliders", "portfolio", "team"]
    # A team's file may show the project's apps too, when both folders are served.
    both = read_catalogs([folder, APPS_DIR])
    assert [view.app for view in both.page_views("dashboard")][:2] == ["team", "stream"]


MISTAKES = [
    ('[[dashboard]]\ncaption = "x"\n', "dashboard view 1: 'app' is missing (the name of the app to show)"),
    ('[[wall]]\napp = "team"\n\n[[wall]]\napp = 3\n', "wall view 2: 'app' must be a string"),
    ('[[wall]]\napp = "team"\nsize = 2\n', "wall view 1: unknown key 'size' (allowed: app, arguments, caption)"),
    ('[[dashboard]]\napp = "team"\narguments = 4\n', "dashboard view 1: 'arguments' must be a table"),
    ('[[dashboard]]\napp = "team"\ncaption = true\n', "dashboard view 1: 'caption' must be a string"),
    ('dashboard = "team"\n', "dashboard must be [[dashboard]] tables, one per app shown"),
    (
        '[[dashboard]]\napp = "team"\narguments = { points = [1] }\n',
        "dashboard view 1 (team): argument 'points' must be a number or a string",
    ),
    (
        '[[wall]]\napp = "sliders"\n',
        "wall view 1: no app 'sliders' is served (the catalog holds team)",
    ),
    (
        '[[dashboard]]\napp = "team"\narguments = { points = 500 }\n',
        "dashboard view 1 (team): invalid argument points: must be an integer from 1 to 100, not 500",
    ),
    (
        '[[dashboard]]\napp = "team"\narguments = { colour = "red" }\n',
        "dashboard view 1 (team): invalid argument colour: is not an argument of this app (it takes: points)",
    ),
    (
        '[[walls]]\napp = "team"\n',
        "unknown key 'walls' (a catalog file holds [[apps]], [[dashboard]], [[wall]] tables only)",
    ),
]


@pytest.mark.parametrize(("pages", "message"), MISTAKES, ids=[message for _, message in MISTAKES])
def test_each_mistake_is_one_line_naming_the_file_and_the_view(tmp_path, pages, message):
    folder = team_folder(tmp_path, pages)
    with pytest.raises(CatalogError) as raised:
        read_catalogs([folder])
    assert str(raised.value) == f"{folder / 'catalog.toml'}: {message}"
