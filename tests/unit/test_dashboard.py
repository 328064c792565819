"""``/dashboard`` with the Flask test client: tiles, and tiles whose app is unavailable."""

from markupsafe import Markup

from web import dashboard
from web.embed import BokehUnavailable, LiveEmbed


def test_dashboard_is_in_the_navigation(client):
    assert 'href="/dashboard">Dashboard</a>' in client.get("/").get_data(as_text=True)


def test_bokeh_down_still_renders_every_tile_saying_why(client):
    response = client.get("/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name in dashboard.DASHBOARD_APPS:
        assert f'id="tile-{name}"' in page
    assert page.count("the Bokeh server cannot be reached") == len(dashboard.DASHBOARD_APPS)
    assert 'class="site-header"' in page


def test_one_failing_app_leaves_the_other_tiles_live(client, monkeypatch):
    def embed(spec, arguments, customize=None):
        if spec.name == "iris":
            raise BokehUnavailable(spec.title, "the Bokeh server did not answer within 2 s")
        # A stand-in script, so the page shows which tiles got one.
        script = Markup("<script>/*{}*/</script>").format(spec.name)
        return LiveEmbed(spec=spec, session_id=f"id-{spec.name}", script=script)

    monkeypatch.setattr(dashboard.bokeh_embed, "embed", embed)
    response = client.get("/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<script>/*stream*/</script>" in page and "<script>/*sliders*/</script>" in page
    assert "<script>/*iris*/</script>" not in page
    assert "The live app “Iris” is unavailable: the Bokeh server did not answer within 2 s." in page


def test_tiles_are_created_with_each_apps_default_arguments(client, monkeypatch):
    seen = {}

    def embed(spec, arguments, customize=None):
        seen[spec.name] = (arguments, customize)
        return LiveEmbed(spec=spec, session_id="x", script=Markup(""))

    monkeypatch.setattr(dashboard.bokeh_embed, "embed", embed)
    assert client.get("/dashboard").status_code == 200
    assert seen["stream"] == ({"rate": 500, "window": 120}, None)
    assert seen["iris"] == ({"feature": "sepal_length", "bins": 10}, None)
    assert set(seen) == set(dashboard.DASHBOARD_APPS)
