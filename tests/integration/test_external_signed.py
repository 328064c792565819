"""``BOKEH_SESSION_IDS=external-signed``: only the site creates sessions, standalone pages included."""

import pytest
import requests

from tests.support.servers import running_stack
from tests.support.site_accounts import add_user, log_in


@pytest.fixture(scope="module")
def external_stack():
    with running_stack(processes=1, BOKEH_SESSION_IDS="external-signed") as stack:
        yield stack


def test_direct_standalone_visits_are_refused(external_stack):
    response = requests.get(f"{external_stack.bokeh_url}/sliders", timeout=30)
    assert response.status_code == 403
    assert "No bokeh-session-id provided" in response.text


def test_the_sites_standalone_route_mints_the_session_id(external_stack):
    gallery = requests.get(external_stack.web_url, timeout=30).text
    assert 'href="/standalone/sliders"' in gallery
    response = requests.get(f"{external_stack.web_url}/standalone/sliders?N=30", timeout=30)
    assert response.status_code == 200
    assert response.url.startswith(f"{external_stack.bokeh_url}/sliders?bokeh-session-id=")
    assert "N=30" in response.url


def test_embedded_pages_work_as_ever(external_stack):
    assert requests.get(f"{external_stack.web_url}/apps/sliders", timeout=30).status_code == 200


def test_private_apps_still_need_the_login(external_stack):
    add_user(external_stack, "alice")
    anonymous = requests.get(f"{external_stack.web_url}/standalone/portfolio", allow_redirects=False, timeout=30)
    assert anonymous.headers["Location"] == "/login?next=/standalone/portfolio"
    page = log_in(external_stack.web_url, "alice").get(f"{external_stack.web_url}/standalone/portfolio", timeout=30)
    assert page.status_code == 200 and page.url.startswith(f"{external_stack.bokeh_url}/portfolio?bokeh-session-id=")
