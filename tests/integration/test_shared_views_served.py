"""Shared views against real Bokeh processes: one document per view and process, from any viewer's
token, checked per viewer at the websocket, discarded after the last viewer, rebuilt after a kill."""

import asyncio
import contextlib
import re
import signal
import time

import psutil
import pytest
import requests

from aperture.session_token import mint_token, shared_session_id, token_payload
from tests.support.bokeh_client import EmbeddedSession, browser_session, embedded_session, refused_reason
from tests.support.servers import TEST_BOKEH_SECRET, running_stack
from tests.support.session_holder import connect_like_bokehjs, pull_document
from tests.support.site_accounts import add_user, log_in

WAIT_SECONDS = 60.0
VIEWERS = 30
# File descriptors a process may open on its own meanwhile (a log, a pool thread's pipe).
FD_SLACK = 8


@pytest.fixture(scope="module")
def one_process_stack():
    with running_stack(
        processes=1, BOKEH_UNUSED_SESSION_LIFETIME_MS="1000", BOKEH_CHECK_UNUSED_SESSIONS_MS="500"
    ) as live:
        yield live


def health(url: str) -> dict:
    return requests.get(f"{url}/healthz", timeout=10).json()


def wait_for(condition, what: str, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        time.sleep(0.2)
    return result


def stream_page(stack, query: str = "") -> EmbeddedSession:
    response = requests.get(f"{stack.web_url}/apps/stream{query}", timeout=30)
    assert response.status_code == 200
    return embedded_session(response.text)


def slider_value(doc_json: dict, name: str):
    for model in _models(doc_json):
        if model.get("attributes", {}).get("name") == name:
            return model["attributes"].get("value", model["attributes"].get("active"))
    raise AssertionError(f"no model {name!r}")


def _models(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from _models(value)
    elif isinstance(node, list):
        for value in node:
            yield from _models(value)


def test_the_pages_own_query_string_cannot_move_a_viewer_into_another_view(one_process_stack):
    embed = stream_page(one_process_stack, "?rate=1000")
    # BokehJS copies the page's query string onto the websocket URL; the token decides the view.
    with browser_session(embed, page_query={"rate": "100", "window": "10"}) as doc:
        assert doc.get_model_by_name("rate").value == 1000
    assert embed.session_id == stream_page(one_process_stack, "?rate=1000&window=120").session_id


def portfolio_token(user) -> EmbeddedSession:
    session_id = shared_session_id(TEST_BOKEH_SECRET, "portfolio", {"days": 180}, {"title": ""})
    payload = token_payload({"days": 180}, options={"title": ""}, user=user, app="portfolio", shared=True)
    return session_id, mint_token(session_id, TEST_BOKEH_SECRET, 60, payload)


def test_a_private_shared_view_refuses_a_viewer_without_access_at_the_handshake(one_process_stack):
    url = f"{one_process_stack.bokeh_url}/portfolio"
    _, anonymous = portfolio_token(None)
    embed = EmbeddedSession(anonymous, "/portfolio", url)
    assert "403" in refused_reason(embed)
    _, alice = portfolio_token({"name": "alice", "roles": []})
    assert refused_reason(embed, alice) is None
    # The document alice built is everyone's: it does not greet her.
    with browser_session(EmbeddedSession(alice, "/portfolio", url)) as doc:
        texts = " ".join(str(getattr(model, "text", "")) for model in doc.models)
        assert "alice" not in texts and doc.get_model_by_name("aperture_viewers") is not None


async def hold_viewers(embeds: list[EmbeddedSession], origin: str, opened: asyncio.Event, leave: asyncio.Event):
    connections = []
    try:
        for embed in embeds:
            connection = await connect_like_bokehjs(embed, origin)
            connections.append(connection)
            await pull_document(connection)
        opened.set()
        await leave.wait()
    finally:
        for connection in connections:
            connection.close()


def shared_view_replies(metrics: str) -> dict[str, float]:
    found = dict(re.findall(r'aperture_bokeh_shared_view_replies_total\{process="0",reply="(\w+)"\} (\S+)', metrics))
    return {reply: float(found.get(reply, 0)) for reply in ("reused", "serialised")}


def test_after_the_last_viewer_leaves_the_view_is_discarded_and_its_sockets_closed(one_process_stack):
    stack = one_process_stack
    url = stack.process_urls[0]
    # The startup self-check's sessions go first.
    wait_for(lambda: health(url)["sessions"].get("stream", 0) == 0, "the self-check's sessions are discarded")
    add_user(stack, "ada", "--admin")
    admin = log_in(stack.web_url, "ada")
    process = psutil.Process(health(url)["pid"])
    fds_before = process.num_fds()
    replies_before = shared_view_replies(requests.get(f"{url}/metrics", timeout=10).text)
    embeds = [stream_page(stack, "?rate=2000") for _ in range(VIEWERS)]
    assert len({embed.session_id for embed in embeds}) == 1

    async def scenario():
        opened, leave = asyncio.Event(), asyncio.Event()
        holding = asyncio.create_task(hold_viewers(embeds, stack.web_url, opened, leave))
        await asyncio.wait_for(opened.wait(), WAIT_SECONDS)
        during = await asyncio.to_thread(health, url)
        metrics = await asyncio.to_thread(requests.get, f"{url}/metrics", timeout=10)
        page = await asyncio.to_thread(admin.get, f"{stack.web_url}/admin", timeout=30)
        fds_during = process.num_fds()
        leave.set()
        await holding
        return during, metrics.text, page.text, fds_during

    during, metrics, admin_page, fds_during = asyncio.run(scenario())
    assert during["sessions"]["stream"] == 1, "one document for every viewer"
    assert fds_during >= fds_before + VIEWERS
    assert re.search(
        rf'aperture_bokeh_shared_view_viewers\{{app="stream",process="0",view="[^"]+"\}} {VIEWERS}\.0', metrics
    )
    assert f'aperture_bokeh_viewers{{app="stream",process="0"}} {VIEWERS}.0' in metrics
    # Viewers who joined while the document was unchanged got the reply made for an earlier one.
    replies = shared_view_replies(metrics)
    reused = replies["reused"] - replies_before["reused"]
    assert reused + replies["serialised"] - replies_before["serialised"] == VIEWERS and reused > 0, replies
    # The admin view shows them too.
    shared = admin_page.split('id="shared-views"', 1)[1]
    assert f"· {VIEWERS}</span>" in shared and f"<td>{VIEWERS}</td>" in shared
    wait_for(lambda: health(url)["sessions"].get("stream", 0) == 0, "the view is discarded after its last viewer")
    wait_for(lambda: process.num_fds() <= fds_before + FD_SLACK, "the viewers' sockets are closed")


@pytest.fixture
def two_process_stack():
    with running_stack(
        processes=2, BOKEH_UNUSED_SESSION_LIFETIME_MS="1000", BOKEH_CHECK_UNUSED_SESSIONS_MS="500"
    ) as live:
        yield live


def shared_views_of(url: str) -> list[tuple[str, int]]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return [
        (view, int(float(count)))
        for view, count in re.findall(
            r'aperture_bokeh_shared_view_viewers\{app="stream",[^}]*view="([^"]+)"\} (\S+)', text
        )
    ]


def test_viewers_of_a_killed_process_come_back_to_one_document_per_process(two_process_stack):
    stack = two_process_stack
    embeds = [stream_page(stack, "?rate=1000") for _ in range(8)]
    documents: list[dict] = []

    async def viewer(embed: EmbeddedSession, until: float):
        """Connect, pull, read until the server closes; reconnect with the same token, as BokehJS does."""
        while time.monotonic() < until:
            try:
                connection = await connect_like_bokehjs(embed, stack.web_url)
            except Exception:
                await asyncio.sleep(0.3)
                continue
            # The server going away mid-pull is one more reason to reconnect.
            with contextlib.suppress(Exception):
                _, doc = await pull_document(connection)
                documents.append(doc)
                while await connection.read_message() is not None:
                    pass
            connection.close()

    async def scenario():
        until = time.monotonic() + WAIT_SECONDS
        tasks = [asyncio.create_task(viewer(embed, until)) for embed in embeds]
        await asyncio.to_thread(
            wait_for, lambda: sum(c for url in stack.process_urls for _, c in shared_views_of(url)) == 8, "8 viewers"
        )
        per_process = [shared_views_of(url) for url in stack.process_urls]
        victim = max(range(2), key=lambda index: sum(count for _, count in per_process[index]))
        victims_viewers = sum(count for _, count in per_process[victim])
        pid = health(stack.process_urls[victim])["pid"]
        psutil.Process(pid).send_signal(signal.SIGKILL)
        first_pulls = len(documents)

        def all_back():
            try:
                views = [shared_views_of(url) for url in stack.process_urls]
            except requests.RequestException:
                return None
            total = sum(count for process in views for _, count in process)
            return views if total == 8 and len(documents) >= first_pulls + victims_viewers else None

        views = await asyncio.to_thread(wait_for, all_back, "every viewer back")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return per_process, views

    per_process, views = asyncio.run(scenario())
    assert all(len(process) <= 1 for process in per_process), per_process
    assert all(len(process) <= 1 for process in views), f"one document per process: {views}"
    assert {view for process in views for view, _ in process} == {embeds[0].session_id[:12]}
    # Every document a viewer got, first or rebuilt, is the view's, never a default one.
    assert {slider_value(doc, "rate") for doc in documents} == {1000}
