"""The front door (nginx, ``make run-front``), tried from outside as a visitor or an attacker would.

One origin serves the site, BokehJS and the embedded apps' websockets; the standalone apps open on
the front's second port. Slow clients, oversized requests and a flood of standalone sessions are
measured in counts: requests answered, refused, sessions the Bokeh processes built.
"""

from __future__ import annotations

import gzip
import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.support.bokeh_client import browser_session, embedded_session
from tests.support.front import running_front_stack
from tests.support.redis_server import running_redis
from tests.support.site_accounts import add_user, post_login

BOKEHJS = "/static/js/bokeh.min.js"
# deploy/nginx/front.py defaults
STANDALONE_RATE, STANDALONE_BURST = 2, 10
# LOGIN_RATE_LIMIT's default: failed logins per client address and account name.
LOGIN_LIMIT = 5


@pytest.fixture(scope="module")
def front():
    # Failed logins counted in Redis, as in docker-compose: the same count whichever worker answers.
    with running_redis() as redis, running_front_stack(RATELIMIT_STORAGE_URI=redis.url) as live:
        yield live


def process_sessions(front, app: str) -> int:
    """Sessions of ``app`` open in all Bokeh processes together (each process's own /healthz)."""
    total = 0
    for url in front.stack.process_urls:
        total += requests.get(f"{url}/healthz", timeout=10).json()["sessions"].get(app, 0)
    return total


def test_site_pages_and_their_sessions_go_through_one_origin(front):
    page = requests.get(f"{front.site_url}/apps/sliders?N=41", timeout=30)
    assert page.status_code == 200
    embed = embedded_session(page.text)
    assert embed.absolute_url == f"{front.site_url}/bokeh/sliders"
    assert embed.app_path == "/bokeh/sliders"
    assert f'src="{front.site_url}/bokeh{BOKEHJS}?v=' in page.text
    with browser_session(embed) as doc:
        assert len(doc.select_one({"name": "wave"}).data["x"]) == 41


def test_pulled_sessions_are_routed_to_the_process_that_built_them(front):
    seen = set()
    for _ in range(12):
        page = requests.get(f"{front.site_url}/apps/sliders/match?N=55", timeout=30)
        assert page.status_code == 200
        embed = embedded_session(page.text)
        prefix = f"{front.site_url}/bokeh-process/"
        assert embed.absolute_url.startswith(prefix)
        process = int(embed.absolute_url[len(prefix) :].split("/")[0])
        assert embed.app_path == f"/bokeh-process/{process}/sliders"
        seen.add(process)
        with browser_session(embed) as doc:
            # The site's change is there: this websocket reached the process that was pulled from.
            assert len(doc.select_one({"name": "target_wave"}).data["x"]) == 55
    assert seen <= set(range(front.processes))


def test_bokehjs_is_compressed_and_cached_for_a_year(front):
    page = requests.get(f"{front.site_url}/apps/iris", timeout=30)
    url = next(part.split('"')[0] for part in page.text.split('src="')[1:] if BOKEHJS in part.split('"')[0])
    assert "?v=" in url
    response = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30, stream=True)
    compressed = response.raw.read()
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = gzip.decompress(compressed)
    assert len(compressed) < len(plain) / 3
    # The site's own copy for the classic pages: compressed too.
    classic = requests.get(f"{front.site_url}/classic/iris", timeout=30).text
    own = next(part.split('"')[0] for part in classic.split('src="')[1:] if "/bokehjs/" in part)
    response = requests.get(f"{front.site_url}{own}", headers={"Accept-Encoding": "gzip"}, timeout=30, stream=True)
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.raw.read()) == plain


@pytest.mark.parametrize(
    "path",
    ["/bokeh/static/js/compiler.js", "/bokeh/static/lib/bokeh.d.ts", "/bokeh/sliders", "/bokeh/healthz"],
)
def test_the_site_origin_serves_only_bundles_and_websockets_of_bokeh(front, path):
    assert requests.get(front.site_url + path, timeout=10).status_code == 404


def test_standalone_apps_open_on_the_fronts_second_port(front):
    page = requests.get(f"{front.standalone_url}/sliders", timeout=30)
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    for internal in ("/healthz", "/readyz", "/readyz?recheck=1", "/stats", "/metrics"):
        assert requests.get(front.standalone_url + internal, timeout=10).status_code == 404, internal
    assert requests.get(f"{front.standalone_url}/static/js/compiler.js", timeout=10).status_code == 404


def test_the_sites_standalone_links_open_through_the_front(front):
    gallery = requests.get(f"{front.site_url}/", timeout=30).text
    link = f"{front.standalone_url}/sliders"
    assert f'href="{link}"' in gallery
    assert requests.get(link, timeout=30).status_code == 200


def trickling_client(url: str) -> socket.socket:
    """A connection that sends the start of a request and then nothing more (a slow client)."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=10)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\nX-Slow: ")
    return connection


def test_slow_clients_wait_in_the_front_not_in_gunicorn(front):
    env = front.stack.env
    threads = int(env.get("WEB_WORKERS", "2")) * int(env.get("WEB_THREADS", "4"))
    slow = [trickling_client(front.site_url) for _ in range(3 * threads)]
    try:
        answered = 0
        with requests.Session() as session:
            for _ in range(20):
                if session.get(f"{front.site_url}/healthz", timeout=5).status_code == 200:
                    answered += 1
        assert answered == 20
    finally:
        for connection in slow:
            connection.close()


def test_oversized_requests_are_refused_before_the_site(front):
    marker = "oversized-probe"
    body = requests.post(f"{front.site_url}/{marker}-body", data=b"x" * (2 * 1024 * 1024), timeout=30)
    header = requests.get(f"{front.site_url}/{marker}-header", headers={"X-Big": "y" * 20_000}, timeout=30)
    assert body.status_code == 413
    assert header.status_code in (400, 431)
    assert requests.get(f"{front.site_url}/healthz", timeout=10).status_code == 200
    # gunicorn never saw either request.
    assert marker not in front.stack.web.output()


def test_a_standalone_session_flood_leaves_embedded_pages_working(front):
    before = process_sessions(front, "sliders")
    flood_size, pages = 120, 10

    def standalone_visit(_):
        return requests.get(f"{front.standalone_url}/sliders", timeout=60).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=12) as pool:
        flood = pool.map(standalone_visit, range(flood_size))
        embedded = []
        for _ in range(pages):
            page = requests.get(f"{front.site_url}/apps/sliders?N=23", timeout=30)
            assert page.status_code == 200
            with browser_session(embedded_session(page.text)) as doc:
                embedded.append(len(doc.select_one({"name": "wave"}).data["x"]))
        statuses = list(flood)
    elapsed = time.monotonic() - started
    accepted, refused = statuses.count(200), statuses.count(429)
    assert embedded == [23] * pages
    assert accepted + refused == flood_size
    # nginx lets through the burst, then the rate; everything else is refused before Bokeh.
    assert accepted <= STANDALONE_BURST + math.ceil(STANDALONE_RATE * elapsed) + 1
    assert refused >= flood_size - (STANDALONE_BURST + math.ceil(STANDALONE_RATE * elapsed) + 1)
    # Sessions are discarded after a while, never created beyond what was let through.
    assert process_sessions(front, "sliders") - before <= accepted + pages


class SourceAddressAdapter(HTTPAdapter):
    """Connections from one loopback address of the 127.0.0.0/8 block (another visitor)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def visitor_from(address: str, forwarded_for: str | None = None) -> requests.Session:
    """A browser-like session whose connections come from ``address`` (and that may send its own
    ``X-Forwarded-For``, as an attacker would)."""
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(address))
    if forwarded_for:
        session.headers["X-Forwarded-For"] = forwarded_for
    return session


def failed_login_statuses(session: requests.Session, url: str, name: str, count: int) -> list[int]:
    return [post_login(session, url, name, "a wrong guess").status_code for _ in range(count)]


def test_visitors_behind_the_front_are_limited_each_by_their_own_address(front):
    add_user(front.stack, "grace")
    attacker = visitor_from("127.0.0.2")
    statuses = failed_login_statuses(attacker, front.site_url, "grace", LOGIN_LIMIT + 1)
    assert statuses == [200] * LOGIN_LIMIT + [429]
    # grace, from her own address, is not locked out by someone else's guesses behind the same front.
    grace = visitor_from("127.0.0.3")
    assert post_login(grace, front.site_url, "grace", "correct horse battery").status_code == 302
    account = grace.get(f"{front.site_url}/account", timeout=30).text
    assert "<td>127.0.0.3</td>" in account, "the login session records the visitor's address, not the front's"
    assert "login: grace from 127.0.0.3" in front.stack.web.output()


def test_a_forged_forwarded_for_does_not_escape_the_limit_through_the_front(front):
    statuses = []
    for index in range(LOGIN_LIMIT + 1):
        # A new made-up address per attempt: the front appends the real one, which the site takes.
        forger = visitor_from("127.0.0.4", forwarded_for=f"203.0.113.{index}")
        statuses += failed_login_statuses(forger, front.site_url, "nobody", 1)
    assert statuses == [200] * LOGIN_LIMIT + [429]


def test_a_forged_forwarded_for_sent_straight_to_gunicorn_is_ignored(stack):
    """Without a front (TRUSTED_PROXY_HOPS=0, the default) no forwarded address is believed."""
    for index in range(3):
        forger = visitor_from("127.0.0.5", forwarded_for=f"203.0.113.{index}")
        assert failed_login_statuses(forger, stack.web_url, "nobody", 1) == [200]
    # The site saw (and counted, and logged) the connection's address, never a forged one.
    assert stack.web.output().count("failed login for 'nobody' from 127.0.0.5") == 3
    assert "203.0.113." not in stack.web.output()
