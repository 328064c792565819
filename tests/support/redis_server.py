"""A throwaway Redis for the login-limit and peer registry tests: Debian's ``redis-server`` on a free loopback port,
nothing saved to disk, stopped by the test that started it.

Without the package the tests skip with the reason locally, and fail under CI (``CI=true``), where
``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.support.servers import ServerProcess, free_port

READY_SECONDS = 30.0


def require_redis_server() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else "")
    if found:
        return found
    message = "redis-server not found: install Debian's redis-server package (apt-get install redis-server)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def redis_answers(port: int) -> bool:
    """True if a Redis on ``port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    process: ServerProcess
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.stop()


@contextmanager
def running_redis(port: int | None = None) -> Iterator[RedisServer]:
    """Start ``redis-server`` (on ``port``, to bring one back); yield it once it answers; always stop it."""
    binary = require_redis_server()
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="aperture-redis-")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    server = RedisServer(ServerProcess("redis", argv, os.environ), port)
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not redis_answers(port):
            if server.process.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {port}:\n{server.process.output()}")
            time.sleep(0.05)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
