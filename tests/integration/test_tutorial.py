"""The tutorial, step by step, with its own files: a team's app in a folder of its own, on a page of its own.

``tests/browser/test_tutorial_in_browser.py`` moves the app's slider in Chromium.
"""

import pytest
import requests

from tests.support.bokeh_client import browser_session, embedded_session
from tests.support.servers import running_stack
from tests.support.tutorial import served_with, team_apps_folder, team_procfile_commands


@pytest.fixture(scope="module")
def team_apps(tmp_path_factory):
    return team_apps_folder(tmp_path_factory.mktemp("tutorial"))


def orders_document(page_html):
    """What the page's session holds on the Bokeh server: (weeks drawn, plot title)."""
    with browser_session(embedded_session(page_html)) as doc:
        weeks = len(doc.select_one({"name": "orders"}).data["week"])
        return weeks, doc.select_one({"name": "orders_plot"}).title.text


def test_step_3_the_teams_app_is_live_on_the_site_and_standalone(team_apps):
    with running_stack(processes=1, **served_with(team_apps)) as stack:
        page = requests.get(f"{stack.web_url}/apps/orders?weeks=26", timeout=30)
        assert page.status_code == 200, page.text
        assert orders_document(page.text) == (26, "Orders, last 26 weeks")
        refused = requests.get(f"{stack.web_url}/apps/orders?weeks=500", timeout=30)
        assert refused.status_code == 400
        assert "weeks" in refused.text
        standalone = requests.get(f"{stack.bokeh_url}/orders", timeout=30)
        assert standalone.status_code == 200
        assert "<title>Orders</title>" in standalone.text
        # The project's own apps are still served beside the team's.
        assert requests.get(f"{stack.web_url}/apps/sliders", timeout=30).status_code == 200


def test_step_4_the_teams_own_page_embeds_the_app_live(team_apps, tmp_path):
    commands = team_procfile_commands(team_apps, tmp_path)
    with running_stack(commands, processes=1, **served_with(team_apps)) as stack:
        page = requests.get(f"{stack.web_url}/team/orders", timeout=30)
        assert page.status_code == 200, page.text
        assert "<h1>Orders this half-year</h1>" in page.text
        assert orders_document(page.text) == (26, "Orders, last 26 weeks")
        # The rest of Aperture's site is still there.
        assert 'data-app="orders"' in requests.get(f"{stack.web_url}/", timeout=30).text
