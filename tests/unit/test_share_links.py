"""Share links with the Flask test client: publish, open logged out, list, revoke."""

import re

import pytest

from aperture.session_token import APP_KEY, USER_KEY
from tests.support.bokeh_client import embedded_session
from tests.support.site_accounts import client_login, create_account, csrf_token


@pytest.fixture
def alice(app, client, monitor_reports):
    monitor_reports(True)
    create_account(app, "alice")
    client_login(client, "alice")
    return client


def share(client, app_name, query):
    token = csrf_token(client.get("/").get_data(as_text=True))
    return client.post("/s", data={"csrf_token": token, "app": app_name, "query": query})


def link_path(client) -> str:
    return re.search(r'href="(/s/[A-Za-z0-9_-]+)"', client.get("/links").get_data(as_text=True)).group(1)


def test_an_app_page_offers_signed_in_visitors_to_share_the_view(alice, app):
    page = alice.get("/apps/iris?feature=petal_width&bins=7").get_data(as_text=True)
    assert 'name="query" value="feature=petal_width&amp;bins=7"' in page
    assert "Share this view" not in app.test_client().get("/apps/iris").get_data(as_text=True)


def test_a_shared_view_opens_logged_out_with_its_arguments_and_the_viewers_identity(alice, app):
    response = share(alice, "iris", "feature=petal_width&bins=7")
    assert response.status_code == 302 and response.headers["Location"] == "/links"
    path = link_path(alice)
    assert len(path.removeprefix("/s/")) >= 40, "32 random bytes, base64"
    viewer = app.test_client()
    opened = viewer.get(path)
    assert opened.status_code == 200
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    payload = embedded_session(opened.get_data(as_text=True)).payload
    assert payload["arguments"] == {"feature": [b"petal_width"], "bins": [b"7"]}
    assert payload[APP_KEY] == "iris"
    assert USER_KEY not in payload, "the owner's identity is not shared"
    assert "shared by <b>alice</b>" in opened.get_data(as_text=True)


def test_a_private_apps_shared_view_opens_for_anyone(alice, app):
    share(alice, "portfolio", "days=90")
    opened = app.test_client().get(link_path(alice))
    assert opened.status_code == 200
    assert embedded_session(opened.get_data(as_text=True)).payload[APP_KEY] == "portfolio"


def test_revoking_stops_the_link(alice, app):
    share(alice, "sliders", "N=50")
    path = link_path(alice)
    link_id = re.search(r'action="/links/(\d+)/revoke"', alice.get("/links").get_data(as_text=True)).group(1)
    assert alice.post(f"/links/{link_id}/revoke").status_code == 400, "CSRF token required"
    assert app.test_client().get(path).status_code == 200
    token = csrf_token(alice.get("/links").get_data(as_text=True))
    assert alice.post(f"/links/{link_id}/revoke", data={"csrf_token": token}).status_code == 302
    gone = app.test_client().get(path)
    assert gone.status_code == 410
    assert "revoked" in gone.get_data(as_text=True)


def test_only_the_owner_revokes(alice, app):
    share(alice, "sliders", "")
    link_id = re.search(r'action="/links/(\d+)/revoke"', alice.get("/links").get_data(as_text=True)).group(1)
    create_account(app, "mallory")
    mallory = app.test_client()
    client_login(mallory, "mallory")
    token = csrf_token(mallory.get("/links").get_data(as_text=True))
    assert mallory.post(f"/links/{link_id}/revoke", data={"csrf_token": token}).status_code == 404
    assert app.test_client().get(link_path(alice)).status_code == 200


@pytest.mark.parametrize(
    ("app_name", "query", "status"),
    [("iris", "bins=500", 400), ("iris", "colour=red", 400), ("nope", "", 404), ("", "", 400)],
)
def test_bad_shares_are_refused(alice, app_name, query, status):
    assert share(alice, app_name, query).status_code == status


def test_sharing_needs_a_login_and_the_csrf_token(app, client):
    assert client.post("/s", data={"app": "iris", "query": ""}).status_code == 400
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/s", data={"csrf_token": token, "app": "iris", "query": ""})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ["/s/unknown-token-unknown-token-unknown", "/s/x", "/s/%3Cscript%3E"])
def test_unknown_links_are_a_404(client, path):
    assert client.get(path).status_code == 404
