"""``/standalone/<app>``: the site's way into an app on the Bokeh server by itself."""

from urllib.parse import parse_qs, urlsplit

from bokeh.util.token import check_session_id_signature

from tests.support.servers import TEST_BOKEH_SECRET
from tests.support.site_accounts import client_login, create_account
from web import create_app


def test_signed_mode_sends_the_visitor_to_the_bokeh_url_with_the_checked_arguments(client):
    response = client.get("/standalone/iris?bins=12")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://localhost:5006/iris?bins=12"
    assert client.get("/standalone/iris?bins=500").status_code == 400
    assert client.get("/standalone/nope").status_code == 404


def test_private_apps_need_the_login_first(app, client):
    assert (
        client.get("/standalone/portfolio?days=60").headers["Location"] == "/login?next=/standalone/portfolio?days%3D60"
    )
    create_account(app, "alice")
    client_login(client, "alice")
    assert client.get("/standalone/portfolio?days=60").headers["Location"] == "http://localhost:5006/portfolio?days=60"


def test_external_signed_mode_mints_a_signed_session_id_and_links_there(app):
    site = create_app({**app.config, "BOKEH_SESSION_IDS": "external-signed"})
    client = site.test_client()
    location = urlsplit(client.get("/standalone/sliders?N=30").headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/sliders" and query["N"] == ["30"]
    session_id = query["bokeh-session-id"][0]
    assert check_session_id_signature(session_id, secret_key=TEST_BOKEH_SECRET.encode(), signed=True)
    assert 'href="/standalone/sliders"' in client.get("/").get_data(as_text=True)
