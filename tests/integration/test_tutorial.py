"""The tutorial, step by step, with its own files: a team's app in a folder of its own, on a page of its own.

``docs/tutorial/first-app.md`` shows the files of ``docs/tutorial/team-apps/`` (included from
there when the site is built); this test copies that folder whole and runs the tutorial's
commands on it, so the tutorial and what works cannot drift apart.
"""

import os
import shlex
import shutil

import pytest
import requests

from tests.support.bokeh_client import browser_session, embedded_session
from tests.support.servers import PROJECT_ROOT, procfile_commands, running_stack

TUTORIAL_FILES = PROJECT_ROOT / "docs" / "tutorial" / "team-apps"


@pytest.fixture(scope="module")
def team_apps(tmp_path_factory):
    """The team's folder, beside (not inside) Aperture's checkout, as the tutorial makes it."""
    folder = tmp_path_factory.mktemp("tutorial") / "team-apps"
    shutil.copytree(TUTORIAL_FILES, folder)
    return folder


def served_with(team_apps):
    """Step 3's environment: Aperture's own apps and the team's (``APERTURE_APPS="bkapps:$TEAM_APPS"``)."""
    return {"TEAM_APPS": str(team_apps), "APERTURE_APPS": f"bkapps{os.pathsep}{team_apps}"}


def team_procfile(team_apps, tmp_path):
    """Step 4's commands: the team's Procfile, ``$TEAM_APPS`` expanded as the shell does under honcho."""
    text = (team_apps / "Procfile").read_text().replace('"$TEAM_APPS"', shlex.quote(str(team_apps)))
    expanded = tmp_path / "Procfile"
    expanded.write_text(text)
    return procfile_commands(expanded)


def orders_document(page_html):
    """The live document the page's session holds on the Bokeh server: (weeks drawn, plot title)."""
    with browser_session(embedded_session(page_html)) as doc:
        plot = doc.select_one({"name": "orders_plot"})
        return len(plot.renderers[0].data_source.data["week"]), plot.title.text


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
    commands = team_procfile(team_apps, tmp_path)
    with running_stack(commands, processes=1, **served_with(team_apps)) as stack:
        page = requests.get(f"{stack.web_url}/team/orders", timeout=30)
        assert page.status_code == 200, page.text
        assert "<h1>Orders this half-year</h1>" in page.text
        assert orders_document(page.text) == (26, "Orders, last 26 weeks")
        # The rest of Aperture's site is still there.
        assert 'data-app="orders"' in requests.get(f"{stack.web_url}/", timeout=30).text
