"""The pieces behind draining, readiness and recycling of the Bokeh processes."""

import asyncio

import pytest
from bokeh.application import Application
from bokeh.server.server import Server
from tornado.ioloop import IOLoop

from bkapps.graceful_shutdown import drainable, open_websockets
from bkapps.readiness import SelfCheck
from bkapps.recycling import RecyclePolicy
from tests.support.servers import TEST_BOKEH_SECRET


@pytest.fixture
def bokeh_server():
    loop = IOLoop(make_current=False)
    server = Server({"/app": Application()}, io_loop=loop, port=0, address="127.0.0.1")
    try:
        yield server
    finally:
        server.unlisten()
        loop.close(all_fds=True)


def test_bokehs_server_still_has_what_draining_relies_on(bokeh_server):
    """Fails on a Bokeh or Tornado upgrade that moves the connection sets draining reads."""
    assert drainable(bokeh_server)
    assert open_websockets(bokeh_server) == []


def test_a_server_without_them_is_not_drained():
    assert not drainable(object())


@pytest.mark.parametrize(
    ("policy", "sessions", "rss_mb", "due"),
    [
        (RecyclePolicy(), 10_000, 10_000, None),
        (RecyclePolicy(after_sessions=100), 99, 0, None),
        (RecyclePolicy(after_sessions=100), 100, 0, "100 sessions created (limit 100)"),
        (RecyclePolicy(above_mb=300), 0, 299, None),
        (RecyclePolicy(above_mb=300), 0, 300, "300 MB resident (limit 300 MB)"),
    ],
)
def test_recycle_policy(policy, sessions, rss_mb, due):
    assert policy.reason(sessions, rss_mb * 2**20) == due
    assert policy.enabled == (policy.after_sessions > 0 or policy.above_mb > 0)


class FakeContext:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.tokens = []

    async def create_session_if_needed(self, session_id, request, token):
        self.tokens.append(token)
        if self.fail:
            raise RuntimeError("main.py exploded")
        return type("Session", (), {"document": type("Doc", (), {"roots": ["root"]})()})()


class FakeTornado:
    def __init__(self, **contexts) -> None:
        self.applications = {f"/{name}": context for name, context in contexts.items()}


def test_self_check_reports_each_app_and_is_ready_only_if_all_build():
    check = SelfCheck(TEST_BOKEH_SECRET)
    assert not check.ready, "not ready before the first check"
    good, bad = FakeContext(False), FakeContext(True)
    asyncio.run(check.run(FakeTornado(sliders=good, broken=bad)))
    report = check.report()
    assert report["ready"] is False
    assert report["apps"]["sliders"]["ok"] is True
    assert report["apps"]["broken"] == {
        **report["apps"]["broken"],
        "ok": False,
        "error": "RuntimeError: main.py exploded",
    }
    asyncio.run(check.run(FakeTornado(sliders=good)))
    assert check.ready
