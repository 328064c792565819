"""What the audit trail costs: an entry recorded by the site (a row and a JSON log line) beside a
log line alone (the naive way: grep the logs), beside the login it records; and what a refused
websocket costs a Bokeh process's event loop with and without its entry (the row is written by a
background thread, so only the hand-over should show).

Builds the site on a fresh SQLite file. Prints medians (p50) and the ratios.
Usage: ``python bench/audit_trail.py [count]`` (default 500).
"""

from __future__ import annotations

import logging
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

from aperture.audit_record import AuditRecord
from web import create_app, database
from web.accounts import audit
from web.accounts.users import create_user


def p50(count: int, call) -> float:
    """Median seconds of ``call``."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def site_side(count: int, folder: str) -> dict[str, float]:
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db", "TESTING": True, "LOG_TO_STDOUT": False}
    app = create_app(config)
    database.upgrade_schema(app)
    with app.app_context():
        create_user("bench", "a bench passphrase")
    client = app.test_client()
    form = {"name": "bench", "password": "a bench passphrase"}
    app.config["WTF_CSRF_ENABLED"] = False
    with app.test_request_context("/login", method="POST", headers={"User-Agent": "bench"}):
        results = {
            "log line only (naive)": p50(count, lambda: audit.audit_log.info(AuditRecord("logout").json_line())),
            "record (row + log line)": p50(count, lambda: audit.record("logout", actor="bench", subject="bench")),
        }
    results["a whole login (scrypt)"] = p50(max(10, count // 20), lambda: client.post("/login", data=form))
    return results


def bokeh_side(count: int, folder: str) -> dict[str, float]:
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
    from tornado.web import HTTPError
    from tornado.websocket import WebSocketHandler

    from aperture.site_login import SiteLoginReader, SiteLoginSettings
    from bkruntime.audit_writer import AuditWriter
    from bkruntime.auth_module import SiteLoginGate
    from tests.support.login_records import OpenLogins

    class Context:
        url = "/portfolio"

    class WebSocket(WebSocketHandler):
        def __init__(self):  # only what the gate reads
            self.application_context = Context()
            headers = HTTPHeaders({"Host": "localhost:5006", "User-Agent": "bench"})
            self.request = HTTPServerRequest(
                start_line=RequestStartLine("GET", "/portfolio/ws", "HTTP/1.1"), headers=headers
            )

        def get_cookie(self, name):
            return None

        def get_argument(self, name, default=None):
            return default

    settings = SiteLoginSettings(TEST_FLASK_SECRET, "aperture_session", 3600, "http://localhost:8000")
    writer = AuditWriter(f"sqlite:///{folder}/bench.db")
    gates = {
        "refusal, no entry (naive)": SiteLoginGate(SiteLoginReader(settings), TEST_BOKEH_SECRET, OpenLogins()),
        "refusal with its entry": SiteLoginGate(SiteLoginReader(settings), TEST_BOKEH_SECRET, OpenLogins(), writer),
    }

    def refuse(gate):
        try:
            gate.user(WebSocket())
        except HTTPError:
            pass

    results = {name: p50(count, lambda gate=gate: refuse(gate)) for name, gate in gates.items()}
    writer.wait_until_written()
    return results


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    # The JSON lines go to loggers with no handler here: their making is timed, not a terminal's speed.
    for name in ("web", "bkruntime"):
        logging.getLogger(name).propagate = False
    folder = tempfile.mkdtemp(prefix="aperture-bench-")
    site = site_side(count, folder)
    print(f"site, SQLite, p50 of {count}")
    for name, seconds in site.items():
        print(f"  {name:<26} {seconds * 1e6:9.0f} µs")
    print(
        f"  ratio record / log line: {site['record (row + log line)'] / site['log line only (naive)']:.1f}x;"
        f" record / login: {site['record (row + log line)'] / site['a whole login (scrypt)'] * 100:.1f}%"
    )
    bokeh = bokeh_side(count, folder)
    print(f"Bokeh process, event loop time of a refused websocket, p50 of {count}")
    for name, seconds in bokeh.items():
        print(f"  {name:<26} {seconds * 1e6:9.0f} µs")
    ratio = bokeh["refusal with its entry"] / bokeh["refusal, no entry (naive)"]
    print(f"  ratio with / without: {ratio:.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
