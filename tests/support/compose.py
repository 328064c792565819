"""``docker-compose up`` for real, on podman's Docker API: what the compose tests start and stop.

``container_engine()`` checks that podman, Debian's docker-compose and debootstrap are there
(skip locally, fail under CI=true), and serves podman's Docker API on a socket of its own for
the test's lifetime. ``ComposeProject`` builds the images (the base image first, with
``deploy/base-image/build``), brings the project up on free ports, drives the healthchecks by
hand (``podman healthcheck run``: nothing schedules them without systemd) and takes it down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.servers import PROJECT_ROOT, ServerProcess, free_port

BASE_IMAGE = "localhost/aperture-base:bookworm"
BASE_IMAGE_SCRIPT = PROJECT_ROOT / "deploy" / "base-image" / "build"
HEALTHY_SECONDS = 180.0
# Building the images downloads Python packages and Debian's nginx: minutes on a fresh machine.
BUILD_SECONDS = 1200


def tool(name: str) -> str:
    """The absolute path of ``name`` on PATH (``container_engine()`` checked it is there)."""
    return shutil.which(name) or name


def _missing_tools() -> list[str]:
    return [tool for tool in ("podman", "docker-compose", "debootstrap") if not shutil.which(tool)]


@contextmanager
def container_engine() -> Iterator[str]:
    """``DOCKER_HOST`` of a podman API service started for the caller (and stopped after)."""
    missing = _missing_tools()
    problem = f"no container engine: {', '.join(missing)} not found (.ci/run installs them)" if missing else ""
    if not problem and os.geteuid() != 0:
        problem = "the compose test builds its base image with debootstrap and runs rootful podman: run as root"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    folder = tempfile.mkdtemp(prefix="aperture-podman-")
    socket_path = Path(folder) / "podman.sock"
    service = ServerProcess(
        "podman-service", [tool("podman"), "system", "service", "--time=0", f"unix://{socket_path}"], dict(os.environ)
    )
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            if service.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"podman system service did not start:\n{service.output()}")
            time.sleep(0.1)
        yield f"unix://{socket_path}"
    finally:
        service.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class ComposeProject:
    """One project of docker-compose.yml on free ports: ``site_url`` and ``standalone_url``."""

    docker_host: str
    # Override files on top of docker-compose.yml, and the variables they read.
    overrides: tuple[str, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"aperturetest{os.getpid()}")
    site_port: int = field(default_factory=free_port)
    standalone_port: int = field(default_factory=free_port)

    @property
    def site_url(self) -> str:
        return f"http://127.0.0.1:{self.site_port}"

    @property
    def standalone_url(self) -> str:
        return f"http://127.0.0.1:{self.standalone_port}"

    def env(self) -> dict[str, str]:
        inherited = {key: value for key, value in os.environ.items() if not key.startswith(("BOKEH_", "APERTURE_"))}
        return {
            **inherited,
            "DOCKER_HOST": self.docker_host,
            "APERTURE_BASE_IMAGE": BASE_IMAGE,
            "FRONT_BASE_IMAGE": BASE_IMAGE,
            "FRONT_PORT": str(self.site_port),
            "FRONT_STANDALONE_PORT": str(self.standalone_port),
            # The standalone origin and the allowed websocket origins follow (aperture.front_urls).
            "APERTURE_PUBLIC_ORIGIN": self.site_url,
            **self.variables,
        }

    def files(self) -> list[str]:
        if not self.overrides:
            return []
        return [argument for file in ("docker-compose.yml", *self.overrides) for argument in ("-f", file)]

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [tool("docker-compose"), "-p", self.name, *self.files(), *args],
            cwd=PROJECT_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"docker-compose {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def build(self) -> None:
        base = subprocess.run([str(BASE_IMAGE_SCRIPT)], timeout=BUILD_SECONDS, capture_output=True, text=True)
        if base.returncode != 0:
            raise RuntimeError(f"{BASE_IMAGE_SCRIPT.name} failed:\n{base.stdout}\n{base.stderr}")
        self.compose("build", timeout=BUILD_SECONDS)

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def healthy(self, service: str) -> bool:
        """Run the service's healthcheck once, now."""
        result = subprocess.run(
            [tool("podman"), "healthcheck", "run", self.container(service)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.returncode == 0

    def wait_healthy(self, services: list[str], seconds: float = HEALTHY_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        waiting = list(services)
        while waiting:
            waiting = [service for service in waiting if not self.healthy(service)]
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {seconds:g} s: {waiting}\n{self.logs()}")
            if waiting:
                time.sleep(1)

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail=40", check=False).stdout

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of this project that still exist."""
        label = f"label=com.docker.compose.project={self.name}"
        found = {}
        for kind in ("container", "network", "volume"):
            command = [tool("podman"), kind, "ls", "--filter", label, "--format", "json"]
            if kind == "container":
                command.insert(3, "--all")
            listed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
            found[kind] = [json.dumps(item)[:120] for item in json.loads(listed or "[]")]
        return found

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "10", check=False, timeout=300)
