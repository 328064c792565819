"""docker-compose.yml: valid, and its two services work when run as local processes.

No Docker engine runs here, so the services' commands are started as processes with the
environment ``docker-compose config`` resolves for them; the ``bokeh`` hostname reaches
loopback through the internal-URL setting, and a temporary folder stands in for the shared
``instance`` volume.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from contextlib import ExitStack

import pytest
import requests
import yaml
from bokeh.util.token import check_session_id_signature

from tests.support.bokeh_client import browser_session, embedded_session
from tests.support.servers import PROJECT_ROOT, free_port, free_ports, running, with_this_python


@pytest.fixture(scope="module")
def compose_services() -> dict:
    compose = shutil.which("docker-compose")
    if not compose:
        message = "docker-compose not found: install Debian's docker-compose package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # A bare environment, so that compose's own defaults apply rather than this shell's.
    result = subprocess.run(
        [compose, "config"],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_compose_declares_two_healthy_restarting_services(compose_services):
    assert set(compose_services) == {"web", "bokeh"}
    web, bokeh = compose_services["web"], compose_services["bokeh"]
    assert [str(port["published"]) for port in bokeh["ports"]] == ["5006", "5007", "5008"]
    assert bokeh["environment"]["BOKEH_PROCESSES"] == web["environment"]["BOKEH_PROCESSES"] == "2"
    assert [port["published"] for port in web["ports"]] == [8000]
    assert web["depends_on"] == {"bokeh": {"condition": "service_healthy"}}
    for service in (web, bokeh):
        assert service["restart"] == "unless-stopped"
        assert service["healthcheck"]["test"][0] == "CMD"
        assert service["image"] == web["image"], "one image for both services"
    assert web["environment"]["BOKEH_INTERNAL_URL"] == "http://bokeh:5006"
    assert web["environment"]["BOKEH_PUBLIC_URL"] == "http://localhost:5006"
    assert "*" not in bokeh["environment"]["BOKEH_ALLOW_WEBSOCKET_ORIGIN"]


def local_environment(service: dict, overrides: dict[str, str]) -> dict[str, str]:
    inherited = {key: value for key, value in os.environ.items() if not key.startswith(("BOKEH_", "APERTURE_", "WEB_"))}
    declared = {key: str(value) for key, value in service["environment"].items()}
    return {**inherited, **declared, **overrides}


def test_compose_services_serve_live_apps_as_local_processes(compose_services, tmp_path):
    bokeh_port, web_port, process_base = free_port(), free_port(), free_ports(2)
    bokeh_url, web_url = f"http://127.0.0.1:{bokeh_port}", f"http://127.0.0.1:{web_port}"
    web, bokeh = compose_services["web"], compose_services["bokeh"]
    # The `instance` volume both mount; the processes' own ports, published 5007-5008 in compose.
    shared = {"APERTURE_INSTANCE_DIR": str(tmp_path), "BOKEH_PROCESS_PORT_BASE": str(process_base)}
    compose_origins = bokeh["environment"]["BOKEH_ALLOW_WEBSOCKET_ORIGIN"]
    bokeh_env = local_environment(
        bokeh,
        {
            **shared,
            "BOKEH_ADDRESS": "127.0.0.1",
            "BOKEH_PORT": str(bokeh_port),
            "BOKEH_ALLOW_WEBSOCKET_ORIGIN": f"{compose_origins},127.0.0.1:{web_port}",
        },
    )
    web_env = local_environment(
        web,
        {
            **shared,
            "WEB_BIND": f"127.0.0.1:{web_port}",
            "BOKEH_INTERNAL_URL": web["environment"]["BOKEH_INTERNAL_URL"].replace(
                "bokeh:5006", f"127.0.0.1:{bokeh_port}"
            ),
            "BOKEH_PUBLIC_URL": bokeh_url,
        },
    )
    with ExitStack() as servers:
        process_health = [f"http://127.0.0.1:{process_base + index}/healthz" for index in range(2)]
        servers.enter_context(
            running("bokeh", with_this_python(shlex.split(bokeh["command"])), bokeh_env, *process_health)
        )
        servers.enter_context(
            running("web", with_this_python(shlex.split(web["command"])), web_env, web_url + "/healthz")
        )

        page = requests.get(f"{web_url}/apps/sliders?N=33", timeout=30)
        assert page.status_code == 200, page.text
        embed = embedded_session(page.text)
        # Both processes generated nothing twice: they share the development secret.
        secret = (tmp_path / "dev-bokeh-secret-key").read_text().strip()
        assert check_session_id_signature(embed.session_id, secret_key=secret.encode(), signed=True)
        with browser_session(embed) as doc:
            assert len(doc.select_one({"name": "wave"}).data["x"]) == 33
