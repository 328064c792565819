"""deploy/nginx/front.py: the front's nginx configuration, rendered from settings and accepted by nginx."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess

import pytest

from tests.support.servers import PROJECT_ROOT

_SPEC = importlib.util.spec_from_file_location("front", PROJECT_ROOT / "deploy" / "nginx" / "front.py")
front = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(front)

COMPOSE = {
    "FRONT_WEB_UPSTREAM": "web:8000",
    "FRONT_BOKEH_UPSTREAMS": "bokeh-0:5006,bokeh-1:5006,bokeh-2:5006",
}


def test_defaults_follow_the_local_bokeh_processes(tmp_path):
    settings = front.front_settings({"BOKEH_PROCESSES": "3", "BOKEH_PORT": "5106", "FRONT_RUNTIME_DIR": str(tmp_path)})
    assert settings["bokeh"] == ["127.0.0.1:5107", "127.0.0.1:5108", "127.0.0.1:5109"]
    assert settings["web"] == ["127.0.0.1:8000"]
    assert (settings["site_listen"], settings["standalone_listen"]) == ("8080", "5006")


def test_the_public_ports_are_where_it_listens_unless_told_otherwise(tmp_path):
    public = {"FRONT_PORT": "9090", "FRONT_STANDALONE_PORT": "7000", "FRONT_RUNTIME_DIR": str(tmp_path)}
    settings = front.front_settings(public)
    assert (settings["site_listen"], settings["standalone_listen"]) == ("9090", "7000")
    mapped = front.front_settings({**public, "FRONT_LISTEN": "8080", "FRONT_STANDALONE_LISTEN": "5006"})
    assert (mapped["site_listen"], mapped["standalone_listen"]) == ("8080", "5006")


def test_each_process_gets_its_own_path_and_upstream(tmp_path):
    config = front.render(front.front_settings({**COMPOSE, "FRONT_RUNTIME_DIR": str(tmp_path)}))
    for index, server in enumerate(COMPOSE["FRONT_BOKEH_UPSTREAMS"].split(",")):
        assert f"upstream bokeh_process_{index} {{\n        server {server};\n    }}" in config
        assert f"location ~ ^/bokeh-process/{index}(/[A-Za-z0-9_-]+/ws)$" in config
    assert "bokeh_process_3" not in config
    assert "@{" not in config


@pytest.mark.parametrize(
    "name, value",
    [
        ("FRONT_LISTEN", "80; include /etc/passwd"),
        ("FRONT_WEB_UPSTREAM", "web"),
        ("FRONT_BOKEH_UPSTREAMS", "bokeh-0:5006;"),
        ("FRONT_MAX_BODY_SIZE", "1g; x"),
        ("FRONT_STANDALONE_SESSION_RATE", "0"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path, name, value):
    with pytest.raises(front.FrontConfigError, match=name):
        front.front_settings({**COMPOSE, "FRONT_RUNTIME_DIR": str(tmp_path), name: value})


def test_only_host_names_are_followed_for_new_addresses(tmp_path):
    named = front.front_settings({**COMPOSE, "FRONT_RUNTIME_DIR": str(tmp_path)})
    assert front.upstream_names(named) == ["bokeh-0", "bokeh-1", "bokeh-2", "web"]
    local = front.front_settings({"BOKEH_PROCESSES": "2", "FRONT_RUNTIME_DIR": str(tmp_path)})
    assert front.upstream_names(local) == []


def test_nginx_accepts_the_rendered_configuration(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        if os.environ.get("CI"):
            pytest.fail("nginx not found: install Debian's nginx package")
        pytest.skip("nginx not found: install Debian's nginx package")
    settings = front.front_settings({"BOKEH_PROCESSES": "2", "FRONT_RUNTIME_DIR": str(tmp_path)})
    config = front.write_config(settings)
    result = subprocess.run(
        [nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(config), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
