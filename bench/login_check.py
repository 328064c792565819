"""What checking the login in the site's database adds to a private app's standalone page and
websocket open on the Bokeh server (``bkruntime.auth_module`` with ``bkruntime.login_records``).

Builds the site on a fresh SQLite file with one account and one open login, takes its real cookie,
then times the Bokeh side's login decision for one request, N times each way (p50 and p99):

* page, cookie only (the naive way, before: signature and age, the cookie's own visitor);
* page, cookie + database, every lookup a cache miss (``LOGIN_CHECK_SECONDS`` elapsed each time);
* page, cookie + database, cached (requests within ``LOGIN_CHECK_SECONDS`` of each other);
* websocket, token only (signature and app, before) vs token + its login looked up (cache miss).

Usage: ``python bench/login_check.py [requests]`` (default 3000).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import TEST_BOKEH_SECRET, TEST_FLASK_SECRET

os.environ.setdefault("BOKEH_SECRET_KEY", TEST_BOKEH_SECRET)
os.environ.setdefault("FLASK_SECRET_KEY", TEST_FLASK_SECRET)

from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.websocket import WebSocketHandler

from aperture.access import may_open
from aperture.catalog import CATALOG
from aperture.session_token import mint_session, token_payload
from aperture.site_login import SiteLoginReader, SiteLoginSettings
from bkruntime.auth_module import SiteLoginGate
from bkruntime.login_records import LoginRecords
from tests.support.site_accounts import create_account, logged_in_client
from web import create_app, database

APP = "portfolio"


class Context:
    url = f"/{APP}"


class PageRequest:
    """What the gate reads of a Bokeh request handler."""

    application_context = Context()

    def __init__(self, cookie: str | None = None, token: str | None = None) -> None:
        self._cookie, self._token = cookie, token
        headers = {"Host": "localhost:5006"}
        if token:
            headers["Sec-WebSocket-Protocol"] = f"bokeh, {token}"
        self.request = HTTPServerRequest(
            start_line=RequestStartLine("GET", f"/{APP}", "HTTP/1.1"), headers=HTTPHeaders(headers)
        )

    def get_cookie(self, name):
        return self._cookie

    def get_argument(self, name, default=None):
        return default


class WebSocketRequest(PageRequest, WebSocketHandler):
    def __init__(self, *args, **kwargs) -> None:
        PageRequest.__init__(self, *args, **kwargs)


def percentiles(count: int, decide) -> tuple[float, float]:
    """p50 and p99 in microseconds of ``decide()``, each call a new request."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        decide()
        times.append((time.perf_counter() - started) * 1e6)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    folder = tempfile.mkdtemp(prefix="aperture-bench-")
    url = f"sqlite:///{folder}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    database.upgrade_schema(app)
    create_account(app, "bench")
    client = logged_in_client(app, "bench")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    settings = SiteLoginSettings(TEST_FLASK_SECRET, app.config["SESSION_COOKIE_NAME"], 3600, "http://localhost:8000")
    reader = SiteLoginReader(settings)
    uncached = SiteLoginGate(reader, TEST_BOKEH_SECRET, LoginRecords(url, 3600, cache_seconds=0.0))
    cached = SiteLoginGate(reader, TEST_BOKEH_SECRET, LoginRecords(url, 3600, cache_seconds=1.0))
    login = uncached.records.by_token(reader.login_token(cookie))
    spec = CATALOG[APP]
    bare = mint_session(TEST_BOKEH_SECRET, 300, token_payload({}, app=APP)).token
    bound = mint_session(TEST_BOKEH_SECRET, 300, token_payload({}, app=APP, login=login.id)).token

    page, websocket = PageRequest(cookie), WebSocketRequest(token=bound)
    rows = {
        "page, cookie only (before)": percentiles(count, lambda: may_open(spec, reader.visitor(cookie))),
        "page, cookie + database (miss)": percentiles(count, lambda: uncached.user(page)),
        "page, cookie + database (cached)": percentiles(count, lambda: cached.user(page)),
        "websocket, token only (before)": percentiles(count, lambda: uncached._signed_payload(bare)),
        "websocket, token + login (miss)": percentiles(count, lambda: uncached.user(websocket)),
    }
    print(f"{count} login decisions of the Bokeh server on SQLite, one open login (µs)")
    print(f"{'':<34} {'p50':>8} {'p99':>8}")
    for name, (p50, p99) in rows.items():
        print(f"{name:<34} {p50:8.1f} {p99:8.1f}")
    for kind, before, after in (
        ("page, miss", "page, cookie only (before)", "page, cookie + database (miss)"),
        ("page, cached", "page, cookie only (before)", "page, cookie + database (cached)"),
        ("websocket, miss", "websocket, token only (before)", "websocket, token + login (miss)"),
    ):
        added = rows[after][0] - rows[before][0]
        print(f"{kind:<16} adds {added:7.1f} µs at p50; ratio {rows[after][0] / rows[before][0]:.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
