"""Shared views over two real Bokeh processes of one supervisor: one document for every viewer,
whichever process their websocket reaches; the owner runs the app, the other process relays it;
the count is the whole audience; failover after kill -9 of the owner or the relay; the relay's
link authenticated; discarded everywhere after the last viewer."""

import asyncio
import re
import signal
import time

import psutil
import pytest
import requests

from aperture.session_token import RELAY_KEY, mint_token, relay_payload, shared_session_id, token_payload
from bkruntime.view_owners import rendezvous_owner
from tests.support.bokeh_client import EmbeddedSession, embedded_session, refused_reason
from tests.support.restarts import bokeh_process, wait_for_processes
from tests.support.servers import TEST_BOKEH_SECRET, running_stack
from tests.support.shared_viewer import SharedViewer
from tests.support.site_accounts import add_user, log_in

WAIT_SECONDS = 60.0
# File descriptors a process may open on its own meanwhile (a log, a pool thread's pipe).
FD_SLACK = 8
EXTRA = 12


@pytest.fixture(scope="module")
def stack():
    with running_stack(
        processes=2,
        BOKEH_UNUSED_SESSION_LIFETIME_MS="1000",
        BOKEH_CHECK_UNUSED_SESSIONS_MS="500",
        BOKEH_PEER_CHECK_SECONDS="0.5",
    ) as live:
        yield live


def wait_for(condition, what: str, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        time.sleep(0.2)
    return result


def health(url: str) -> dict | None:
    try:
        return requests.get(f"{url}/healthz", timeout=5).json()
    except requests.RequestException:
        return None


def all_see_each_other(stack) -> bool:
    count = len(stack.process_urls)
    healths = [health(url) for url in stack.process_urls]
    return all(h and h["shared_views"]["peers_up"] == list(range(count)) for h in healths)


def stream_view(stack, rate: int) -> EmbeddedSession:
    """A shared view of the stream app of its own (each test its own ``rate``, so its own session)."""
    response = requests.get(f"{stack.web_url}/apps/stream?rate={rate}", timeout=30)
    assert response.status_code == 200
    return embedded_session(response.text)


def owner_and_relay(stack, embed: EmbeddedSession) -> tuple[int, int]:
    ports = [int(url.rsplit(":", 1)[1]) for url in stack.process_urls]
    owner = ports.index(rendezvous_owner(embed.session_id, ports))
    return owner, 1 - owner


def websocket_url(stack, index: int, embed: EmbeddedSession) -> str:
    return stack.process_urls[index].replace("http://", "ws://") + embed.app_path + "/ws"


def builds(stack, index: int) -> float:
    """Stream documents built by the app's code in process ``index`` (not a relay's mirrors)."""
    text = requests.get(f"{stack.process_urls[index]}/metrics", timeout=10).text
    found = re.search(
        r'aperture_bokeh_document_build_seconds_count\{app="stream",outcome="built",process="\d"\} (\S+)', text
    )
    return float(found.group(1)) if found else 0.0


def metrics_text(stack, index: int) -> str:
    return requests.get(f"{stack.process_urls[index]}/metrics", timeout=10).text


def stream_sessions(stack, index: int) -> int | None:
    answer = health(stack.process_urls[index])
    return None if answer is None else answer["sessions"].get("stream", 0)


async def open_viewer(stack, embed, index) -> SharedViewer:
    return await SharedViewer.open(embed, stack.web_url, websocket_url(stack, index, embed))


def test_viewers_on_two_processes_share_one_document_and_one_count(stack):
    wait_for(lambda: all_see_each_other(stack), "the processes see each other")
    embed = stream_view(stack, 700)
    owner, relay = owner_and_relay(stack, embed)
    builds_before = [builds(stack, index) for index in (0, 1)]

    async def scenario():
        on_owner = await open_viewer(stack, embed, owner)
        on_relay = await open_viewer(stack, embed, relay)
        for viewer in (on_owner, on_relay):
            await viewer.until(lambda v: v.viewers == 2, WAIT_SECONDS)
        # A widget moved at the relay reaches the owner's viewer, and the other way round.
        await on_relay.set_value("rate", 777)
        await on_owner.until(lambda v: v.values["rate"] == 777, WAIT_SECONDS)
        await on_owner.set_value("rate", 250)
        await on_relay.until(lambda v: v.values["rate"] == 250, WAIT_SECONDS)
        # The app's own updates (its streamed points) reach the relay's viewer too.
        streamed = len([c for c in on_relay.changes if c.get("kind") == "ColumnsStreamed"])
        await on_relay.until(
            lambda v: len([c for c in v.changes if c.get("kind") == "ColumnsStreamed"]) > streamed, WAIT_SECONDS
        )
        on_owner.close()
        await on_relay.until(lambda v: v.viewers == 1, WAIT_SECONDS)
        on_relay.close()

    asyncio.run(scenario())
    builds_after = [builds(stack, index) for index in (0, 1)]
    assert builds_after[owner] == builds_before[owner] + 1, "the owner built the view once"
    assert builds_after[relay] == builds_before[relay], "the relay built nothing: it mirrors the owner"


def test_after_the_last_viewer_leaves_the_view_is_discarded_on_the_owner_and_the_relay(stack):
    wait_for(lambda: all_see_each_other(stack), "the processes see each other")
    wait_for(lambda: stream_sessions(stack, 0) == 0 and stream_sessions(stack, 1) == 0, "no stream session left")
    embed = stream_view(stack, 800)
    owner, relay = owner_and_relay(stack, embed)
    processes = [psutil.Process(health(url)["pid"]) for url in stack.process_urls]
    fds_before = [process.num_fds() for process in processes]

    add_user(stack, "ada", "--admin")
    admin = log_in(stack.web_url, "ada")
    view = embed.session_id[:12]

    def relay_lag_reported() -> bool:
        lag = f'aperture_bokeh_shared_view_relay_lag_seconds{{app="stream",owner="{owner}"'
        return lag in metrics_text(stack, relay)

    async def scenario():
        viewers = [await open_viewer(stack, embed, owner), await open_viewer(stack, embed, relay)]
        await viewers[1].until(lambda v: v.viewers == 2, WAIT_SECONDS)
        # More viewers on each side, so that their sockets show in the processes' descriptors.
        extra = [await open_viewer(stack, embed, index) for index in (owner, relay) for _ in range(EXTRA)]
        await viewers[1].until(lambda v: v.viewers == 2 + 2 * EXTRA, WAIT_SECONDS)
        fds_during = [process.num_fds() for process in processes]
        for viewer in extra:
            viewer.close()
        await viewers[1].until(lambda v: v.viewers == 2, WAIT_SECONDS)
        during = [stream_sessions(stack, 0), stream_sessions(stack, 1)]
        relayed = health(stack.process_urls[relay])["shared_views"]["relayed_views"]
        await asyncio.to_thread(wait_for, relay_lag_reported, "the relay reports its lag")
        metrics = [await asyncio.to_thread(metrics_text, stack, index) for index in (0, 1)]
        page = await asyncio.to_thread(admin.get, f"{stack.web_url}/admin", timeout=30)
        for viewer in viewers:
            viewer.close()
        return during, relayed, metrics, page.text, fds_during

    during, relayed, metrics, admin_page, fds_during = asyncio.run(scenario())
    assert during == [1, 1] and relayed == 1
    assert all(fds >= before + EXTRA for fds, before in zip(fds_during, fds_before, strict=True))
    # Each process says the whole audience and who owns the view; the admin view shows both.
    audience = (
        'aperture_bokeh_shared_view_audience{{app="stream",owner="{owner}",process="{process}",'
        'role="{role}",view="{view}"}} 2.0'
    )
    assert audience.format(owner=owner, process=owner, role="owner", view=view) in metrics[owner]
    assert audience.format(owner=owner, process=relay, role="relay", view=view) in metrics[relay]
    assert f"<code>{view}</code> · 1 (of 2 · owned here)" in admin_page
    assert re.search(rf"<code>{view}</code> · 1 \(of 2 · owner process {owner + 1} · [\d.]+ ms behind\)", admin_page)
    wait_for(lambda: stream_sessions(stack, 0) == 0 and stream_sessions(stack, 1) == 0, "the view is discarded")
    assert health(stack.process_urls[relay])["shared_views"]["relayed_views"] == 0
    # The viewers' sockets and the relay's link are closed on both processes.
    wait_for(
        lambda: all(p.num_fds() <= before + FD_SLACK for p, before in zip(processes, fds_before, strict=True)),
        "the sockets are closed",
    )


def test_a_forged_relay_link_is_refused_and_a_real_one_accepted(stack):
    embed = stream_view(stack, 900)
    owner, _ = owner_and_relay(stack, embed)
    url = stack.process_urls[owner] + embed.app_path
    target = EmbeddedSession(embed.token, embed.app_path, url)
    payload = relay_payload(embed.payload, 1 - owner)
    forged = mint_token(embed.session_id, "not-the-deployment-key-" * 2, 60, payload)
    assert refused_reason(target, forged) is not None
    assert refused_reason(target, mint_token(embed.session_id, TEST_BOKEH_SECRET, 60, payload)) is None


def private_view_token(user) -> tuple[str, str]:
    session_id = shared_session_id(TEST_BOKEH_SECRET, "portfolio", {"days": 180}, {"title": ""})
    payload = token_payload({"days": 180}, options={"title": ""}, user=user, app="portfolio", shared=True)
    return session_id, mint_token(session_id, TEST_BOKEH_SECRET, 60, payload)


def test_a_private_shared_view_refuses_a_visitor_without_access_at_the_relay(stack):
    session_id, anonymous = private_view_token(None)
    _, alice = private_view_token({"name": "alice", "roles": []})
    ports = [int(url.rsplit(":", 1)[1]) for url in stack.process_urls]
    relay = 1 - ports.index(rendezvous_owner(session_id, ports))
    embed = EmbeddedSession(anonymous, "/portfolio", stack.process_urls[relay] + "/portfolio")
    assert "403" in refused_reason(embed)
    # A viewer token cannot pose as a relay: the flag is inside the signed payload.
    assert RELAY_KEY not in embed.payload
    assert refused_reason(embed, alice) is None


def test_kill_9_the_owner_then_the_relay_every_viewer_comes_back_to_one_document(stack):
    wait_for(lambda: all_see_each_other(stack), "the processes see each other")
    embed = stream_view(stack, 600)
    owner, relay = owner_and_relay(stack, embed)

    async def scenario():
        on_owner = await open_viewer(stack, embed, owner)
        on_relay = await open_viewer(stack, embed, relay)
        await on_relay.until(lambda v: v.viewers == 2, WAIT_SECONDS)
        await on_relay.set_value("rate", 777)
        await on_owner.until(lambda v: v.values["rate"] == 777, WAIT_SECONDS)

        # kill -9 the owner: the relay gives up its mirror and closes its viewer's websocket.
        process = bokeh_process(stack, owner)
        process.send_signal(signal.SIGKILL)
        await on_relay.until(lambda v: v.closed, WAIT_SECONDS)
        await on_owner.until(lambda v: v.closed, WAIT_SECONDS)
        # Both reconnect (BokehJS does) while the owner is being replaced: the survivor owns the
        # view now, built anew as the app builds it.
        back = [await open_viewer(stack, embed, relay), await open_viewer(stack, embed, relay)]
        for viewer in back:
            await viewer.until(lambda v: v.viewers == 2, WAIT_SECONDS)
            assert viewer.values["rate"] == 600
        await back[0].set_value("rate", 300)
        await back[1].until(lambda v: v.values["rate"] == 300, WAIT_SECONDS)
        for viewer in back:
            viewer.close()

    asyncio.run(scenario())
    wait_for_processes(stack)
    wait_for(lambda: all_see_each_other(stack), "the replaced process is seen by the other")

    async def after_replacement():
        # Now one viewer on each process again; then kill -9 the relay: the owner's viewer
        # counts 1 again, and the relay's viewer, reconnected at the owner, makes 2.
        on_owner = await open_viewer(stack, embed, owner)
        on_relay = await open_viewer(stack, embed, relay)
        for viewer in (on_owner, on_relay):
            await viewer.until(lambda v: v.viewers == 2, WAIT_SECONDS)
        bokeh_process(stack, relay).send_signal(signal.SIGKILL)
        await on_relay.until(lambda v: v.closed, WAIT_SECONDS)
        await on_owner.until(lambda v: v.viewers == 1, WAIT_SECONDS)
        again = await open_viewer(stack, embed, owner)
        await on_owner.until(lambda v: v.viewers == 2, WAIT_SECONDS)
        await again.set_value("rate", 450)
        await on_owner.until(lambda v: v.values["rate"] == 450, WAIT_SECONDS)
        on_owner.close()
        again.close()

    asyncio.run(after_replacement())
    wait_for_processes(stack)
