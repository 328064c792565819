"""The product behind its front door, for tests: both servers plus nginx, as ``make run-front`` runs them.

``running_front_stack()`` starts Bokeh and gunicorn (``running_stack``) with the public URLs of a
front on free loopback ports, then nginx with a configuration rendered by
``deploy/nginx/front.py`` into a temporary folder. Without Debian's nginx the tests skip
locally and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import (
    DEFAULT_PROCESSES,
    PROJECT_ROOT,
    ServerProcess,
    Stack,
    free_port,
    running,
    running_stack,
)

FRONT_SCRIPT = PROJECT_ROOT / "deploy" / "nginx" / "front.py"


def require_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    message = "nginx not found: install Debian's nginx package (apt-get install nginx)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class FrontStack:
    """The servers, the front, and the two public URLs a browser uses."""

    stack: Stack
    front: ServerProcess
    site_url: str
    standalone_url: str

    @property
    def processes(self) -> int:
        return int(self.stack.env["BOKEH_PROCESSES"])


def front_environment(stack: Stack, site_port: int, standalone_port: int, runtime_dir: str, **overrides: str):
    env = dict(stack.env)
    env.update(
        FRONT_LISTEN=f"127.0.0.1:{site_port}",
        FRONT_STANDALONE_LISTEN=f"127.0.0.1:{standalone_port}",
        FRONT_WEB_UPSTREAM=stack.env["WEB_BIND"],
        FRONT_RUNTIME_DIR=runtime_dir,
        FRONT_ACCESS_LOG="off",
    )
    env.update(overrides)
    return env


@contextmanager
def running_front_stack(
    processes: int = DEFAULT_PROCESSES, front: dict[str, str] | None = None, **overrides: str
) -> Iterator[FrontStack]:
    """Bokeh, gunicorn and nginx in front, as ``make run-front`` starts them; all stopped afterwards."""
    nginx = require_nginx()
    site_port, standalone_port = free_port(), free_port()
    site_url, standalone_url = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{standalone_port}"
    public = {
        "BOKEH_PUBLIC_URL": f"{site_url}/bokeh",
        "BOKEH_STANDALONE_URL": standalone_url,
        "BOKEH_PROCESS_PUBLIC_URLS": f"{site_url}/bokeh-process/{{i}}",
        "BOKEH_ALLOW_WEBSOCKET_ORIGIN": f"127.0.0.1:{site_port},127.0.0.1:{standalone_port}",
        "BOKEH_USE_XHEADERS": "true",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "SITE_PUBLIC_URL": site_url,
        "TRUSTED_PROXY_HOPS": "1",
    }
    runtime_dir = tempfile.mkdtemp(prefix="aperture-front-")
    try:
        with running_stack(processes=processes, **{**public, **overrides}) as stack:
            env = front_environment(stack, site_port, standalone_port, runtime_dir, FRONT_NGINX=nginx, **(front or {}))
            with running("front", [sys.executable, str(FRONT_SCRIPT)], env, site_url + "/healthz") as server:
                yield FrontStack(stack=stack, front=server, site_url=site_url, standalone_url=standalone_url)
    finally:
        shutil.rmtree(runtime_dir, ignore_errors=True)
