"""Token and pull paths over two Bokeh processes: arguments, options and changes always kept.

Sessions are opened the way BokehJS opens them, with the token the page carries; a stack of its
own discards unused sessions within about a second, for browsers that come late.
"""

import time

import pytest
import requests
from bokeh.util.token import get_token_payload

from aperture.catalog import MAIN_PLOT_NAME
from aperture.session_token import mint_token, new_session_id, token_payload
from tests.support.bokeh_client import browser_session, embedded_session, refused_reason
from tests.support.servers import TEST_BOKEH_SECRET, running_stack
from web.embedding import bokeh_pull

LOADS = 20
WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def quick_expiry_stack():
    with running_stack(
        processes=2, BOKEH_UNUSED_SESSION_LIFETIME_MS="800", BOKEH_CHECK_UNUSED_SESSIONS_MS="300"
    ) as live:
        yield live


def open_sessions(stack, app: str) -> int:
    return sum(requests.get(f"{url}/healthz", timeout=10).json()["sessions"][app] for url in stack.process_urls)


def wait_until_no_sessions(stack, app: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while open_sessions(stack, app) > 0:
        assert time.monotonic() < deadline, f"{app} sessions were not discarded within {WAIT_SECONDS:g} s"
        time.sleep(0.1)


def points(doc) -> int:
    return len(doc.select_one({"name": "wave"}).data["x"])


def test_token_pages_keep_arguments_and_options_over_two_processes(stack):
    for _ in range(LOADS):
        page = requests.get(f"{stack.web_url}/apps/sliders?N=37", timeout=30).text
        with browser_session(embedded_session(page)) as doc:
            assert points(doc) == 37
            assert doc.select_one({"name": MAIN_PLOT_NAME}).title.text == "Sliders — served by Flask"


def test_any_process_builds_the_same_token_session(stack):
    page = requests.get(f"{stack.web_url}/apps/iris?feature=petal_length&bins=9", timeout=30).text
    embed = embedded_session(page)
    for url in stack.process_urls:
        with browser_session(embed, websocket_url=url.replace("http", "ws") + "/iris/ws") as doc:
            assert doc.select_one({"name": "feature"}).value == "petal_length"
            assert len(doc.select_one({"name": "histogram"}).data["center"]) == 9


def test_pulled_pages_keep_their_change_over_two_processes(stack):
    processes = set()
    for _ in range(LOADS):
        response = requests.get(f"{stack.web_url}/apps/sliders/match?N=60", timeout=30)
        assert response.status_code == 200, response.text
        embed = embedded_session(response.text)
        # The browser is sent to the process that built the session, on its own port.
        assert embed.absolute_url.removesuffix("/sliders") in stack.process_urls
        processes.add(embed.absolute_url)
        with browser_session(embed) as doc:
            target = doc.select_one({"name": "target_wave"})
            assert target is not None, "the change Flask made is missing"
            assert len(target.data["x"]) == 60 and points(doc) == 60
            assert doc.select_one({"name": MAIN_PLOT_NAME}).title.text == "Match the dashed wave"
    assert len(processes) == 2, "pulls are spread over both processes"


def test_a_late_browser_gets_the_same_token_session(quick_expiry_stack):
    stack = quick_expiry_stack
    page = requests.get(f"{stack.web_url}/apps/sliders?N=41", timeout=30).text
    embed = embedded_session(page)
    with browser_session(embed) as doc:
        assert points(doc) == 41
    wait_until_no_sessions(stack, "sliders")
    with browser_session(embed) as doc:
        assert points(doc) == 41
        assert doc.select_one({"name": MAIN_PLOT_NAME}).title.text == "Sliders — served by Flask"


def test_a_late_browser_of_a_pulled_page_gets_a_notice_not_a_default_view(quick_expiry_stack):
    stack = quick_expiry_stack
    page = requests.get(f"{stack.web_url}/apps/sliders/match?N=60", timeout=30).text
    wait_until_no_sessions(stack, "sliders")
    with browser_session(embedded_session(page)) as doc:
        assert doc.select_one({"name": "wave"}) is None
        assert "this view has expired" in doc.select_one({"name": "session_expired"}).text


def tampered(token: str) -> str:
    """The token with N changed in its payload and the original signature kept."""
    import base64
    import json
    import zlib

    body, signature = token.split(".", 1)
    outer = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    inner = json.loads(
        zlib.decompress(base64.urlsafe_b64decode(outer["__bk__zlib_"] + "=" * (-len(outer["__bk__zlib_"]) % 4)))
    )
    # Bokeh's JSON for bytes values.
    inner["arguments"] = {"N": [{"bytes": base64.urlsafe_b64encode(b"2000").decode()}]}
    packed = zlib.compress(json.dumps(inner).encode())
    outer["__bk__zlib_"] = base64.urlsafe_b64encode(packed).decode().rstrip("=")
    return base64.urlsafe_b64encode(json.dumps(outer).encode()).decode().rstrip("=") + "." + signature


def test_forged_tampered_and_expired_tokens_are_refused(stack):
    page = requests.get(f"{stack.web_url}/apps/sliders?N=37", timeout=30).text
    embed = embedded_session(page)
    assert refused_reason(embed) is None
    forgery = tampered(embed.token)
    assert get_token_payload(forgery)["arguments"] == {"N": [b"2000"]}, "a well-formed token, only its payload changed"
    assert refused_reason(embed, forgery) is not None
    forged = mint_token(new_session_id(TEST_BOKEH_SECRET), "another-secret-0123456789abcdef0123456789", 60, {})
    assert refused_reason(embed, forged) is not None
    unsigned_id = new_session_id(TEST_BOKEH_SECRET).split(".")[0]
    assert refused_reason(embed, mint_token(unsigned_id, TEST_BOKEH_SECRET, 60, token_payload({}))) is not None
    expired = mint_token(new_session_id(TEST_BOKEH_SECRET), TEST_BOKEH_SECRET, -5, token_payload({}))
    assert refused_reason(embed, expired) is not None
    # The server logs each refusal as it closes the socket; the line may follow the close.
    for refusal in ("Invalid token signature", "Token is expired"):
        line = f"websocket refused, GET /sliders/ws (127.0.0.1): {refusal}"
        deadline = time.monotonic() + WAIT_SECONDS
        while line not in stack.bokeh.output():
            assert time.monotonic() < deadline, f"not logged: {line}"
            time.sleep(0.1)


def test_pulls_send_their_messages_without_delay(stack, monkeypatch):
    """Fails when a Bokeh upgrade moves the socket ``disable_nagle`` reaches into."""
    results = []
    original = bokeh_pull.disable_nagle
    monkeypatch.setattr(bokeh_pull, "disable_nagle", lambda session: results.append(original(session)) or True)
    grant_id = new_session_id(TEST_BOKEH_SECRET)
    grant = bokeh_pull.SessionGrant(grant_id, mint_token(grant_id, TEST_BOKEH_SECRET, 60, token_payload({})))
    bokeh_pull.pull_and_change(f"{stack.process_urls[0]}/sliders", grant, lambda doc: None, 10, "Sliders")
    assert results == [True]
