"""``make test`` sets up the Debian packages its tests need, or says the one command to run."""

import os
import subprocess

import pytest

from tests.support.servers import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "deploy" / "system-packages"
PACKAGES = "chromium docker-compose make postgresql nginx podman debootstrap redis-server"


@pytest.fixture
def machine(tmp_path):
    """Stand-ins for dpkg-query, id, sudo and apt-get on PATH; ``run()`` runs the script there."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    conf = tmp_path / "containers" / "containers.conf"

    def stub(name: str, body: str) -> None:
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)

    def run(installed: str = "", uid: int = 1000, sudo: bool = False) -> subprocess.CompletedProcess:
        # dpkg-query -W -f=... PACKAGE: the package is the last argument.
        stub(
            "dpkg-query",
            f'for p in "$@"; do last=$p; done; case " {installed} " in *" $last "*) echo "install ok installed";; esac',
        )
        stub("id", f"echo {uid}")
        stub("apt-get", f'echo "apt-get $*" >> {calls}')
        # Its runtime starts containers (tests/unit/test_container_runtime.py has the other cases).
        stub("podman", '[ "$1" = info ] && echo runc; exit 0')
        if sudo:
            stub("sudo", f'[ "$1" = -n ] && shift; [ "$1" = true ] && exit 0; echo "sudo $*" >> {calls}; "$@"')
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "CONTAINERS_CONF": str(conf)}
        return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)

    run.calls = lambda: calls.read_text().splitlines() if calls.exists() else []
    run.conf = conf
    return run


def test_nothing_to_do_when_every_package_is_there(machine):
    result = machine(installed=PACKAGES, uid=0)
    assert result.returncode == 0, result.stderr
    assert machine.calls() == []
    # podman's containers start only with empty default ulimits here.
    assert machine.conf.read_text() == "[containers]\ndefault_ulimits = []\n"
    # And a trial container started with podman's runtime.
    assert "podman's container runtime runc starts containers here" in result.stdout
    assert machine(installed=PACKAGES, uid=0).returncode == 0
    assert machine.conf.read_text().count("default_ulimits") == 1


def test_without_a_way_to_install_it_stops_with_the_one_command(machine):
    result = machine(installed="make chromium postgresql")
    assert result.returncode == 1
    missing = "docker-compose nginx podman debootstrap redis-server"
    assert f"Install them with:  sudo apt-get install -y {missing}" in result.stderr
    assert machine.calls() == []


def test_with_sudo_it_installs_what_is_missing(machine):
    result = machine(installed="make chromium postgresql docker-compose podman debootstrap redis-server", sudo=True)
    assert result.returncode == 0, result.stderr
    assert machine.calls()[:4] == [
        "sudo apt-get update",
        "apt-get update",
        "sudo apt-get install -y nginx",
        "apt-get install -y nginx",
    ]


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "```sh\nmake test\n```" in readme
    commands = [line for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make")]
    assert commands == ["make test"]
    assert os.access(SCRIPT, os.X_OK)
