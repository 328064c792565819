"""Every live app's document, built as the Bokeh server builds it and driven without a browser.

(``stream`` has its own file, test_stream_app.py.)
"""

import re

import pytest
from bokeh.core.templates import FILE
from bokeh.embed import file_html
from bokeh.events import ButtonClick
from bokeh.resources import Resources

from aperture.catalog import APPS_DIR, CATALOG, MAIN_PLOT_NAME
from aperture.document_needs import BOKEHJS_BUNDLES, needs_of
from aperture.session_token import token_payload, visit_record
from bkruntime.kit.app_session import SITE_THEME, standalone_page_variables
from bkruntime.kit.lifecycle import AppServerState
from showcase.iris import IrisData
from tests.support.app_documents import KIT_APPS, ServedApp

STANDALONE_TEMPLATE_APPS = ("iris", "sliders")


@pytest.fixture
def serve():
    """``serve(name)`` runs the app's server hooks; every app served is unloaded afterwards."""
    served = []

    def serve_app(name):
        served.append(ServedApp(CATALOG[name]))
        return served[-1]

    yield serve_app
    for app in served:
        app.unload()


def standalone_page(session) -> str:
    """The app's standalone page as Bokeh renders it from the document's template and variables."""
    doc = session.document
    return file_html(
        doc,
        resources=Resources(mode="server", root_url="http://localhost:5006/"),
        template=doc.template,
        template_variables=doc.template_variables,
        suppress_callback_warning=True,
    )


@pytest.mark.parametrize("name", KIT_APPS)
def test_every_app_builds_its_main_plot_in_the_shared_theme(serve, name):
    session = serve(name).open()
    assert session.select(MAIN_PLOT_NAME)
    assert session.document.theme._json == SITE_THEME._json


def test_directory_apps_link_the_one_theme_file():
    for spec in map(CATALOG.get, KIT_APPS):
        if spec.path.is_dir():
            assert (spec.path / "theme.yaml").resolve() == APPS_DIR / "theme.yaml", spec.name


@pytest.mark.parametrize(
    ("name", "query"), [("sliders", "N=1"), ("iris", "bins=x"), ("press", "n=3"), ("stream", "rate=1")]
)
def test_bad_arguments_get_a_message_on_bokehs_plain_page(serve, name, query):
    session = serve(name).open(query)
    assert [root.name for root in session.document.roots] == ["invalid_argument"]
    assert "cannot start" in session.select("invalid_argument").text
    assert session.document.template is FILE


def test_moving_a_slider_reshapes_the_wave(serve):
    session = serve("sliders").open("N=50")
    wave = session.select("wave")
    assert len(wave.data["x"]) == 50 and max(wave.data["y"]) <= 1.0
    session.select("offset").value = 2.0
    assert min(wave.data["y"]) >= 1.0 - 1e-9
    session.select("title_input").value = "retitled"
    assert session.select(MAIN_PLOT_NAME).title.text == "retitled"


def test_iris_widgets_recompute_the_histogram(serve):
    session = serve("iris").open("feature=petal_width&bins=7")
    histogram = session.select("histogram")
    assert len(histogram.data["center"]) == 7
    session.select("feature").value = "sepal_width"
    assert session.select(MAIN_PLOT_NAME).xaxis[0].axis_label == "Sepal width (cm)"
    # The browser sets value while dragging and value_throttled on release, which the app follows.
    bins = session.select("bins")
    bins.value = 20
    assert len(histogram.data["center"]) == 7
    bins.trigger("value_throttled", 7, 20)
    assert len(histogram.data["center"]) == 20


def test_iris_reads_the_data_set_the_server_loaded_once(serve):
    app = serve("iris")
    state = AppServerState.of(app.server_context)
    assert len(state.data) == 150
    # Sessions must use the server's copy: swap in three flowers and a new session counts three.
    three = IrisData(
        measurements={name: values[:3] for name, values in state.data.measurements.items()},
        species=state.data.species[:3],
    )
    state.data = three
    histogram = app.open().select("histogram")
    assert sum(sum(histogram.data[species]) for species in ("setosa", "versicolor", "virginica")) == 3


@pytest.mark.parametrize("name", STANDALONE_TEMPLATE_APPS)
def test_session_hooks_count_sessions_and_the_app_shows_them(serve, name):
    app = serve(name)
    first, second = app.open(), app.open()
    app.close(first)
    third = app.open()
    state = AppServerState.of(app.server_context)
    assert (state.sessions_created, state.sessions_destroyed, state.live_sessions) == (3, 1, 2)
    assert "2 open session(s) of this app, 3 created and 1 ended" in third.select("session_info").text
    assert second.select("session_info")  # the other sessions are untouched


@pytest.mark.parametrize("name", STANDALONE_TEMPLATE_APPS)
def test_process_request_details_reach_the_app_through_the_token(serve, name):
    app = serve(name)
    standalone = app.open(user_agent="<b>Agent 7</b>")
    info = standalone.select("session_info").text
    assert "http://localhost:5006/" + name in info
    assert "&lt;b&gt;Agent 7&lt;/b&gt;" in info and "<b>Agent 7" not in info
    visit = visit_record("http://site.example/apps/" + name, "10.1.2.3", "<i>Site agent</i>")
    embedded = app.open_with_token(token_payload({}, visit=visit)).select("session_info").text
    assert "http://site.example/apps/" + name in embedded
    assert "10.1.2.3" in embedded and "&lt;i&gt;Site agent" in embedded


@pytest.mark.parametrize("name", STANDALONE_TEMPLATE_APPS)
def test_standalone_template_places_the_named_roots_and_its_css(serve, name):
    session = serve(name).open(user_agent="template-test-agent")
    page = standalone_page(session)
    assert '<header class="app-header">' in page
    assert f'<link rel="stylesheet" href="/{name}/static/{name}.css">' in page
    assert (CATALOG[name].path / "static" / f"{name}.css").is_file()
    roots = {root.name: root.id for root in session.document.roots}
    for root_id in roots.values():
        assert f'data-root-id="{root_id}"' in page
    assert "template-test-agent" in page


def test_standalone_template_follows_a_prefix(serve):
    app = serve("iris")
    session = app.open()
    session.context.request.path = "/prefix/iris/"
    standalone_page_variables(session.document, "iris")
    assert session.document.template_variables["static_url"] == "/prefix/iris/static"


def test_pressing_adds_a_number_in_one_data_update(serve):
    session = serve("press").open()
    button, numbers = session.select("press_button"), session.select("numbers")
    changes = []
    numbers.on_change("data", lambda attr, old, new: changes.append(new))
    for _ in range(4):
        session.document.callbacks.trigger_event(ButtonClick(button))
    assert numbers.data["text"] == ["0", "1", "2", "3"]
    assert len(changes) == 4, "each press replaces .data once"
    colours = numbers.data["text_color"]
    assert len(set(colours)) == 3 and colours[0] == colours[3]
    assert all(15 <= value <= 85 for value in numbers.data["x"] + numbers.data["y"])


def test_press_is_a_single_module_app():
    spec = CATALOG["press"]
    assert spec.path.suffix == ".py" and spec.params == ()
    assert re.search(r'^build_app\(curdoc\(\), "press", build\)$', spec.path.read_text(), re.MULTILINE)


def test_a_token_session_takes_its_arguments_and_options_from_the_token_not_the_page_url(serve):
    payload = token_payload({"N": 37}, options={"title": "Chosen by the site"})
    session = serve("sliders").open_with_token(payload, page_query="N=999&bokeh-session-id=x")
    assert len(session.select("wave").data["x"]) == 37
    assert session.select(MAIN_PLOT_NAME).title.text == "Chosen by the site"


@pytest.mark.parametrize("name", KIT_APPS)
def test_every_app_applies_the_title_option(serve, name):
    # As the site mints it: bound to the app (private apps accept no other).
    session = serve(name).open_with_token(token_payload({}, options={"title": "Site title"}, app=name))
    assert session.select(MAIN_PLOT_NAME).title.text == "Site title"


def test_an_empty_title_option_keeps_the_apps_own(serve):
    session = serve("sliders").open_with_token(token_payload({}, options={"title": ""}))
    assert session.select(MAIN_PLOT_NAME).title.text == "my sine wave"


def test_a_bad_option_in_a_token_is_a_message_not_a_traceback(serve):
    session = serve("iris").open_with_token(token_payload({}, options={"title": "x" * 81}))
    assert "title" in session.select("invalid_argument").text


def test_a_pulled_sessions_token_never_builds_a_default_document(serve):
    """The browser's token of a pulled page arrives after its session was discarded."""
    session = serve("sliders").open_with_token(token_payload({"N": 37}, expects_existing=True))
    assert session.document.select_one({"name": "wave"}) is None
    assert "this view has expired" in session.select("session_expired").text


# A declaration, where an app gives one, must be the one its document needs.
@pytest.mark.parametrize("name", [spec.name for spec in CATALOG if spec.kit or spec.bokehjs])
def test_the_catalog_declares_the_bokehjs_bundles_each_document_needs(serve, name):
    """What the self-check finds (``needs_of``) is what the declaration says, and no app runs JS code."""
    needs = needs_of(serve(name).open().document)
    assert needs.bokehjs == tuple(bundle for bundle in BOKEHJS_BUNDLES if bundle in CATALOG[name].bokehjs)
    assert needs.custom_js is False


@pytest.mark.parametrize("name", CATALOG.names)
def test_any_app_builds_its_bundles_are_known_and_it_comes_back_from_its_token(serve, name):
    """Kit app or plain Bokeh app: what every catalog entry gets.

    It builds from a site page's token with its default arguments; the page loads what it needs
    (its declaration, where it gives one, covers what its document holds); after a restart another
    process builds it again from the same token, and the rebuilt document reads back whole from
    the PULL-DOC-REPLY a reconnecting browser gets, binary buffers included.
    """
    from bokeh.core.serialization import Serialized
    from bokeh.document import Document
    from bokeh.protocol import Protocol

    spec = CATALOG[name]
    payload = token_payload(spec.parse_arguments({}), options={}, app=name)
    app = serve(name)
    first = app.open_with_token(payload)
    assert first.document.roots
    needs = needs_of(first.document)
    if spec.bokehjs:
        assert set(needs.bokehjs) <= set(spec.bokehjs)

    again = app.open_with_token(payload).document
    assert [type(root) for root in again.roots] == [type(root) for root in first.document.roots]
    reply = Protocol().create("PULL-DOC-REPLY", "request", again)
    restored = Document.from_json(Serialized(content=reply.content["doc"], buffers=reply.buffers))
    assert len(restored.models) == len(again.models)
    assert needs_of(restored) == needs_of(again)
