"""Failed-login limits counted in a real Redis, shared by gunicorn's two workers.

Each attempt goes over a kept-alive connection known (from the worker's own sockets, via psutil)
to be held by one worker, alternating between the two, so the total counted is the sum over both
workers whatever the kernel's choice of worker for a new connection.
"""

from __future__ import annotations

import http.client
import re
import time
from urllib.parse import urlencode, urlsplit

import psutil
import pytest

from tests.support.redis_server import running_redis
from tests.support.servers import running_stack
from tests.support.site_accounts import PASSWORD, add_user, csrf_token

pytestmark = pytest.mark.integration

LIMIT = 4
PINNING_ATTEMPTS = 60


class WorkerClient:
    """One kept-alive HTTP connection to the site, with its own login cookie, held by one worker."""

    def __init__(self, web_url: str) -> None:
        parts = urlsplit(web_url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, dict[str, str], str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, dict(response.getheaders()), text

    def post_login(self, name: str, password: str) -> tuple[int, dict[str, str], str]:
        _, _, form = self.request("GET", "/login")
        fields = {"csrf_token": csrf_token(form), "name": name, "password": password, "next": ""}
        return self.request("POST", "/login", urlencode(fields))

    def local_port(self) -> int:
        return self.connection.sock.getsockname()[1]

    def close(self) -> None:
        self.connection.close()


def worker_holding(worker_pids: list[int], client_port: int) -> int | None:
    for pid in worker_pids:
        if any(conn.raddr and conn.raddr.port == client_port for conn in psutil.Process(pid).net_connections("tcp")):
            return pid
    return None


def client_on_each_worker(stack) -> dict[int, WorkerClient]:
    """A connected client per gunicorn worker (new connections until each worker holds one)."""
    workers = [child.pid for child in stack.web.children()]
    assert len(workers) == 2, workers
    pinned: dict[int, WorkerClient] = {}
    for _ in range(PINNING_ATTEMPTS):
        client = WorkerClient(stack.web_url)
        client.request("GET", "/login")
        pid = worker_holding(workers, client.local_port())
        if pid is not None and pid not in pinned:
            pinned[pid] = client
            if len(pinned) == len(workers):
                return pinned
        else:
            client.close()
    pytest.fail(f"after {PINNING_ATTEMPTS} connections, only workers {sorted(pinned)} of {workers} took one")


def attempt(pinned: dict[int, WorkerClient], pid: int, stack, name: str, password: str):
    """A login attempt through worker ``pid`` (reconnecting to it if gunicorn closed the idle connection)."""
    client = pinned[pid]
    try:
        return client.post_login(name, password)
    except (http.client.RemoteDisconnected, ConnectionError):
        client.close()
        pinned.update({pid: client for pid, client in client_on_each_worker(stack).items() if pid not in pinned})
        return pinned[pid].post_login(name, password)


@pytest.fixture
def redis():
    with running_redis() as server:
        yield server


@pytest.fixture
def limited_stack(redis):
    """Two gunicorn workers counting failed logins in the test's Redis."""
    with running_stack(RATELIMIT_STORAGE_URI=redis.url, LOGIN_RATE_LIMIT=f"{LIMIT} per hour") as stack:
        add_user(stack, "grace")
        yield stack


def test_exactly_the_limit_of_failed_logins_passes_across_both_workers(limited_stack):
    pinned = client_on_each_worker(limited_stack)
    pids = sorted(pinned)
    outcomes = []
    for number in range(2 * LIMIT + 2):
        pid = pids[number % 2]
        status, headers, page = attempt(pinned, pid, limited_stack, "grace", "a wrong guess")
        outcomes.append((pid, status))
        if status == 429:
            assert int(headers["Retry-After"]) > 0
            assert "Too many failed logins for this account from your address (4 per 1 hour)" in page
            assert re.search(r"Try again in \d+ seconds, at \d\d:\d\d:\d\d UTC", page)
        else:
            assert status == 200 and "Wrong name or password." in page
    refused_from = [index for index, (_, status) in enumerate(outcomes) if status == 429]
    assert refused_from and refused_from[0] == LIMIT, outcomes
    assert all(status == 429 for _, status in outcomes[LIMIT:]), outcomes
    assert {pid for pid, _ in outcomes[:LIMIT]} == set(pids), "both workers let failures through"
    # The right password waits too, on either worker.
    for pid in pids:
        assert attempt(pinned, pid, limited_stack, "grace", PASSWORD)[0] == 429


def test_with_redis_stopped_logins_still_work_and_the_site_says_why_in_its_log(limited_stack, redis):
    redis.stop()
    pinned = client_on_each_worker(limited_stack)
    for pid in pinned:
        status, _, page = attempt(pinned, pid, limited_stack, "grace", "a wrong guess")
        assert status == 200 and "Wrong name or password." in page
        status, headers, _ = attempt(pinned, pid, limited_stack, "grace", PASSWORD)
        assert status == 302 and headers["Location"] == "/"
        pinned[pid].cookie = ""
    deadline = time.monotonic() + 30
    warning = "Rate limit storage unreachable - falling back to in-memory storage"
    while limited_stack.web.output().count(warning) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert limited_stack.web.output().count(warning) == 2, limited_stack.web.output()[-3000:]
    # Each worker still limits what it counts itself.
    pid = sorted(pinned)[0]
    statuses = [attempt(pinned, pid, limited_stack, "grace", "a wrong guess")[0] for _ in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429], "one failure was counted before"
