"""Embedding must not leak: a worker's open file descriptors stay flat over many page views."""

from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from tests.support.servers import running_stack

EMBEDS = 200
CONCURRENCY = 4
# Room for what a worker legitimately opens on its own (a log file, a keep-alive socket).
SLACK = 6


@pytest.fixture(scope="module")
def one_worker_stack():
    with running_stack(WEB_WORKERS="1", WEB_THREADS=str(CONCURRENCY)) as live:
        yield live


def worker_fds(stack) -> int:
    (worker,) = psutil.Process(stack.web.pid).children()
    return worker.num_fds()


def test_worker_fd_count_stays_flat_over_many_embeds(one_worker_stack):
    url = f"{one_worker_stack.web_url}/apps/sliders"

    def view(_):
        with requests.get(url, timeout=60) as response:
            return response.status_code

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        assert set(pool.map(view, range(20))) == {200}  # warm up every worker thread
        before = worker_fds(one_worker_stack)
        statuses = list(pool.map(view, range(EMBEDS)))
    after = worker_fds(one_worker_stack)
    assert statuses.count(200) == EMBEDS
    assert after - before <= SLACK, f"{after - before} fds more after {EMBEDS} embeds"
