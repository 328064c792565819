"""Logs and metrics of the real servers: one line per page view and per refused websocket, JSON
lines with LOG_FORMAT=json, and /metrics on the site and on every Bokeh process."""

import json
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from aperture.session_token import mint_token, new_session_id, token_payload
from tests.support.bokeh_client import EmbeddedSession, browser_session, embedded_session, refused_reason
from tests.support.servers import TEST_BOKEH_SECRET, running_stack
from web.operations.bokeh_stats import process_metrics

WAIT_SECONDS = 30.0
BOKEH_FAMILIES = {
    "aperture_bokeh_open_sessions",
    "aperture_bokeh_sessions_created",
    "aperture_bokeh_sessions_destroyed",
    "aperture_bokeh_document_build_seconds",
    "aperture_bokeh_websocket_messages_received",
    "aperture_bokeh_websocket_messages_sent",
    "aperture_bokeh_websockets_refused",
    "aperture_bokeh_gc_pause_seconds",
    "process_resident_memory_bytes",
}


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} within {WAIT_SECONDS:g} s"
        time.sleep(0.1)
    return result


def lines_with(server, text: str) -> list[str]:
    return [line for line in server.output().splitlines() if text in line]


def scrape(url: str) -> dict:
    """``{(name, labels...): value}`` of one /metrics answer, and its family names under ``None``."""
    response = requests.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    samples = {(s.name, *sorted(s.labels.items())): s.value for f in families for s in f.samples}
    return {None: {family.name for family in families}, **samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, *sorted(labels.items())), 0.0)


def on_process(embed: EmbeddedSession, process_url: str) -> EmbeddedSession:
    """The same session, with its websocket going to one process's own port."""
    return EmbeddedSession(embed.token, embed.app_path, f"{process_url}/{embed.app_path.strip('/')}")


def test_each_page_view_is_one_line_with_its_validated_arguments_and_outcome(stack):
    pages = {
        "/apps/iris?feature=sepal_width&bins=12": "app=iris kind=token arguments.feature=sepal_width arguments.bins=12",
        "/apps/sliders?N=7": "GET /apps/sliders 400 outcome=invalid_argument",
        "/apps/sliders/match?N=71": "app=sliders kind=pull arguments.N=71 process=",
    }
    for path in pages:
        requests.get(stack.web_url + path, timeout=30)
    for path, expected in pages.items():
        (line,) = wait_for(lambda expected=expected: lines_with(stack.web, expected), f"a line for {path}")
        assert " INFO web.request: GET " in line and " duration_ms=" in line
    assert len(lines_with(stack.web, "arguments.feature=sepal_width")) == 1
    # gunicorn's access log is off: the site's line is the only one per request.
    assert not lines_with(stack.web, '"GET /apps/iris?feature=sepal_width')


def test_a_refused_websocket_is_one_line(stack):
    page = requests.get(f"{stack.web_url}/apps/sliders?N=37", timeout=30).text
    # Both refusals reach the same process, so its lines come in order.
    embed = on_process(embedded_session(page), stack.process_urls[0])
    expired = mint_token(new_session_id(TEST_BOKEH_SECRET), TEST_BOKEH_SECRET, -5, token_payload({}))
    forged = mint_token(new_session_id(TEST_BOKEH_SECRET), "another-secret-0123456789abcdef0123456789", 60, {})
    refused_before = value(
        scrape(stack.process_urls[0]), "aperture_bokeh_websockets_refused_total", process="0", reason="expired"
    )
    start = len(stack.bokeh.output().splitlines())
    assert refused_reason(embed, expired) is not None
    assert refused_reason(embed, forged) is not None

    def process_lines():
        return [line for line in stack.bokeh.output().splitlines()[start:] if line.endswith("process=0")]

    wait_for(lambda: any("Invalid token signature" in line for line in process_lines()), "the second refusal's line")
    expired_line, forged_line = process_lines()
    assert (
        "WARNING tornado.application: websocket refused, GET /sliders/ws (127.0.0.1): Token is expired" in expired_line
    )
    assert "reason=expired" in expired_line and "reason=invalid_signature" in forged_line
    refused = value(
        scrape(stack.process_urls[0]), "aperture_bokeh_websockets_refused_total", process="0", reason="expired"
    )
    assert refused == refused_before + 1


def test_the_sites_metrics_add_up_every_worker(stack):
    before = scrape(stack.web_url)
    assert {
        "aperture_web_requests",
        "aperture_web_request_duration_seconds",
        "aperture_web_embeds",
        "aperture_web_embed_duration_seconds",
        "aperture_web_bokeh_unavailable",
    } <= before[None]
    for _ in range(4):  # two workers: some of these reach each
        assert requests.get(f"{stack.web_url}/apps/iris", timeout=30).status_code == 200
    after = scrape(stack.web_url)
    embeds = ("aperture_web_embeds_total", {"app": "iris", "kind": "token"})
    assert value(after, embeds[0], **embeds[1]) == value(before, embeds[0], **embeds[1]) + 4
    views = ("aperture_web_requests_total", {"method": "GET", "endpoint": "live_apps.show", "status": "200"})
    assert value(after, views[0], **views[1]) == value(before, views[0], **views[1]) + 4
    timed = ("aperture_web_request_duration_seconds_count", {"endpoint": "live_apps.show"})
    assert value(after, timed[0], **timed[1]) >= value(before, timed[0], **timed[1]) + 4


def test_every_bokeh_process_answers_its_metrics_on_its_port_and_the_shared_one(stack):
    for index, url in enumerate(stack.process_urls):
        samples = scrape(url)
        assert samples[None] >= BOKEH_FAMILIES
        assert value(samples, "process_resident_memory_bytes", process=str(index)) > 10_000_000
    shared = scrape(stack.bokeh_url)
    assert shared[None] >= BOKEH_FAMILIES
    # The kernel hands the connection to one of the processes; its samples say which.
    answering = {dict(key[1:])["process"] for key in shared if key and key[0] == "process_resident_memory_bytes"}
    assert len(answering) == 1 and answering <= {"0", "1"}


def test_bokeh_metrics_move_when_a_browser_opens_a_session(stack):
    url = stack.process_urls[1]
    page = requests.get(f"{stack.web_url}/apps/iris?bins=7", timeout=30).text
    before = scrape(url)
    with browser_session(on_process(embedded_session(page), url)):
        during = scrape(url)
    labels = {"app": "iris", "process": "1"}
    assert value(during, "aperture_bokeh_open_sessions", **labels) >= 1
    for name, extra in (
        ("aperture_bokeh_sessions_created_total", {}),
        ("aperture_bokeh_document_build_seconds_count", {"outcome": "built"}),
        ("aperture_bokeh_websocket_messages_received_total", {"msgtype": "PULL-DOC-REQ"}),
        ("aperture_bokeh_websocket_messages_sent_total", {"msgtype": "PULL-DOC-REPLY"}),
    ):
        assert value(during, name, **labels, **extra) == value(before, name, **labels, **extra) + 1, name
    # The admin view reads the same numbers through its own parser.
    builds = value(during, "aperture_bokeh_document_build_seconds_count", **labels, outcome="built")
    assert process_metrics(url, 10)["apps"]["iris"]["document_builds"] == builds


METRICS_TOKEN = "scraper-token-0123456789"


@pytest.fixture(scope="module")
def json_stack():
    """One Bokeh process, JSON log lines, and /metrics only for a scraper with the token."""
    with running_stack(processes=1, LOG_FORMAT="json", METRICS_BEARER_TOKEN=METRICS_TOKEN) as live:
        yield live


def json_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.output().splitlines() if line.strip()]


def test_json_lines_on_both_sides(json_stack):
    page = requests.get(f"{json_stack.web_url}/apps/iris?feature=petal_width", timeout=30).text
    embed = embedded_session(page)
    expired = mint_token(new_session_id(TEST_BOKEH_SECRET), TEST_BOKEH_SECRET, -5, token_payload({}))
    assert refused_reason(embed, expired) is not None

    def page_view():
        return [entry for entry in json_lines(json_stack.web) if entry.get("path") == "/apps/iris"]

    (entry,) = wait_for(page_view, "the page view's JSON line")
    assert entry["logger"] == "web.request" and entry["status"] == 200 and entry["outcome"] == "ok"
    assert entry["app"] == "iris" and entry["kind"] == "token"
    assert entry["arguments"] == {"feature": "petal_width", "bins": 10}
    assert any(entry.get("logger") == "gunicorn.error" for entry in json_lines(json_stack.web))

    def refusal():
        return [entry for entry in json_lines(json_stack.bokeh) if entry.get("event") == "websocket_refused"]

    (entry,) = wait_for(refusal, "the refusal's JSON line")
    assert entry["reason"] == "expired" and entry["process"] == 0 and entry["level"] == "WARNING"
    assert any(entry.get("logger") == "bkruntime.supervisor" for entry in json_lines(json_stack.bokeh))


def test_with_a_token_metrics_answer_only_the_scraper_that_sends_it(json_stack):
    (process_url,) = json_stack.process_urls
    for url in (json_stack.web_url, process_url, json_stack.bokeh_url):
        refused = requests.get(f"{url}/metrics", timeout=30)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        scraped = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
        assert scraped.status_code == 200 and "aperture_" in scraped.text
    # The admin view sends it too.
    assert process_metrics(process_url, 10) is None
    assert "iris" in process_metrics(process_url, 10, METRICS_TOKEN)["apps"]
