"""Live app pages against a real Bokeh server (two processes) and gunicorn started from the Procfile."""

import requests
from bokeh.util.token import check_session_id_signature

from aperture.catalog import CATALOG, MAIN_PLOT_NAME
from tests.support.bokeh_client import browser_session, embedded_session, embedded_sessions
from tests.support.servers import TEST_BOKEH_SECRET

# Open to anonymous visitors; the private ones have their own tests (test_private_apps.py).
PUBLIC_APPS = [spec for spec in CATALOG if spec.public]
DASHBOARD_APPS = [view.app for view in CATALOG.page_views("dashboard")]
PUBLIC_TILES = [name for name in DASHBOARD_APPS if CATALOG[name].public]


def test_every_app_page_embeds_a_signed_token_session_without_autoload(stack):
    for spec in PUBLIC_APPS:
        response = requests.get(f"{stack.web_url}/apps/{spec.name}", timeout=30)
        assert response.status_code == 200, response.text
        embed = embedded_session(response.text)
        assert check_session_id_signature(embed.session_id, secret_key=TEST_BOKEH_SECRET.encode(), signed=True)
        assert embed.absolute_url == f"{stack.bokeh_url}/{spec.name}"
        assert "autoload.js" not in response.text
        assert f"{stack.bokeh_url}/static/js/bokeh.min.js" in response.text


def test_the_session_carries_flask_arguments_and_options(stack):
    page = requests.get(f"{stack.web_url}/apps/sliders?N=50", timeout=30).text
    with browser_session(embedded_session(page)) as doc:
        assert doc.select_one({"name": MAIN_PLOT_NAME}).title.text == "Sliders — served by Flask"
        assert len(doc.select_one({"name": "wave"}).data["x"]) == 50


def test_iris_page_starts_with_the_requested_feature(stack):
    page = requests.get(f"{stack.web_url}/apps/iris?feature=petal_width&bins=7", timeout=30).text
    with browser_session(embedded_session(page)) as doc:
        assert doc.select_one({"name": "feature"}).value == "petal_width"
        assert len(doc.select_one({"name": "histogram"}).data["center"]) == 7


def test_a_page_view_builds_no_session_until_a_browser_connects(stack):
    def open_sessions() -> int:
        return sum(
            requests.get(f"{url}/healthz", timeout=10).json()["sessions"]["sliders"] for url in stack.process_urls
        )

    before = open_sessions()
    for _ in range(10):
        assert requests.get(f"{stack.web_url}/apps/sliders", timeout=30).status_code == 200
        assert requests.head(f"{stack.web_url}/apps/sliders", timeout=30).status_code == 200
    assert open_sessions() == before


def test_the_page_query_string_cannot_change_a_sessions_arguments(stack):
    page = requests.get(f"{stack.web_url}/apps/sliders?N=40", timeout=30).text
    # BokehJS puts the page's query string on the websocket URL; only the token's arguments count.
    with browser_session(embedded_session(page), page_query={"N": "999"}) as doc:
        assert len(doc.select_one({"name": "wave"}).data["x"]) == 40


def test_bad_requests_never_reach_the_bokeh_server(stack):
    assert requests.get(f"{stack.web_url}/apps/nope", timeout=30).status_code == 404
    response = requests.get(f"{stack.web_url}/apps/iris?bins=500", timeout=30)
    assert response.status_code == 400
    assert "bins: must be an integer from 3 to 50, not 500" in response.text


def test_standalone_apps_open_on_the_bokeh_server(stack):
    index = requests.get(f"{stack.bokeh_url}/", timeout=30)
    assert index.status_code == 200
    for spec in CATALOG:
        assert f'href="/{spec.name}"' in index.text
        assert spec.title in index.text
    for spec in PUBLIC_APPS:
        assert requests.get(f"{stack.bokeh_url}/{spec.name}", timeout=30).status_code == 200


def test_standalone_bad_arguments_get_a_message_not_a_traceback(stack):
    response = requests.get(f"{stack.bokeh_url}/sliders?N=1", timeout=30)
    assert response.status_code == 200
    assert "Sliders: invalid argument" in response.text


def test_every_app_refuses_bad_standalone_arguments_with_a_message(stack):
    for spec in PUBLIC_APPS:
        bad = f"{spec.params[0].name}=999999" if spec.params else "unknown=1"
        response = requests.get(f"{stack.bokeh_url}/{spec.name}?{bad}", timeout=30)
        assert response.status_code == 200, spec.name
        assert f"<title>{spec.title}: invalid argument</title>" in response.text


def test_forged_session_ids_are_refused(stack):
    forged = "a" * 44 + ".forgedsignature"
    response = requests.get(
        f"{stack.bokeh_url}/sliders/autoload.js",
        params={"bokeh-autoload-element": "x", "bokeh-app-path": "/sliders"},
        headers={"Bokeh-Session-Id": forged},
        timeout=30,
    )
    assert response.status_code == 403
    unsigned = requests.get(f"{stack.bokeh_url}/sliders", params={"bokeh-session-id": forged}, timeout=30)
    assert unsigned.status_code == 403


def test_healthz_sees_the_bokeh_server(stack):
    body = requests.get(f"{stack.web_url}/healthz", timeout=30).json()
    assert body["bokeh"]["reachable"] is True


def test_each_bokeh_process_answers_on_its_own_port(stack):
    processes = [requests.get(f"{url}/healthz", timeout=10).json() for url in stack.process_urls]
    assert [process["process"] for process in processes] == [0, 1]
    assert len({process["pid"] for process in processes}) == 2


def test_standalone_pages_use_the_apps_template_css_and_request_hook(stack):
    for name in ("iris", "sliders"):
        page = requests.get(f"{stack.bokeh_url}/{name}", headers={"User-Agent": "suite-agent/1.0"}, timeout=30)
        assert page.status_code == 200
        assert '<header class="app-header">' in page.text
        # process_request put the visit into the token; the app put it into the template.
        assert "suite-agent/1.0" in page.text
        css = requests.get(f"{stack.bokeh_url}/{name}/static/{name}.css", timeout=30)
        assert css.status_code == 200 and ".app-header" in css.text
        assert f'href="/{name}/static/{name}.css"' in page.text


def test_dashboard_embeds_a_live_session_per_tile(stack):
    page = requests.get(f"{stack.web_url}/dashboard", timeout=30)
    assert page.status_code == 200
    embeds = embedded_sessions(page.text)
    for name, embed in zip(PUBLIC_TILES, embeds, strict=True):
        assert f'id="tile-{name}"' in page.text
        assert embed.app_path == f"/{name}"
        with browser_session(embed) as doc:
            assert doc.select_one({"name": MAIN_PLOT_NAME}) is not None
