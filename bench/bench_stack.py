"""The servers a benchmark compares: the product (Procfile) and the tutorial-pattern site beside it.

``running_bench_stack(processes)`` starts the Bokeh server and the Flask site exactly as the tests
do (``tests.support.servers``), plus ``bench/tutorial_site.py`` under gunicorn with the site's own
settings, pulling from the same Bokeh server. The Bokeh server allows websockets from both sites'
origins. Everything is stopped when the ``with`` block ends.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from browser_like import DocumentCheck

from tests.support.servers import Stack, free_port, procfile_commands, running, stack_env

BENCH_DIR = Path(__file__).resolve().parent
# Every page view asks for this many points, and the site's pages and the tutorial site both
# retitle the main plot: a session that shows both kept what its page asked for.
POINTS = 37
SITE_TITLE = "Sliders — served by Flask"
MATCH_TITLE = "Match the dashed wave"
# The shared view's page: ``stream`` (shared in the catalog) sampling once a second, and its
# tutorial-pattern page; both retitle the main plot, and the document must hold the app's samples.
STREAM_ARGUMENTS = "rate=1000"
STREAM_TITLE = "Stream — served by Flask"
STREAM_MODEL = "host"
# Sessions no browser uses any more are discarded within 5-7 s instead of 15-32 s, so that their
# discarding is measured with the page views that made them, not with the next benchmark. (Each
# cleanup pass that discards sessions ends with one full garbage collection: passes this
# frequent cost a little more per page view than the default interval does.) A pulled session
# must still outlive the time its browser takes to come on a loaded machine.
QUICK_CLEANUP = {"BOKEH_UNUSED_SESSION_LIFETIME_MS": "5000", "BOKEH_CHECK_UNUSED_SESSIONS_MS": "2000"}
# The tests' stacks give up on a pull after 3 s; the benchmarks run the product's default.
PULL_TIMEOUT = {"BOKEH_PULL_TIMEOUT": "5"}


@dataclass(frozen=True)
class Way:
    """One way to put a live app into a page: its page URL and what its session must show."""

    name: str
    url: str
    check: DocumentCheck
    app: str = "sliders"

    @property
    def tutorial(self) -> bool:
        """Served by the tutorial-pattern site."""
        return self.name.startswith("tutorial")


@dataclass
class BenchStack:
    """The product's two servers, and the tutorial site's URL."""

    product: Stack
    tutorial_url: str
    tutorial_pid: int

    def bokeh_processes(self) -> list[psutil.Process]:
        """The Bokeh server processes (the supervisor's children)."""
        return self.product.bokeh.children()

    def web_processes(self, tutorial: bool = False) -> list[psutil.Process]:
        """The gunicorn workers of the site (or of the tutorial site)."""
        master = psutil.Process(self.tutorial_pid) if tutorial else psutil.Process(self.product.web.pid)
        return master.children()

    def ways(self, shared: bool = False) -> list[Way]:
        """The tutorial pattern, the site's token path and its pull path, in that order; with
        ``shared``, then ``stream``'s tutorial-pattern page and its shared view on the site."""
        site = self.product.web_url
        ways = [
            Way("tutorial", f"{self.tutorial_url}/sliders?N={POINTS}", DocumentCheck(POINTS, SITE_TITLE)),
            Way("token", f"{site}/apps/sliders?N={POINTS}", DocumentCheck(POINTS, SITE_TITLE)),
            Way("pull", f"{site}/apps/sliders/match?N={POINTS}", DocumentCheck(POINTS, MATCH_TITLE, "target_wave")),
        ]
        if shared:
            stream = DocumentCheck(None, STREAM_TITLE, STREAM_MODEL)
            ways += [
                Way("tutorial_stream", f"{self.tutorial_url}/stream?{STREAM_ARGUMENTS}", stream, app="stream"),
                Way("shared", f"{site}/apps/stream?{STREAM_ARGUMENTS}", stream, app="stream"),
            ]
        return ways

    def open_sessions(self) -> int:
        """Sessions the Bokeh processes hold right now (any app)."""
        return self._metric_total("aperture_bokeh_open_sessions")

    def sessions_built(self, app: str = "sliders") -> int:
        """Sessions of ``app`` the Bokeh processes have built so far."""
        return self._metric_total("aperture_bokeh_sessions_created_total", app)

    def shared_view_replies(self) -> dict[str, int]:
        """Documents the Bokeh processes sent to viewers joining shared views so far: ``reused``
        (made for an earlier viewer, unchanged since) and ``serialised``."""
        pattern = re.compile(r'^aperture_bokeh_shared_view_replies_total\{[^}]*reply="(\w+)"\} ([0-9.e+]+)$', re.M)
        totals = {"reused": 0, "serialised": 0}
        for url in self.product.process_urls:
            for reply, value in pattern.findall(requests.get(f"{url}/metrics", timeout=10).text):
                totals[reply] = totals.get(reply, 0) + int(float(value))
        return totals

    def _metric_total(self, name: str, app: str | None = None) -> int:
        """A per-app metric of the Bokeh processes (their ``/metrics``), summed over processes and
        apps (or for ``app`` only). Cheaper for them to answer than ``/healthz``."""
        pattern = re.compile(rf'^{name}{{app="([^"]*)",[^}}]*}} ([0-9.e+]+)$', re.M)
        total = 0
        for url in self.product.process_urls:
            for found, value in pattern.findall(requests.get(f"{url}/metrics", timeout=10).text):
                if app is None or found == app:
                    total += int(float(value))
        return total

    def wait_until_no_sessions(self, seconds: float = 60.0) -> float:
        """Wait until every session was discarded; returns how long that took."""
        started = time.monotonic()
        while self.open_sessions() > 0:
            if time.monotonic() - started > seconds:
                raise RuntimeError(f"sessions still open after {seconds:g} s")
            time.sleep(0.5)
        return time.monotonic() - started


def machine_load() -> str:
    """The machine's load next to its cores: the benchmarks share it with whatever else runs."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU time used so far by ``processes`` (those that still run)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@contextmanager
def running_bench_stack(processes: int, **overrides: str) -> Iterator[BenchStack]:
    """The product with ``processes`` Bokeh processes, and the tutorial site, both on loopback."""
    commands = procfile_commands()
    bokeh_port, web_port, tutorial_port = free_port(), free_port(), free_port()
    origins = ",".join(f"127.0.0.1:{port}" for port in (web_port, bokeh_port, tutorial_port))
    env = stack_env(
        bokeh_port, web_port, processes, BOKEH_ALLOW_WEBSOCKET_ORIGIN=origins, **{**PULL_TIMEOUT, **overrides}
    )
    bokeh_url, web_url = f"http://127.0.0.1:{bokeh_port}", f"http://127.0.0.1:{web_port}"
    tutorial_url = f"http://127.0.0.1:{tutorial_port}"
    base = int(env["BOKEH_PROCESS_PORT_BASE"])
    ready = [f"http://127.0.0.1:{port}/healthz" for port in range(base, base + processes)]
    tutorial_env = {**env, "WEB_BIND": f"127.0.0.1:{tutorial_port}", "BOKEH_SIGN_SESSIONS": "true"}
    tutorial_argv = [*commands["web"], "--pythonpath", str(BENCH_DIR), "tutorial_site:create_app()"]
    with ExitStack() as stack:
        bokeh = stack.enter_context(running("bokeh", commands["bokeh"], env, bokeh_url + "/", *ready))
        web = stack.enter_context(running("web", commands["web"], env, web_url + "/healthz"))
        tutorial = stack.enter_context(running("tutorial", tutorial_argv, tutorial_env, tutorial_url + "/healthz"))
        product = Stack(bokeh=bokeh, web=web, bokeh_url=bokeh_url, web_url=web_url, env=env)
        yield BenchStack(product=product, tutorial_url=tutorial_url, tutorial_pid=tutorial.pid)
