"""Apps folders outside the project: served from their own catalog file, refused when it is wrong."""

import shutil
import subprocess
import sys

import pytest

from tests.support.apps_folder import PLAIN_ENTRY, write_apps_folder
from tests.support.servers import PROJECT_ROOT, free_port, stack_env

BAD_NAME = PLAIN_ENTRY.replace('name = "plain"', 'name = "bk-plain"')
BAD_NAME_MESSAGE = (
    "catalog.toml, app \"bk-plain\": the name must be 'plain', the name of its source 'plain': Bokeh serves "
    "the app at /plain, so pages asking for /bk-plain would never load it"
)


@pytest.fixture
def bad_catalog_env(tmp_path):
    """A stack's environment whose APERTURE_APPS names a folder with a misnamed app."""
    env = stack_env(free_port(), free_port(), 1, APERTURE_APPS=str(write_apps_folder(tmp_path / "apps", BAD_NAME)))
    yield env
    shutil.rmtree(env["APERTURE_INSTANCE_DIR"], ignore_errors=True)


def start_and_wait(argv, env):
    """Run a server command that is expected to refuse to start; its exit status and output."""
    result = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def test_the_bokeh_server_refuses_a_bad_catalog_with_one_line(bad_catalog_env):
    status, output = start_and_wait([sys.executable, "-m", "bkapps"], bad_catalog_env)
    assert status == 1
    assert output.strip() == f"bkapps: {bad_catalog_env['APERTURE_APPS']}/{BAD_NAME_MESSAGE}"


def test_the_site_refuses_a_bad_catalog_with_one_line(bad_catalog_env):
    argv = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    status, output = start_and_wait(argv, bad_catalog_env)
    assert status != 0
    assert output.strip() == f"web: {bad_catalog_env['APERTURE_APPS']}/{BAD_NAME_MESSAGE}"
