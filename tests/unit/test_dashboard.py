"""``/dashboard`` with the Flask test client: tiles, and tiles whose app is unavailable."""

from aperture.catalog import CATALOG

# What an anonymous visitor's dashboard embeds; a private app's tile says to log in instead.
DASHBOARD_APPS = [view.app for view in CATALOG.page_views("dashboard")]
PUBLIC_TILES = [name for name in DASHBOARD_APPS if CATALOG[name].public]


def test_dashboard_is_in_the_navigation(client):
    assert 'href="/dashboard">Dashboard</a>' in client.get("/").get_data(as_text=True)


def test_bokeh_down_still_renders_every_tile_saying_why(client):
    response = client.get("/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name in DASHBOARD_APPS:
        assert f'id="tile-{name}"' in page
    assert page.count("is unavailable: the Bokeh server cannot be reached") == len(PUBLIC_TILES)
    assert 'class="site-header"' in page


def test_tiles_embed_each_app_with_its_defaults_and_bokehjs_once(client, monitor_reports):
    monitor_reports(True)
    page = client.get("/dashboard").get_data(as_text=True)
    assert page.count("Bokeh.embed.embed_items") == len(PUBLIC_TILES)
    assert page.count("/static/js/bokeh.min.js") == 1
    assert page.count("bokeh-tables.min.js") == 1, "stream needs tables"
    assert "live-app-unavailable" not in page


def test_dashboard_refuses_unknown_arguments(client):
    assert client.get("/dashboard?N=1000").status_code == 400
