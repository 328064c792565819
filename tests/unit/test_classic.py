"""The classic pages with the Flask test client; the Bokeh server is down, as it is here."""

import json
import re

import pytest

from showcase.iris import histogram, shared_iris

SCRIPT_SRC = re.compile(r'<script src="([^"]+)"')
DOCS_JSON = re.compile(r"const docs_json = '(.*?)';")


def page_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def embedded_models(page: str) -> dict[str, dict]:
    """The models of the page's ``components()`` document that have a name, by name."""
    docs = json.loads(DOCS_JSON.search(page).group(1).replace("\\\\", "\\"))
    named = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "name" in node.get("attributes", {}):
                named[node["attributes"]["name"]] = node["attributes"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(docs)
    return named


def test_iris_page_embeds_the_histogram_of_the_shared_data(client):
    page = page_of(client, "/classic/iris?feature=petal_width&bins=7")
    assert 'class="site-header"' in page
    assert '<option value="petal_width" selected>Petal width (cm)</option>' in page
    assert 'name="bins" id="bins" value="7"' in page
    source = embedded_models(page)["histogram"]["data"]["entries"]
    columns = dict(source)
    expected = histogram(shared_iris(), "petal_width", 7)
    assert columns["center"] == pytest.approx(expected.centers)
    assert columns["setosa"] == expected.counts["setosa"]


def test_iris_page_defaults_to_the_live_apps_defaults(client):
    page = page_of(client, "/classic/iris")
    assert '<option value="sepal_length" selected>' in page
    assert 'name="bins" id="bins" value="10"' in page
    assert 'min="3" max="50"' in page


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("feature=colour", "feature: must be one of"),
        ("bins=51", "bins: must be an integer from 3 to 50, not 51"),
        ("bins=", "bins: must be an integer from 3 to 50, not &#39;&#39;"),
        ("feature_name=petal_width", "feature_name: is not an argument of this app"),
    ],
)
def test_invalid_iris_input_is_the_sites_400_page(client, query, fragment):
    response = client.get(f"/classic/iris?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "400 · Invalid request" in page
    assert fragment in page


def test_stream_page_polls_the_signal_api_with_get_in_both_modes(client):
    page = page_of(client, "/classic/stream")
    models = embedded_models(page)
    append, replace = models["stream_append"], models["stream_replace"]
    assert (append["mode"], append["method"], append["polling_interval"]) == ("append", "GET", 1000)
    assert append["max_size"] == 240
    assert re.fullmatch(r"/api/stream/signal\?after=\d+", append["data_url"])
    assert "adapter" in append
    assert (replace.get("mode", "replace"), replace["method"]) == ("replace", "GET")
    assert replace["data_url"] == "/api/stream/signal?limit=60"
    # The first poll of the append plot asks for the last 10 s, which the API gives.
    first_poll = client.get(append["data_url"]).get_json()
    assert 18 <= len(first_poll["tick"]) <= 22


def test_stream_page_refuses_arguments(client):
    assert client.get("/classic/stream?after=1").status_code == 400


@pytest.mark.parametrize("url", ["/classic/iris", "/classic/stream"])
def test_classic_pages_load_bokehjs_from_this_site_only(client, url):
    page = page_of(client, url)
    scripts = SCRIPT_SRC.findall(page)
    assert scripts, "no BokehJS script tag"
    for src in scripts:
        # BokehJS, and the site's own header script.
        assert src.startswith("/bokehjs/") or src == "/static/site_menu.js", src
        assert client.get(src).status_code == 200
    assert "cdn.bokeh.org" not in page
    assert "http://localhost:5006" not in page  # nor from the Bokeh server


def test_gallery_and_navigation_link_the_classic_pages(client):
    page = page_of(client, "/")
    assert page.count('href="/classic/iris"') == 2  # the nav and the gallery section
    assert page.count('href="/classic/stream"') == 2
    assert 'href="/api/apps"' in page
