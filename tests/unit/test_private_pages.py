"""A private app on the site: pages, gallery, ``/api/apps`` and dashboard tiles, by visitor."""

import pytest

from aperture.session_token import APP_KEY, USER_KEY
from tests.support.bokeh_client import embedded_session
from tests.support.site_accounts import client_login, create_account


@pytest.fixture
def bokeh_up(monitor_reports):
    monitor_reports(True)


def test_anonymous_visitors_of_a_private_app_go_to_login_and_back(client, bokeh_up):
    response = client.get("/apps/portfolio?days=90")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/apps/portfolio?days%3D90"
    create_account(client.application, "alice")
    back = client_login(client, "alice", next_path="/apps/portfolio?days=90")
    assert back.headers["Location"] == "/apps/portfolio?days=90"
    assert client.get(back.headers["Location"]).status_code == 200


def test_the_token_carries_the_visitor_and_is_bound_to_the_app(app, client, bokeh_up):
    create_account(app, "alice")
    client_login(client, "alice")
    page = client.get("/apps/portfolio?days=60").get_data(as_text=True)
    payload = embedded_session(page).payload
    assert payload[USER_KEY] == {"name": "alice", "roles": []}
    assert payload[APP_KEY] == "portfolio"
    assert payload["arguments"] == {"days": [b"60"]}
    anonymous = app.test_client().get("/apps/sliders").get_data(as_text=True)
    assert USER_KEY not in embedded_session(anonymous).payload


def test_bad_arguments_are_a_400_before_the_login_redirect(client):
    assert client.get("/apps/portfolio?days=5").status_code == 400


def test_the_gallery_and_api_mark_what_the_visitor_may_open(app, client):
    page = client.get("/").get_data(as_text=True)
    assert 'data-app="portfolio" data-access="login"' in page
    assert 'data-app="sliders" data-access="open"' in page
    access = {entry["name"]: entry["access"] for entry in client.get("/api/apps").get_json()["apps"]}
    assert access == {"sliders": "open", "iris": "open", "press": "open", "stream": "open", "portfolio": "login"}
    create_account(app, "alice")
    client_login(client, "alice")
    assert {entry["access"] for entry in client.get("/api/apps").get_json()["apps"]} == {"open"}
    assert 'data-app="portfolio" data-access="open"' in client.get("/").get_data(as_text=True)


def test_the_dashboard_tile_of_a_private_app_says_log_in_to_see_it(app, client, bokeh_up):
    page = client.get("/dashboard").get_data(as_text=True)
    assert "“Portfolio” is private: " in page
    assert 'href="/login?next=/dashboard">log in to see it</a>' in page
    create_account(app, "alice")
    client_login(client, "alice")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "log in to see it" not in page
    assert page.count("Bokeh.embed.embed_items") == 4


def test_a_template_call_checks_access_too(app, bokeh_up):
    from flask import render_template_string

    with app.test_request_context("/somewhere?x=1"):
        html = render_template_string('{{ live_app("portfolio", days=90) }}')
    assert "log in to see it" in html and "embed_items" not in html
    assert 'href="/login?next=/somewhere?x%3D1"' in html
