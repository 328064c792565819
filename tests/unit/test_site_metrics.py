"""The site's /metrics (web.operations.metrics), in one process (no PROMETHEUS_MULTIPROC_DIR)."""

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_answer_prometheus_text_with_the_sites_families(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    assert response.headers["Cache-Control"] == "no-store"
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {
        "aperture_web_requests",
        "aperture_web_request_duration_seconds",
        "aperture_web_embeds",
        "aperture_web_embed_duration_seconds",
        "aperture_web_bokeh_unavailable",
    } <= names


def test_requests_are_counted_by_endpoint_and_status(client):
    before = value("aperture_web_requests_total", method="GET", endpoint="live_apps.show", status="404")
    timed = value("aperture_web_request_duration_seconds_count", endpoint="live_apps.show")
    client.get("/apps/nope")
    assert value("aperture_web_requests_total", method="GET", endpoint="live_apps.show", status="404") == before + 1
    assert value("aperture_web_request_duration_seconds_count", endpoint="live_apps.show") == timed + 1


def test_embeds_are_counted_by_app_and_path(client, monitor_reports):
    monitor_reports(True)
    before = value("aperture_web_embeds_total", app="iris", kind="token")
    timed = value("aperture_web_embed_duration_seconds_count", kind="token")
    client.get("/apps/iris")
    client.get("/dashboard")
    assert value("aperture_web_embeds_total", app="iris", kind="token") == before + 2
    assert value("aperture_web_embed_duration_seconds_count", kind="token") == timed + 4


def test_bokeh_unavailable_is_counted_per_app(client, monitor_reports):
    monitor_reports(False, "the Bokeh server cannot be reached")
    before = value("aperture_web_bokeh_unavailable_total", app="sliders", kind="token")
    embeds = value("aperture_web_embeds_total", app="sliders", kind="token")
    assert client.get("/apps/sliders").status_code == 503
    assert value("aperture_web_bokeh_unavailable_total", app="sliders", kind="token") == before + 1
    assert value("aperture_web_embeds_total", app="sliders", kind="token") == embeds


def test_with_a_token_only_a_scraper_that_sends_it_gets_an_answer(app, client):
    app.config["METRICS_BEARER_TOKEN"] = "scraper-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", headers={"Authorization": "Bearer another"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scraper-token"}).status_code == 200
