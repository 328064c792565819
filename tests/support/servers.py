"""Start the real servers for tests, exactly as the Procfile (or docker-compose) starts them.

Each server runs with this interpreter on a free loopback port, its output goes to a log file
that failing tests show, readiness is polled with a deadline that gives up early if the process
dies, and ``stop()`` always terminates, waits, then kills.
"""

from __future__ import annotations

import http.client
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_BOKEH_SECRET = "test-bokeh-secret-0123456789abcdefghijklmnopqrstuvwxyz"
TEST_FLASK_SECRET = "test-flask-secret-0123456789abcdefghijklmnopqrstuvwxyz"
READY_SECONDS = 60.0


# Servers listen on ports below the kernel's ephemeral range: a test restarts a server on the
# port it had, and a port in that range may meanwhile be the local end of some client's
# connection (Chromium's, a probe's), which makes the restarted server's bind fail.
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10000
# Never the same port twice in one run: the probe that found a port free is closed at once.
_HANDED_OUT: set[int] = set()


def _listening_ports() -> range:
    try:
        first_ephemeral = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768
    return range(_LOWEST_PORT, max(first_ephemeral, _LOWEST_PORT + 2000))


def free_port() -> int:
    """A free loopback port outside the ephemeral range."""
    return free_ports(1)


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports outside the ephemeral range."""
    ports = _listening_ports()
    for _ in range(500):
        base = random.randrange(ports.start, ports.stop - count)
        if _HANDED_OUT.intersection(range(base, base + count)):
            continue
        probes = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            _HANDED_OUT.update(range(base, base + count))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports in {ports.start}..{ports.stop - 1}")


def procfile_commands(path: Path = PROJECT_ROOT / "Procfile") -> dict[str, list[str]]:
    """The Procfile's commands, bound to this interpreter (``python``/``gunicorn`` → ``-m``)."""
    commands = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            commands[name.strip()] = with_this_python(shlex.split(command))
    return commands


def with_this_python(argv: list[str]) -> list[str]:
    if argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    if argv[0] == "gunicorn":
        return [sys.executable, "-m", "gunicorn", *argv[1:]]
    return argv


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, http.client.HTTPException):
        # A probe of a loopback port nobody listens on yet can connect to itself (its own port
        # is picked from the same range) and read back its own request: not ready either.
        return None


# The servers not stopped yet: a failing test's report shows the end of their logs.
RUNNING_SERVERS: set[ServerProcess] = set()


class ServerProcess:
    """One server subprocess with its log; use ``stop()`` (or the context managers below).

    It is ready when every URL of ``ready_urls`` answers 200 (each Bokeh process's own port).
    """

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], *ready_urls: str) -> None:
        self.name = name
        self.ready_urls = ready_urls
        self._log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)
        self.process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        RUNNING_SERVERS.add(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def last_lines(self, count: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-count:])

    def wait_ready(self, seconds: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        waiting = list(self.ready_urls)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            waiting = [url for url in waiting if http_status(url) != 200]
            if not waiting:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready at {waiting} after {seconds:g} s:\n{self.output()}")

    def children(self) -> list:
        """The processes this one started (the Bokeh supervisor's server processes)."""
        import psutil

        return psutil.Process(self.pid).children()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            # A frozen (SIGSTOP) server cannot act on SIGTERM until it is continued.
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
        RUNNING_SERVERS.discard(self)


@contextmanager
def running(name: str, argv: list[str], env: Mapping[str, str], *ready_urls: str) -> Iterator[ServerProcess]:
    server = ServerProcess(name, argv, env, *ready_urls)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@dataclass
class Stack:
    """The two servers of the product, started for a test."""

    bokeh: ServerProcess
    web: ServerProcess
    bokeh_url: str
    web_url: str
    env: dict[str, str]

    @property
    def process_urls(self) -> list[str]:
        """Each Bokeh process's own URL."""
        base, count = int(self.env["BOKEH_PROCESS_PORT_BASE"]), int(self.env["BOKEH_PROCESSES"])
        return [f"http://127.0.0.1:{port}" for port in range(base, base + count)]

    def restart_bokeh(self) -> None:
        self.bokeh.stop()
        self.bokeh = ServerProcess(self.bokeh.name, self.bokeh.process.args, self.env, *self.bokeh.ready_urls)
        self.bokeh.wait_ready()

    def restart_web(self) -> None:
        self.web.stop()
        self.web = ServerProcess(self.web.name, self.web.process.args, self.env, *self.web.ready_urls)
        self.web.wait_ready()


def stack_env(bokeh_port: int, web_port: int, processes: int, **overrides: str) -> dict[str, str]:
    """Environment for both processes: loopback ports, test secrets, origins of this stack."""
    process_port_base = free_ports(processes)
    origins = [f"127.0.0.1:{port}" for port in (web_port, bokeh_port)]
    # The catalog the tests read (APERTURE_APPS) is the one the servers serve.
    env = {
        key: value
        for key, value in os.environ.items()
        if key == "APERTURE_APPS" or not key.startswith(("BOKEH_", "APERTURE_", "WEB_"))
    }
    env.update(
        APERTURE_ENV="development",
        # Its own instance folder: the stack's SQLite database is made there, never the checkout's.
        APERTURE_INSTANCE_DIR=tempfile.mkdtemp(prefix="aperture-instance-"),
        BOKEH_SECRET_KEY=TEST_BOKEH_SECRET,
        FLASK_SECRET_KEY=TEST_FLASK_SECRET,
        BOKEH_ADDRESS="127.0.0.1",
        BOKEH_PORT=str(bokeh_port),
        BOKEH_ALLOW_WEBSOCKET_ORIGIN=",".join(origins),
        BOKEH_PROCESSES=str(processes),
        BOKEH_PROCESS_PORT_BASE=str(process_port_base),
        BOKEH_INTERNAL_URL=f"http://127.0.0.1:{bokeh_port}",
        BOKEH_PUBLIC_URL=f"http://127.0.0.1:{bokeh_port}",
        # The Bokeh server sends visitors of private apps to this site's login page.
        SITE_PUBLIC_URL=f"http://127.0.0.1:{web_port}",
        BOKEH_PULL_TIMEOUT="3",
        WEB_BIND=f"127.0.0.1:{web_port}",
        WEB_WORKERS="2",
    )
    env.update(overrides)
    return env


# `make dev`'s commands: both servers reloading as files change.
DEV_COMMANDS = procfile_commands(PROJECT_ROOT / "deploy" / "Procfile.dev")

# Two Bokeh processes by default, as on the 2-core machines the product is built for: every
# test then also shows that sessions work whichever process a connection reaches.
DEFAULT_PROCESSES = 2


@contextmanager
def running_stack(
    commands: Mapping[str, list[str]] | None = None, processes: int = DEFAULT_PROCESSES, **overrides: str
) -> Iterator[Stack]:
    """Both servers, started with the Procfile's commands (or ``commands``), stopped afterwards."""
    commands = commands or procfile_commands()
    bokeh_port, web_port = free_port(), free_port()
    env = stack_env(bokeh_port, web_port, processes, **overrides)
    bokeh_url, web_url = f"http://127.0.0.1:{bokeh_port}", f"http://127.0.0.1:{web_port}"
    base = int(env["BOKEH_PROCESS_PORT_BASE"])
    ready = [f"http://127.0.0.1:{port}/healthz" for port in range(base, base + processes)]
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, env["APERTURE_INSTANCE_DIR"], ignore_errors=True)
        bokeh = stack.enter_context(running("bokeh", commands["bokeh"], env, bokeh_url + "/", *ready))
        web = stack.enter_context(running("web", commands["web"], env, web_url + "/healthz"))
        live = Stack(bokeh=bokeh, web=web, bokeh_url=bokeh_url, web_url=web_url, env=env)
        # restart_bokeh() and restart_web() may replace a process; stop whichever one is current at the end.
        stack.callback(lambda: live.bokeh.stop())
        stack.callback(lambda: live.web.stop())
        yield live
