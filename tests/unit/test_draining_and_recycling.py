"""The pieces behind draining, readiness and recycling of the Bokeh processes."""

import asyncio
import json
import os
import signal
import time

import pytest
from bokeh.application import Application as BokehApplication
from bokeh.document import Document
from bokeh.models import Button
from bokeh.server.server import Server
from bokeh.util.token import get_token_payload
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.testing import bind_unused_port
from tornado.web import Application

from aperture.endpoints import CREDENTIAL_HEADER, READY_PATH, stats_credential
from bkruntime import readiness
from bkruntime.graceful_shutdown import drainable, open_websockets
from bkruntime.readiness import SelfCheck, readiness_handler
from bkruntime.recycling import RecyclePolicy
from tests.support.servers import TEST_BOKEH_SECRET


@pytest.fixture
def bokeh_server():
    loop = IOLoop(make_current=False)
    server = Server({"/app": BokehApplication()}, io_loop=loop, port=0, address="127.0.0.1")
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
    """An app's context in Bokeh's server: builds a real document with one button, or fails."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.tokens = []
        self.requests = []

    async def create_session_if_needed(self, session_id, request, token):
        self.tokens.append(token)
        self.requests.append(request)
        if self.fail:
            raise RuntimeError("main.py exploded")
        document = Document()
        document.add_root(Button(label="a root"))
        return type("Session", (), {"document": document})()


class FakeTornado:
    def __init__(self, **contexts) -> None:
        self.applications = {f"/{name}": context for name, context in contexts.items()}
        for name, context in contexts.items():
            context.url = f"/{name}"


def test_self_check_reports_each_app_and_stays_ready_for_those_that_build():
    check = SelfCheck(TEST_BOKEH_SECRET)
    assert not check.ready, "not ready before the first check"
    good, bad = FakeContext(False), FakeContext(True)
    asyncio.run(check.run(FakeTornado(sliders=good, broken=bad)))
    report = check.report()
    assert report["ready"] is True, "one broken app does not take the others out of service"
    assert report["broken"] == ["broken"]
    assert report["apps"]["sliders"]["ok"] is True
    assert report["apps"]["sliders"]["needs"] == {"bokehjs": ["widgets"], "custom_js": False}
    assert report["apps"]["broken"] == {
        **report["apps"]["broken"],
        "ok": False,
        "error": "RuntimeError: main.py exploded",
    }
    assert "needs" not in report["apps"]["broken"]
    asyncio.run(check.run(FakeTornado(broken=bad)))
    assert not check.ready, "a process where no app builds serves nothing"


def test_self_check_builds_with_a_request_carrying_the_apps_default_arguments():
    check = SelfCheck(TEST_BOKEH_SECRET)
    sliders = FakeContext(False)
    asyncio.run(check.run(FakeTornado(sliders=sliders)))
    (request,) = sliders.requests
    assert request.method == "GET"
    assert request.path == "/sliders"
    assert request.query_arguments == {"N": [b"200"]}
    assert get_token_payload(sliders.tokens[0])["arguments"] == {"N": [b"200"]}


async def ask_readiness(check: SelfCheck, contexts: FakeTornado, query: str = "", headers=None):
    """``/readyz`` of a real Tornado server whose apps are ``contexts``; returns (status, body)."""
    application = Application([(READY_PATH, readiness_handler(check))])
    application.applications = contexts.applications
    sock, port = bind_unused_port()
    server = HTTPServer(application)
    server.add_sockets([sock])
    try:
        response = await AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{port}{READY_PATH}{query}", headers=headers, raise_error=False
        )
        return response.code, json.loads(response.body)
    finally:
        server.stop()


def test_a_recheck_needs_the_sites_credential():
    check = SelfCheck(TEST_BOKEH_SECRET)
    context = FakeContext(False)
    status, body = asyncio.run(ask_readiness(check, FakeTornado(sliders=context), "?recheck=1"))
    assert status == 403 and CREDENTIAL_HEADER in body["message"]
    forged = {CREDENTIAL_HEADER: stats_credential("another-key-0123456789abcdefghijklmnopqrstuvwxyz")}
    assert asyncio.run(ask_readiness(check, FakeTornado(sliders=context), "?recheck=1", forged))[0] == 403
    assert context.tokens == [], "nothing was built for a visitor"
    signed = {CREDENTIAL_HEADER: stats_credential(TEST_BOKEH_SECRET)}
    status, body = asyncio.run(ask_readiness(check, FakeTornado(sliders=context), "?recheck=1", signed))
    assert status == 200 and body["apps"]["sliders"]["ok"] is True
    assert len(context.tokens) == 1


def test_a_failed_check_is_tried_again_by_a_later_probe_not_by_every_probe(monkeypatch):
    check = SelfCheck(TEST_BOKEH_SECRET)
    broken = FakeContext(True)
    asyncio.run(check.run(FakeTornado(broken=broken)))
    assert asyncio.run(ask_readiness(check, FakeTornado(broken=broken)))[0] == 503
    assert len(broken.tokens) == 1, "a probe soon after the failed check only reads it"

    monkeypatch.setattr(readiness, "RETRY_FAILED_SECONDS", 0.0)
    broken.fail = False

    async def probe_until_ready() -> int:
        deadline = time.monotonic() + 30
        while (status := (await ask_readiness(check, FakeTornado(broken=broken)))[0]) != 200:
            assert time.monotonic() < deadline, "the failed check was never tried again"
            await asyncio.sleep(0.05)
        return status

    assert asyncio.run(probe_until_ready()) == 200
    assert check.ready


class FakeProcess:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals = []

    def send_signal(self, signum) -> None:
        self.signals.append(signum)


def test_the_process_recycled_first_is_the_oldest_one_past_its_limit(tmp_path, monkeypatch):
    from bkruntime import supervisor
    from bkruntime.settings import BokehServerSettings

    settings = BokehServerSettings.from_environ(
        {"APERTURE_INSTANCE_DIR": str(tmp_path), "BOKEH_PROCESSES": "2", "BOKEH_RECYCLE_AFTER_SESSIONS": "6"}
    )
    boss = supervisor.Supervisor(settings)
    # Process 0 is a replacement that already passed the limit again; process 1 passed it long ago.
    for slot, started_at in zip(boss.slots, (200.0, 100.0), strict=True):
        slot.process, slot.started_at = FakeProcess(1000 + slot.index), started_at
    monkeypatch.setattr(supervisor, "process_health", lambda url: {"sessions_created": 7})
    monkeypatch.setattr(supervisor, "resident_bytes", lambda pid: 0)
    boss._recycle_one_if_due()
    assert [slot.process.signals for slot in boss.slots] == [[], [signal.SIGTERM]]
    assert [slot.draining for slot in boss.slots] == [False, True]


class ExitedProcess(FakeProcess):
    returncode = 1

    def poll(self) -> int:
        return self.returncode


class RunningProcess(FakeProcess):
    def poll(self) -> None:
        return None


def test_a_process_that_keeps_failing_is_retried_while_another_serves_and_stops_all_when_none_does(
    tmp_path, monkeypatch
):
    from bkruntime import supervisor
    from bkruntime.settings import BokehServerSettings

    settings = BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path), "BOKEH_PROCESSES": "2"})
    boss = supervisor.Supervisor(settings)
    started = []
    monkeypatch.setattr(boss, "_start", lambda slot: started.append(slot.index))
    monkeypatch.setattr(supervisor.time, "sleep", lambda seconds: None)
    failing, serving = boss.slots
    failing.process, failing.fast_failures = ExitedProcess(1), supervisor.FAST_FAILURES_TO_GIVE_UP - 1
    serving.process = RunningProcess(2)
    now = time.monotonic()
    failing.started_at, serving.started_at = now, now - supervisor.FAST_FAILURE_SECONDS - 1

    assert boss._restart_after_exit(failing)
    assert started == [], "retried at once, not after a pause"
    assert failing.retry_at is not None and 0 < boss._wakeup_seconds() <= supervisor.LONGEST_RETRY_SECONDS

    failing.retry_at = None
    serving.process = ExitedProcess(2)
    assert not boss._restart_after_exit(failing), "kept retrying with no process serving"


def test_a_retry_builds_only_the_apps_that_failed(monkeypatch):
    check = SelfCheck(TEST_BOKEH_SECRET)
    good, broken = FakeContext(False), FakeContext(True)
    apps = FakeTornado(sliders=good, broken=broken)
    asyncio.run(check.run(apps))
    monkeypatch.setattr(readiness, "RETRY_FAILED_SECONDS", 0.0)
    broken.fail = False

    async def probe_until_fixed() -> None:
        deadline = time.monotonic() + 30
        while (await ask_readiness(check, apps))[1]["broken"]:
            assert time.monotonic() < deadline, "the failed app was never tried again"
            await asyncio.sleep(0.05)

    asyncio.run(probe_until_fixed())
    assert len(good.tokens) == 1, "the app that built was not built again"
    assert check.report()["apps"]["sliders"]["ok"] and check.report()["apps"]["broken"]["ok"]


def test_a_process_says_it_came_up_on_the_pipe_its_supervisor_gave_it(monkeypatch):
    from bkruntime.startup_signal import READY_FD_ENV, announce_up, came_up, open_pipe

    read_end, write_end = open_pipe()
    monkeypatch.setenv(READY_FD_ENV, str(write_end))
    announce_up()
    announce_up()  # at most once: the variable is gone and the end closed
    assert came_up(read_end)

    silent_read, silent_write = open_pipe()
    os.close(silent_write)  # the process exited without a word
    assert not came_up(silent_read)
    assert not came_up(None)


def test_a_process_killed_soon_after_it_came_up_is_not_a_failure_to_start(tmp_path, monkeypatch):
    from bkruntime import supervisor
    from bkruntime.settings import BokehServerSettings
    from bkruntime.startup_signal import open_pipe

    settings = BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path), "BOKEH_PROCESSES": "1"})
    boss = supervisor.Supervisor(settings)
    monkeypatch.setattr(boss, "_start", lambda slot: None)
    (slot,) = boss.slots
    for came_up_first in (True, False):
        slot.process, slot.started_at = ExitedProcess(1), time.monotonic()
        slot.ready_pipe, write_end = open_pipe()
        if came_up_first:
            os.write(write_end, b"1")
        os.close(write_end)
        assert boss._restart_after_exit(slot)
        assert slot.fast_failures == (0 if came_up_first else 1)
