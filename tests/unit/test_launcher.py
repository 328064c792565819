"""The launcher's ``bokeh serve`` command line."""

import subprocess
import sys

from aperture.catalog import CATALOG
from bkruntime.launcher import build_command
from bkruntime.settings import BokehServerSettings
from tests.support.servers import PROJECT_ROOT


def settings(tmp_path, **values):
    return BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path), **values})


def test_serves_every_catalog_app(tmp_path):
    command = build_command(settings(tmp_path))
    assert command[:2] == ["bokeh", "serve"]
    for spec in CATALOG:
        assert str(spec.path) in command


def test_security_flags_come_from_settings(tmp_path):
    command = build_command(
        settings(tmp_path, BOKEH_ALLOW_WEBSOCKET_ORIGIN="site.example:443 apps.example:443", BOKEH_PORT="7000")
    )
    joined = " ".join(command)
    assert "--allow-websocket-origin site.example:443 --allow-websocket-origin apps.example:443" in joined
    assert "--session-ids signed" in joined
    assert "--port 7000" in joined
    assert "--num-procs 1" in joined
    assert "*" not in joined


def test_optional_flags(tmp_path):
    plain = build_command(settings(tmp_path))
    assert "--prefix" not in plain and "--use-xheaders" not in plain
    tuned = build_command(settings(tmp_path, BOKEH_PREFIX="/live", BOKEH_USE_XHEADERS="true"))
    assert "--use-xheaders" in tuned
    assert tuned[tuned.index("--prefix") + 1] == "/live"


def run_launcher(tmp_path, *args, **env):
    return subprocess.run(
        [sys.executable, "-m", "bkapps", *args],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "APERTURE_INSTANCE_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_launcher_prints_its_command(tmp_path):
    result = run_launcher(tmp_path, "--print-command")
    assert result.returncode == 0, result.stderr
    assert "bokeh serve" in result.stdout


def test_launcher_refuses_bad_settings_with_one_clear_line(tmp_path):
    result = run_launcher(tmp_path, APERTURE_ENV="production")
    assert result.returncode != 0
    assert result.stderr.strip() == "bkapps: BOKEH_SECRET_KEY must be set when APERTURE_ENV=production"
