"""Shared views over two replicas: two supervisors (``python -m bkapps``, one Bokeh process each,
as docker-compose's services are), which know nothing of each other but the peer registry in one
Redis. Two viewers of one view, one on each replica, see one document and one count; kill -9 the
owner and both come back to one document with the right count; with Redis down each replica keeps
the view to itself, and they share it again once Redis is back."""

import asyncio
import signal
import time
from contextlib import contextmanager

import pytest
import requests

from bkruntime.view_owners import rendezvous_owner
from tests.support.bokeh_client import EmbeddedSession, embedded_session
from tests.support.redis_server import running_redis
from tests.support.restarts import bokeh_process, wait_for_processes
from tests.support.servers import Stack, free_port, free_ports, procfile_commands, running, running_stack
from tests.support.shared_viewer import SharedViewer

WAIT_SECONDS = 60.0


@contextmanager
def second_replica(first: Stack):
    """Another supervisor like ``first``'s (same secrets, registry and site), on ports of its own."""
    port = free_port()
    env = {**first.env, "BOKEH_PORT": str(port), "BOKEH_PROCESS_PORT_BASE": str(free_ports(1))}
    ready = f"http://127.0.0.1:{env['BOKEH_PROCESS_PORT_BASE']}/healthz"
    with running("bokeh-replica", procfile_commands()["bokeh"], env, ready) as bokeh:
        yield Stack(bokeh=bokeh, web=first.web, bokeh_url=f"http://127.0.0.1:{port}", web_url=first.web_url, env=env)


@pytest.fixture(scope="module")
def registry():
    with running_redis() as redis:
        yield redis


@pytest.fixture(scope="module")
def replicas(registry):
    redis = registry
    with (
        running_stack(
            processes=1,
            BOKEH_PEER_REGISTRY_URL=redis.url,
            BOKEH_UNUSED_SESSION_LIFETIME_MS="1000",
            BOKEH_CHECK_UNUSED_SESSIONS_MS="500",
            BOKEH_PEER_CHECK_SECONDS="0.5",
        ) as first,
        second_replica(first) as second,
    ):
        yield first, second


def wait_for(condition, what: str, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not within {seconds:g} s: {what}"
        time.sleep(0.2)
    return result


def member(replica: Stack) -> str:
    return replica.process_urls[0].removeprefix("http://")


def shared_views_health(replica: Stack) -> dict | None:
    try:
        return requests.get(f"{replica.process_urls[0]}/healthz", timeout=5).json()["shared_views"]
    except requests.RequestException:
        return None


def see_each_other(replicas) -> bool:
    members = sorted(member(replica) for replica in replicas)
    answers = [shared_views_health(replica) for replica in replicas]
    return all(answer and answer["peer_addresses"] == members and answer["peer_registry"] for answer in answers)


def each_alone(replicas) -> bool:
    answers = [shared_views_health(replica) for replica in replicas]
    return all(
        answer and answer["peer_addresses"] == [member(replica)] and answer["peer_registry"] is False
        for replica, answer in zip(replicas, answers, strict=True)
    )


def stream_view(site: Stack, rate: int) -> EmbeddedSession:
    response = requests.get(f"{site.web_url}/apps/stream?rate={rate}", timeout=30)
    assert response.status_code == 200
    return embedded_session(response.text)


def websocket_url(replica: Stack, embed: EmbeddedSession) -> str:
    return replica.process_urls[0].replace("http://", "ws://") + embed.app_path + "/ws"


async def open_viewer(replica: Stack, embed: EmbeddedSession) -> SharedViewer:
    return await SharedViewer.open(embed, replica.web_url, websocket_url(replica, embed))


async def one_viewer_on_each(replicas, embed: EmbeddedSession) -> list[SharedViewer]:
    """A viewer on each replica, reopened as BokehJS reopens one (its websocket closed, or refused
    while the view moves), until both count the same two viewers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        viewers = []
        try:
            for replica in replicas:
                viewers.append(await open_viewer(replica, embed))
            for viewer in viewers:
                await viewer.until(lambda v: v.viewers == 2, 10.0)
            return viewers
        except Exception as error:
            for viewer in viewers:
                viewer.close()
            assert loop.time() < deadline, f"the two viewers never shared one count: {error}"
            await asyncio.sleep(0.5)


def test_viewers_on_two_replicas_share_one_document_and_one_count_and_survive_kill_9_of_the_owner(replicas):
    wait_for(lambda: see_each_other(replicas), "the replicas find each other in the registry")
    embed = stream_view(replicas[0], 650)
    owner = [member(replica) for replica in replicas].index(
        rendezvous_owner(embed.session_id, [member(replica) for replica in replicas])
    )

    async def scenario():
        on_first, on_second = await one_viewer_on_each(replicas, embed)
        # A widget moved on one replica reaches the viewer on the other, both ways.
        await on_second.set_value("rate", 777)
        await on_first.until(lambda v: v.values["rate"] == 777, WAIT_SECONDS)
        await on_first.set_value("rate", 250)
        await on_second.until(lambda v: v.values["rate"] == 250, WAIT_SECONDS)

        # kill -9 the owner's process: both viewers lose their websocket.
        bokeh_process(replicas[owner], 0).send_signal(signal.SIGKILL)
        for viewer in (on_first, on_second):
            await viewer.until(lambda v: v.closed, WAIT_SECONDS)

    asyncio.run(scenario())
    # Its supervisor starts it again; it registers again and owns the view again.
    wait_for_processes(replicas[owner])
    wait_for(lambda: see_each_other(replicas), "the restarted process is found again")

    async def after_the_kill():
        on_first, on_second = await one_viewer_on_each(replicas, embed)
        # One document, built anew as the app builds it (the change before the kill is gone).
        assert on_first.values["rate"] == on_second.values["rate"] == 650
        await on_first.set_value("rate", 300)
        await on_second.until(lambda v: v.values["rate"] == 300, WAIT_SECONDS)
        on_first.close()
        await on_second.until(lambda v: v.viewers == 1, WAIT_SECONDS)
        on_second.close()

    asyncio.run(after_the_kill())


def test_with_redis_down_each_replica_keeps_its_own_view_and_they_rejoin_when_it_is_back(replicas, registry):
    wait_for(lambda: see_each_other(replicas), "the replicas find each other in the registry")
    embed = stream_view(replicas[0], 950)
    registry.stop()
    wait_for(lambda: each_alone(replicas), "each replica falls back to its own processes")

    async def while_down():
        # Each replica serves the view on its own: one viewer each, each counting itself.
        viewers = [await open_viewer(replica, embed) for replica in replicas]
        for viewer in viewers:
            await viewer.until(lambda v: v.viewers == 1, WAIT_SECONDS)
        for viewer in viewers:
            viewer.close()

    asyncio.run(while_down())
    with running_redis(registry.port):
        wait_for(lambda: see_each_other(replicas), "the replicas find each other again")

        async def back():
            on_first, on_second = await one_viewer_on_each(replicas, embed)
            await on_first.set_value("rate", 333)
            await on_second.until(lambda v: v.values["rate"] == 333, WAIT_SECONDS)
            on_first.close()
            on_second.close()

        asyncio.run(back())
