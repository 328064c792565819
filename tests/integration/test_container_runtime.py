"""``deploy/container-runtime`` with the real podman, whose configured runtime cannot start anything.

The configured runtime fails as crun does on hybrid cgroups; the script must find the one of
crun and runc that starts a container here, write it into the (throwaway) containers.conf, and
leave that file alone on a second run. Root and podman are needed (skip, or fail under CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.support.servers import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "deploy" / "container-runtime"

BROKEN_RUNTIME = """#!/bin/sh
[ "$1" = --version ] && { echo "broken version 1.0"; exit 0; }
echo "cgroups in hybrid mode not supported, drop all controllers from cgroupv2" >&2
exit 1
"""


@pytest.fixture
def containers_conf(tmp_path):
    problem = "" if shutil.which("podman") else "podman not found (apt-get install podman)"
    if not problem and os.geteuid() != 0:
        problem = "rootful podman is what the image builds use: run as root"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    broken = tmp_path / "broken-runtime"
    broken.write_text(BROKEN_RUNTIME)
    broken.chmod(0o755)
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "broken"\n\n'
        f'[engine.runtimes]\nbroken = ["{broken}"]\n'
    )
    return conf


def run_script(conf) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)


def test_a_runtime_that_cannot_start_containers_is_replaced_by_one_that_can(containers_conf):
    result = run_script(containers_conf)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "podman's container runtime broken cannot start containers here" in result.stdout
    assert "cgroups in hybrid mode not supported" in result.stdout
    configured = re.findall(r'^runtime = "(\w+)"$', containers_conf.read_text(), re.MULTILINE)
    assert len(configured) == 1 and configured[0] in ("crun", "runc"), containers_conf.read_text()

    written = containers_conf.read_text()
    again = run_script(containers_conf)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"podman's container runtime {configured[0]} starts containers here" in again.stdout
    assert containers_conf.read_text() == written
