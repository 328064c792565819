"""``deploy/container-runtime`` configures an OCI runtime that can start containers, once.

Podman is a stand-in here: it starts containers with ``runc`` and fails with crun's message for
hybrid cgroups otherwise, as on the machines where ``crun`` refused them. The real podman runs in
``tests/integration/test_container_runtime.py``.
"""

import subprocess

import pytest

from tests.support.servers import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "deploy" / "container-runtime"
HYBRID = "Error: OCI runtime error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2"

# The runtime is `--runtime NAME` if given, else the last `runtime = "NAME"` of $CONTAINERS_CONF,
# else crun (podman's choice where both are installed).
FAKE_PODMAN = f"""#!/bin/sh
runtime=$(sed -n 's/^runtime = "\\(.*\\)"$/\\1/p' "$CONTAINERS_CONF" 2>/dev/null | tail -n1)
runtime=${{runtime:-crun}}
[ "$1" = --runtime ] && {{ runtime=$2; shift 2; }}
[ "$1" = info ] && {{ echo "$runtime"; exit 0; }}
echo "$runtime $1" >> "$CALLS"
case " $WORKING " in *" $runtime "*) exit 0;; esac
echo "{HYBRID}" >&2
exit 126
"""


@pytest.fixture
def machine(tmp_path):
    """A stand-in podman on PATH; ``run(working=...)`` runs the script as root against it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "podman").write_text(FAKE_PODMAN)
    (bin_dir / "podman").chmod(0o755)
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")
    (bin_dir / "id").chmod(0o755)
    conf = tmp_path / "containers" / "containers.conf"
    calls = tmp_path / "calls"

    def run(working: str) -> subprocess.CompletedProcess:
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "CONTAINERS_CONF": str(conf),
            "CALLS": str(calls),
            "WORKING": working,
        }
        return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)

    run.conf = conf
    run.calls = lambda: calls.read_text().splitlines() if calls.exists() else []
    return run


def test_a_runtime_that_starts_containers_is_left_alone(machine):
    result = machine(working="crun runc")
    assert result.returncode == 0, result.stderr
    assert "podman's container runtime crun starts containers here" in result.stdout
    assert not machine.conf.exists()
    assert machine.calls() == ["crun run"]


def test_crun_on_hybrid_cgroups_is_replaced_by_runc_once(machine):
    machine.conf.parent.mkdir()
    machine.conf.write_text("[containers]\ndefault_ulimits = []\n")
    result = machine(working="runc")
    assert result.returncode == 0, result.stderr
    assert "crun cannot start containers here (Error: OCI runtime error: crun: cgroups in hybrid mode" in result.stdout
    assert 'setting runtime = "runc"' in result.stdout
    assert machine.conf.read_text() == '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n'
    # The trial, the other runtime, the check after writing it.
    assert machine.calls() == ["crun run", "runc run", "runc run"]

    again = machine(working="runc")
    assert again.returncode == 0, again.stderr
    assert "podman's container runtime runc starts containers here" in again.stdout
    assert machine.conf.read_text().count("runtime =") == 1


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            '[engine]\nruntime = "crun"\n\n[engine.runtimes]\ncrun = ["/usr/bin/crun"]\n',
            '[engine]\nruntime = "runc"\n\n[engine.runtimes]\ncrun = ["/usr/bin/crun"]\n',
        ),
        (
            '[engine]\nevents_logger = "file"\n[machine]\ncpus = 1\n',
            '[engine]\nevents_logger = "file"\nruntime = "runc"\n[machine]\ncpus = 1\n',
        ),
    ],
    ids=["key replaced", "key added to the section"],
)
def test_the_engine_section_that_is_there_gets_the_key(machine, before, after):
    machine.conf.parent.mkdir()
    machine.conf.write_text(before)
    result = machine(working="runc")
    assert result.returncode == 0, result.stderr
    assert machine.conf.read_text() == after


def test_no_runtime_that_works_is_said_in_one_message(machine):
    result = machine(working="")
    assert result.returncode == 1
    assert "podman cannot start a container here with any of: crun runc" in result.stderr
    assert HYBRID in result.stderr
    assert not machine.conf.exists()
