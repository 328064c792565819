"""docker-compose.yml as ``docker-compose config`` resolves it: the layout the README promises.

The project really runs in ``tests/browser/test_compose_in_browser.py`` (podman's Docker API);
this checks the resolved file wherever Debian's docker-compose is installed, no engine needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.support.servers import PROJECT_ROOT

REPLICAS = ["bokeh-0", "bokeh-1", "bokeh-2"]


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


def test_only_the_front_is_published(compose_services):
    assert set(compose_services) >= {"front", "web", *REPLICAS}
    front = compose_services["front"]
    assert sorted(str(port["published"]) for port in front["ports"]) == ["5006", "8080"]
    for name in ("web", *REPLICAS):
        assert "ports" not in compose_services[name], f"{name} must be reached through the front only"


def test_replicas_are_one_process_each_from_one_image(compose_services):
    web = compose_services["web"]
    for name in REPLICAS:
        replica = compose_services[name]
        assert replica["environment"]["BOKEH_PROCESSES"] == "1"
        assert replica["image"] == web["image"]
        assert replica["restart"] == "unless-stopped"
        assert replica["healthcheck"]["test"][0] == "CMD"
        # Healthy once its apps build, not merely once it listens.
        assert "/readyz" in replica["healthcheck"]["test"][-1]
        assert "*" not in replica["environment"]["BOKEH_ALLOW_WEBSOCKET_ORIGIN"]
    front = compose_services["front"]["environment"]["FRONT_BOKEH_UPSTREAMS"].split(",")
    assert front == [f"{name}:5006" for name in REPLICAS]


def test_the_site_pulls_from_each_replica_and_sends_browsers_through_the_front(compose_services):
    env = compose_services["web"]["environment"]
    assert env["BOKEH_PROCESSES"] == str(len(REPLICAS))
    assert env["BOKEH_PROCESS_INTERNAL_URLS"].split(",") == [f"http://{name}:5006" for name in REPLICAS]
    assert env["BOKEH_PUBLIC_URL"] == "http://localhost:8080/bokeh"
    assert env["BOKEH_PROCESS_PUBLIC_URLS"] == "http://localhost:8080/bokeh-process/{i}"
    origins = env["BOKEH_ALLOW_WEBSOCKET_ORIGIN"].split(",")
    assert {"localhost:8080", "localhost:5006"} <= set(origins)
    for name in REPLICAS:
        replica = compose_services[name]["environment"]
        assert replica["BOKEH_ALLOW_WEBSOCKET_ORIGIN"] == env["BOKEH_ALLOW_WEBSOCKET_ORIGIN"]


def test_the_app_images_take_their_base_as_a_build_argument(compose_services):
    for name in ("web", *REPLICAS):
        assert compose_services[name]["build"]["args"]["BASE_IMAGE"] == "python:3.12-slim"
    assert compose_services["front"]["build"]["args"]["BASE_IMAGE"] == "debian:bookworm-slim"
    assert compose_services["redis"]["build"]["args"]["BASE_IMAGE"] == "python:3.12-slim"


def test_the_site_counts_failed_logins_in_the_compose_redis(compose_services):
    assert compose_services["web"]["environment"]["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert "redis" in compose_services["web"]["depends_on"]
    assert "ports" not in compose_services["redis"], "reached by the site only"
