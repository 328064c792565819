"""The registry in Redis through which the Bokeh processes of every replica find each other
(``bkruntime.peer_registry``), and the owners ``bkruntime.view_owners.Peers`` computes from it,
against a real, throwaway ``redis-server``."""

import asyncio
import logging
import time

import pytest

from bkruntime import peer_registry
from bkruntime.peer_registry import PeerRegistry
from bkruntime.settings import BokehServerSettings
from bkruntime.view_owners import Peers, rendezvous_owner
from tests.support.redis_server import running_redis
from tests.support.servers import free_ports


@pytest.fixture
def redis():
    with running_redis() as server:
        yield server


async def until(condition, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.05)


def test_members_list_each_other_and_one_that_stops_renewing_drops_out(redis):
    async def scenario():
        one = PeerRegistry.from_url(redis.url, "bokeh-0:5007", check_seconds=1.0)
        two = PeerRegistry.from_url(redis.url, "bokeh-1:5007", check_seconds=1.0)
        two.lease_seconds = 0.3
        assert await one.renew_and_list() == ["bokeh-0:5007"]
        assert await two.renew_and_list() == ["bokeh-0:5007", "bokeh-1:5007"]
        assert await one.renew_and_list() == ["bokeh-0:5007", "bokeh-1:5007"]

        async def two_gone():
            return await one.renew_and_list() == ["bokeh-0:5007"]

        await until(two_gone)  # its lease expired: it stopped renewing (killed)
        assert await one.client.smembers(peer_registry.MEMBERS_KEY) == {b"bokeh-0:5007"}
        assert await two.renew_and_list() == ["bokeh-0:5007", "bokeh-1:5007"]  # back: listed again

    asyncio.run(scenario())


def test_every_member_holds_a_slot_of_its_own_and_a_freed_slot_is_reused(redis):
    async def scenario():
        one = PeerRegistry.from_url(redis.url, "bokeh-0:5007", check_seconds=1.0)
        two = PeerRegistry.from_url(redis.url, "bokeh-1:5007", check_seconds=1.0)
        two.lease_seconds = 0.3
        await one.renew_and_list()
        await two.renew_and_list()
        assert (one.slot, two.slot) == (0, 1)
        await one.renew_and_list()
        assert one.slot == 0  # renewed, not taken again

        async def slot_free():
            return await one.client.get(peer_registry.slot_key(1)) is None

        await until(slot_free)  # two was killed: its lease ended
        three = PeerRegistry.from_url(redis.url, "bokeh-2:5007", check_seconds=1.0)
        await three.renew_and_list()
        assert three.slot == 1
        # A process restarted under the same name while its old lease lives keeps its slot.
        again = PeerRegistry.from_url(redis.url, "bokeh-0:5007", check_seconds=1.0)
        await again.renew_and_list()
        assert again.slot == 0

    asyncio.run(scenario())


def test_a_lease_outlives_a_few_rounds_of_checks():
    assert peer_registry.lease_seconds(1.0) == 5.0
    assert peer_registry.lease_seconds(0.1) == peer_registry.MIN_LEASE_SECONDS


def test_redis_down_is_warned_once_and_its_return_rejoins(redis, caplog):
    port = redis.port

    async def scenario():
        registry = PeerRegistry.from_url(redis.url, "127.0.0.1:7001", check_seconds=1.0)
        assert await registry.renew_and_list() == ["127.0.0.1:7001"]
        redis.stop()
        with caplog.at_level(logging.INFO, logger=peer_registry.__name__):
            assert await registry.renew_and_list() is None
            assert await registry.renew_and_list() is None
            warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
            assert len(warnings) == 1 and "peer registry cannot be reached" in warnings[0].getMessage()
            assert registry.reachable is False
            with running_redis(port):
                assert await registry.renew_and_list() == ["127.0.0.1:7001"]
            assert registry.reachable is True
            assert any("answers again" in record.getMessage() for record in caplog.records)

    asyncio.run(scenario())


class Healthz:
    """A process's own port answering ``/healthz``, as a Bokeh process does."""

    def __init__(self, port: int) -> None:
        from tornado.web import Application, RequestHandler

        class Up(RequestHandler):
            def get(self) -> None:
                self.write({"status": "ok"})

        self.server = Application([("/healthz", Up)]).listen(port, "127.0.0.1")

    def stop(self) -> None:
        self.server.stop()


def test_peers_of_two_replicas_find_each_other_through_the_registry_and_agree_on_owners(redis):
    port_a = free_ports(2)
    port_b = port_a + 1

    async def scenario():
        healthz_b = Healthz(port_b)
        a = Peers("127.0.0.1", [port_a], 0, registry=PeerRegistry.from_url(redis.url, f"127.0.0.1:{port_a}", 1.0))
        b = Peers("127.0.0.1", [port_b], 0, registry=PeerRegistry.from_url(redis.url, f"127.0.0.1:{port_b}", 1.0))
        assert a.has_peers and b.has_peers  # one process each, yet they share views
        await b.check_once()  # b registers itself
        await a.check_once()
        # Both are process 0 of their supervisor; their rows in a view's count differ.
        assert (a.own_index, b.own_index) == (0, 0) and {a.row, b.row} == {0, 1}
        assert sorted(a.address(index) for index in a.up) == [f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}"]
        names = [f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}"]
        for session_id in ("view-one", "view-two", "view-three", "view-four"):
            assert a.address(a.owner_of(session_id)) == rendezvous_owner(session_id, names)
        # b stops answering: a finds it down at once (its port refuses), before its lease ends.
        healthz_b.stop()
        await a.check_once()
        assert a.up == {0}
        assert all(a.owns(session_id) for session_id in ("view-one", "view-two", "view-three"))

    asyncio.run(scenario())


def test_without_redis_the_processes_of_this_supervisor_share_views(redis):
    own = free_ports(2)
    other = own + 1

    async def scenario():
        healthz = Healthz(other)
        registry = PeerRegistry.from_url(redis.url, f"127.0.0.1:{own}", 1.0)
        peers = Peers("127.0.0.1", [own, other], 0, registry=registry)
        redis.stop()
        await peers.check_once()
        assert peers.up == {0, 1} and registry.reachable is False
        healthz.stop()

    asyncio.run(scenario())


def test_the_registry_settings_are_checked():
    environ = {"BOKEH_SECRET_KEY": "x" * 40}
    settings = BokehServerSettings.from_environ(
        {**environ, "BOKEH_PEER_REGISTRY_URL": "redis://redis:6379/1", "BOKEH_PEER_ADDRESS": "bokeh-1"}
    )
    assert settings.peer_host == "bokeh-1" and settings.peer_registry_url == "redis://redis:6379/1"
    assert BokehServerSettings.from_environ(environ).peer_host == "127.0.0.1"
    with pytest.raises(Exception, match="BOKEH_PEER_REGISTRY_URL must be a Redis URL"):
        BokehServerSettings.from_environ({**environ, "BOKEH_PEER_REGISTRY_URL": "http://redis:6379"})
    with pytest.raises(Exception, match="BOKEH_PEER_ADDRESS takes a host name"):
        BokehServerSettings.from_environ({**environ, "BOKEH_PEER_ADDRESS": "bokeh-1:5007"})
