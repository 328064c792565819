"""The JSON API with the Flask test client (the Bokeh server is not running here)."""

import pytest

from aperture.catalog import CATALOG
from aperture.params import describe
from showcase.iris import SPECIES, histogram, shared_iris
from web import create_app


def test_apps_lists_the_catalog_with_parameters_and_addresses(client):
    response = client.get("/api/apps")
    assert response.status_code == 200
    apps = response.get_json()["apps"]
    assert [entry["name"] for entry in apps] == CATALOG.names
    iris = apps[CATALOG.names.index("iris")]
    assert iris["title"] == CATALOG["iris"].title
    assert iris["params"] == [describe(param) for param in CATALOG["iris"].params]
    assert iris["page_url"] == "/apps/iris"
    assert iris["standalone_url"] == "http://localhost:5006/iris"


def test_histogram_gives_the_numbers_of_the_shared_data_module(client):
    response = client.get("/api/iris/histogram?feature=petal_length&bins=7")
    assert response.status_code == 200
    body = response.get_json()
    expected = histogram(shared_iris(), "petal_length", 7)
    assert body == {
        "feature": "petal_length",
        "label": "Petal length (cm)",
        "bins": 7,
        "species": list(SPECIES),
        "edges": expected.edges,
        "counts": expected.counts,
    }


def test_histogram_defaults_are_the_live_apps(client):
    body = client.get("/api/iris/histogram").get_json()
    assert (body["feature"], body["bins"]) == ("sepal_length", 10)


@pytest.mark.parametrize(
    ("query", "argument", "message"),
    [
        ("feature=colour", "feature", "feature: must be one of sepal_length, sepal_width, petal_length, petal_width"),
        ("bins=2", "bins", "bins: must be an integer from 3 to 50, not 2"),
        ("bins=ten", "bins", "bins: must be an integer from 3 to 50, not 'ten'"),
        ("bins=5&bins=6", "bins", "bins: is given more than once"),
        ("colour=red", "colour", "colour: is not an argument of this app (it takes: feature, bins)"),
    ],
)
def test_bad_histogram_arguments_are_a_400_json_naming_them(client, query, argument, message):
    # Even a browser that prefers HTML gets JSON from the API.
    response = client.get(f"/api/iris/histogram?{query}", headers={"Accept": "text/html"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["argument"] == argument
    assert body["message"].startswith(message)
    assert body["status"] == 400


def test_signal_answers_the_ticks_after_the_cursor_and_is_never_cached(client):
    latest = client.get("/api/stream/signal?limit=5")
    assert latest.headers["Cache-Control"] == "no-store"
    ticks = latest.get_json()["tick"]
    assert len(ticks) == 5
    assert ticks == list(range(ticks[0], ticks[0] + 5))
    after = client.get(f"/api/stream/signal?after={ticks[1]}").get_json()
    assert after["tick"][:3] == ticks[2:]
    assert set(after) == {"tick", "time", "value"}


def test_signal_is_the_same_from_any_worker(client, app):
    other_worker = create_app(app.config).test_client()
    first = client.get("/api/stream/signal?limit=20").get_json()
    again = other_worker.get(f"/api/stream/signal?after={first['tick'][0] - 1}").get_json()
    overlap = len(first["tick"])
    assert again["tick"][:overlap] == first["tick"]
    assert again["value"][:overlap] == first["value"]


@pytest.mark.parametrize(
    ("query", "argument"),
    [("after=-1", "after"), ("after=soon", "after"), ("limit=0", "limit"), ("limit=100000", "limit"), ("x=1", "x")],
)
def test_bad_signal_arguments_are_a_400_json(client, query, argument):
    response = client.get(f"/api/stream/signal?{query}")
    assert response.status_code == 400
    assert response.get_json()["argument"] == argument
