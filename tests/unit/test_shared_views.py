"""Shared views: the session id a view derives, the tokens every viewer gets, the document built
from them, and the Bokeh internals the viewer count relies on."""

import re

import pytest
from bokeh.util.token import check_session_id_signature, get_session_id, get_token_payload
from flask import render_template_string

from aperture.catalog import CATALOG, AppSpec, ConfiguredCatalog
from aperture.session_token import SHARED_KEY, USER_KEY, VISIT_KEY, shared_session_id, token_payload
from bkruntime import shared_views
from bkruntime.shared_views import VIEWERS_MODEL_NAME, viewer_count_model
from tests.support.app_documents import ServedApp
from tests.support.apps_folder import PLAIN_ENTRY, write_apps_folder
from tests.support.bokeh_client import embedded_session, embedded_sessions
from tests.support.servers import TEST_BOKEH_SECRET


def test_a_view_derives_one_session_id_that_bokeh_accepts_as_signed():
    session_id = shared_session_id(TEST_BOKEH_SECRET, "stream", {"rate": 500, "window": 120}, {"title": ""})
    assert session_id == shared_session_id(TEST_BOKEH_SECRET, "stream", {"window": 120, "rate": 500}, {"title": ""})
    assert check_session_id_signature(session_id, secret_key=TEST_BOKEH_SECRET.encode(), signed=True)
    assert not check_session_id_signature(session_id, secret_key=b"another-key-0123456789abcdef01234567", signed=True)


@pytest.mark.parametrize(
    ("app", "arguments", "options", "secret"),
    [
        ("stream", {"rate": 250, "window": 120}, {"title": ""}, TEST_BOKEH_SECRET),
        ("stream", {"rate": 500, "window": 120}, {"title": "Wall"}, TEST_BOKEH_SECRET),
        ("sliders", {"rate": 500, "window": 120}, {"title": ""}, TEST_BOKEH_SECRET),
        ("stream", {"rate": 500, "window": 120}, {"title": ""}, "another-secret-0123456789abcdef0123"),
    ],
)
def test_any_other_view_or_key_gives_another_session(app, arguments, options, secret):
    view = shared_session_id(TEST_BOKEH_SECRET, "stream", {"rate": 500, "window": 120}, {"title": ""})
    assert shared_session_id(secret, app, arguments, options) != view


def test_sharing_is_declared_in_the_catalog_and_checked():
    assert CATALOG["stream"].sharing == "shared" and CATALOG["stream"].shared
    assert {spec.sharing for spec in CATALOG if spec.name != "stream"} == {"per_visitor"}
    with pytest.raises(ValueError, match="sharing must be one of"):
        AppSpec(name="x", title="X", description="", source="x", sharing="everyone")


@pytest.fixture
def bokeh_up(monitor_reports):
    monitor_reports(True)


def page_session(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.text
    return embedded_session(response.text), response.text


def test_every_viewer_of_a_shared_app_gets_a_token_for_one_session(client, bokeh_up):
    first, page = page_session(client, "/apps/stream")
    second, _ = page_session(client, "/apps/stream?rate=500")  # the default, spelled out
    assert first.session_id == second.session_id
    assert 'data-shared="true"' in page
    payload = first.payload
    assert payload[SHARED_KEY] is True and payload["app"] == "stream"
    # A shared document is everyone's: no viewer's page request goes into it.
    assert VISIT_KEY not in payload


def test_different_arguments_or_options_are_different_views(client, bokeh_up):
    plain, _ = page_session(client, "/apps/stream")
    faster, _ = page_session(client, "/apps/stream?rate=250")
    assert plain.session_id != faster.session_id
    # The dashboard's tile has no page title: a view of its own.
    dashboard = client.get("/dashboard").text
    (tile,) = [embed for embed in embedded_sessions(dashboard) if embed.app_path.endswith("/stream")]
    assert tile.session_id not in (plain.session_id, faster.session_id)
    assert tile.session_id == embedded_session(client.get("/dashboard").text.split('id="tile-iris"')[0]).session_id


def test_per_visitor_apps_keep_a_session_per_page_view(client, bokeh_up):
    first, page = page_session(client, "/apps/sliders")
    second, _ = page_session(client, "/apps/sliders")
    assert first.session_id != second.session_id
    assert "data-shared" not in page and SHARED_KEY not in first.payload


def render(app, source):
    with app.test_request_context("/"):
        return render_template_string(source)


def test_a_page_may_share_a_per_visitor_apps_view(app, bokeh_up):
    html = render(app, '{{ live_app("sliders", shared=True, N=50) }}{{ live_app("sliders", shared=True, N=50) }}')
    first, second = embedded_sessions(html)
    assert first.session_id == second.session_id and first.payload[SHARED_KEY] is True


def test_a_page_cannot_embed_a_shared_apps_view_per_visitor(app, bokeh_up):
    html = render(app, '{{ live_app("stream", shared=False) }}')
    assert "its views are shared, not per visitor" in html and "embed_items" not in html


@pytest.fixture
def served():
    apps = []

    def serve(name):
        apps.append(ServedApp(CATALOG[name]))
        return apps[-1]

    yield serve
    for app in apps:
        app.unload()


def test_a_shared_document_counts_its_viewers_and_never_sees_one(served):
    user = {"name": "alice", "roles": ["admin"]}
    payload = token_payload({"days": 90}, user=user, app="portfolio", shared=True)
    session = served("portfolio").open_with_token(payload)
    assert viewer_count_model(session.document).data == {"viewers": [0]}
    texts = " ".join(str(getattr(model, "text", "")) for model in session.document.models)
    assert "alice" not in texts
    # The same app per visitor greets its visitor and has no count.
    own = served("portfolio").open_with_token(token_payload({"days": 90}, user=user, app="portfolio"))
    assert viewer_count_model(own.document) is None
    assert "alice" in " ".join(str(getattr(model, "text", "")) for model in own.document.models)


def test_a_plain_bokeh_apps_shared_view_counts_its_viewers_too(tmp_path):
    # No kit: the runtime adds the count around any app, as the Bokeh process does.
    folder = write_apps_folder(tmp_path, PLAIN_ENTRY)
    spec = ConfiguredCatalog({"APERTURE_APPS": str(folder)}).load()["plain"]
    assert not spec.kit
    app = ServedApp(spec)
    try:
        shared = app.open_with_token(token_payload({}, app="plain", shared=True))
        assert viewer_count_model(shared.document).data == {"viewers": [0]}
        assert viewer_count_model(app.open_with_token(token_payload({}, app="plain")).document) is None
    finally:
        app.unload()


def test_the_viewer_count_hook_installs_on_this_bokeh(monkeypatch):
    from bokeh.server.session import ServerSession

    # Restored afterwards: the rest of the process keeps Bokeh's own methods.
    monkeypatch.setattr(ServerSession, "subscribe", ServerSession.subscribe)
    monkeypatch.setattr(ServerSession, "unsubscribe", ServerSession.unsubscribe)
    # Fails when a Bokeh upgrade moves ServerSession.subscribe/unsubscribe: update the module.
    assert shared_views.install()
    assert shared_views.install()  # once only


class FakeSession:
    """Enough of Bokeh's ServerSession for refresh_count."""

    def __init__(self, document, connections):
        self.document, self.destroyed, self.id = document, False, "x" * 40
        self._subscribed_connections = {object() for _ in range(connections)}


def test_refresh_sets_the_count_only_when_it_changed(served):
    session = served("stream").open_with_token(token_payload({}, app="stream", shared=True))
    model = session.document.select_one({"name": VIEWERS_MODEL_NAME})
    fake = FakeSession(session.document, 3)
    before = len(session.events)
    shared_views.refresh_count(fake)
    assert model.data == {"viewers": [3]} and len(session.events) == before + 1
    shared_views.refresh_count(fake)
    assert len(session.events) == before + 1


def test_the_token_names_no_session_a_page_could_choose():
    # The id comes from the key and the view only; the payload is what the site validated.
    session_id = shared_session_id(TEST_BOKEH_SECRET, "stream", {"rate": 500, "window": 120}, {"title": ""})
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}", session_id)
    assert USER_KEY not in token_payload({}, shared=True)
    assert get_session_id is not None and get_token_payload is not None


def test_the_wall_shows_shared_views_without_the_sites_chrome(client, bokeh_up):
    response = client.get("/wall")
    assert response.status_code == 200
    assert 'class="site-header"' not in response.text and 'data-live-renew="reload"' in response.text
    embeds = embedded_sessions(response.text)
    assert [embed.app_path for embed in embeds] == ["/stream", "/iris", "/sliders"]
    assert response.text.count('data-shared="true"') == 3
    assert all(embed.payload[SHARED_KEY] for embed in embeds)
    # Every wall shows the same documents.
    again = embedded_sessions(client.get("/wall").text)
    assert [embed.session_id for embed in again] == [embed.session_id for embed in embeds]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_wall_tries_again_by_itself_while_bokeh_is_down(client, monitor_reports, bokeh_up):
    assert 'http-equiv="refresh"' not in client.get("/wall").text
    monitor_reports(False, "connection refused")
    wall = client.get("/wall")
    assert wall.status_code == 200 and "is unavailable: connection refused" in wall.text
    assert '<meta http-equiv="refresh" content="10">' in wall.text


def test_the_wall_takes_no_arguments(client, bokeh_up):
    assert client.get("/wall?rate=5").status_code == 400


def test_the_dashboards_stream_tile_is_a_shared_view(client, bokeh_up):
    page = client.get("/dashboard").text
    tiles = {embed.app_path: embed for embed in embedded_sessions(page)}
    assert tiles["/stream"].payload.get(SHARED_KEY) is True
    assert SHARED_KEY not in tiles["/sliders"].payload
