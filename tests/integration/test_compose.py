"""docker-compose.yml as ``docker-compose config`` resolves it: the layout docs/how-to/compose.md promises.

The project really runs in ``tests/browser/test_compose_in_browser.py`` (podman's Docker API);
this checks the resolved file wherever Debian's docker-compose is installed, no engine needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from bkruntime.settings import BokehServerSettings
from tests.support.servers import PROJECT_ROOT

REPLICAS = ["bokeh-0", "bokeh-1", "bokeh-2"]


TEAM_APPS_OVERRIDE = "deploy/compose/team-apps.yml"


def compose_result(*files: str, **env: str) -> subprocess.CompletedProcess:
    """``docker-compose config`` of ``files`` (the main file alone by default) with ``env`` only."""
    compose = shutil.which("docker-compose")
    if not compose:
        message = "docker-compose not found: install Debian's docker-compose package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # A bare environment, so that compose's own defaults apply rather than this shell's.
    chosen = [argument for file in files for argument in ("-f", file)]
    return subprocess.run(
        [compose, *chosen, "config"],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def compose_config(*files: str, **env: str) -> dict:
    """The services as ``docker-compose config`` resolves them with ``env`` and nothing else set."""
    result = compose_result(*files, **env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


@pytest.fixture(scope="module")
def compose_services() -> dict:
    return compose_config()


def container_environment(service: dict, instance_dir) -> dict[str, str]:
    """What a container of ``service`` starts with: a key without a value stays unset."""
    variables = {name: str(value) for name, value in service["environment"].items() if value is not None}
    return {**variables, "APERTURE_INSTANCE_DIR": str(instance_dir)}


def site_and_replica_settings(services: dict, instance_dir):
    """The settings the web container and a Bokeh replica resolve from their environment."""
    from bkruntime.settings import BokehServerSettings
    from web.settings import load_settings

    site = load_settings(container_environment(services["web"], instance_dir))
    replica = BokehServerSettings.from_environ(container_environment(services["bokeh-0"], instance_dir))
    return site, replica


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
    front = compose_services["front"]["environment"]["FRONT_BOKEH_UPSTREAMS"].split(",")
    assert front == [f"{name}:5006" for name in REPLICAS]


def test_the_site_pulls_from_each_replica_and_sends_browsers_through_the_front(compose_services, tmp_path):
    env = compose_services["web"]["environment"]
    assert env["BOKEH_PROCESSES"] == str(len(REPLICAS))
    assert env["BOKEH_PROCESS_INTERNAL_URLS"].split(",") == [f"http://{name}:5006" for name in REPLICAS]
    site, replica = site_and_replica_settings(compose_services, tmp_path)
    assert site["BOKEH_PUBLIC_URL"] == "http://localhost:8080/bokeh"
    assert site["BOKEH_PROCESS_PUBLIC_URLS"] == tuple(f"http://localhost:8080/bokeh-process/{i}" for i in range(3))
    assert site["BOKEH_STANDALONE_URL"] == "http://localhost:5006"
    assert {"localhost:8080", "localhost:5006"} <= set(site["BOKEH_ALLOW_WEBSOCKET_ORIGIN"])
    assert replica.allowed_origins == site["BOKEH_ALLOW_WEBSOCKET_ORIGIN"]
    assert replica.site_login.site_public_url == "http://localhost:8080"
    # The replicas differ only by the name the others reach them at.
    for name in REPLICAS:
        environment = {**compose_services[name]["environment"], "BOKEH_PEER_ADDRESS": None}
        assert environment == {**compose_services["bokeh-0"]["environment"], "BOKEH_PEER_ADDRESS": None}


def test_one_setting_of_the_public_port_moves_what_depends_on_it(tmp_path):
    services = compose_config(FRONT_PORT="9090", FRONT_STANDALONE_PORT="7000")
    assert sorted(str(port["published"]) for port in services["front"]["ports"]) == ["7000", "9090"]
    site, replica = site_and_replica_settings(services, tmp_path)
    assert site["BOKEH_PUBLIC_URL"] == "http://localhost:9090/bokeh"
    assert site["BOKEH_PROCESS_PUBLIC_URLS"][0] == "http://localhost:9090/bokeh-process/0"
    assert site["BOKEH_STANDALONE_URL"] == "http://localhost:7000"
    assert replica.allowed_origins == ("localhost:9090", "127.0.0.1:9090", "localhost:7000", "127.0.0.1:7000")
    assert replica.site_login.site_public_url == "http://localhost:9090"


def test_empty_secrets_are_not_passed_on(tmp_path):
    """An empty BOKEH_SECRET_KEY is a short key to Bokeh, which warns about it at import."""
    for service in ("web", *REPLICAS):
        environment = compose_config()[service]["environment"]
        assert environment["BOKEH_SECRET_KEY"] is None and environment["FLASK_SECRET_KEY"] is None
    given = compose_config(BOKEH_SECRET_KEY="k" * 40)["web"]["environment"]
    assert given["BOKEH_SECRET_KEY"] == "k" * 40


def test_the_app_images_take_their_base_as_a_build_argument(compose_services):
    for name in ("web", *REPLICAS):
        assert compose_services[name]["build"]["args"]["BASE_IMAGE"] == "python:3.12-slim"
    assert compose_services["front"]["build"]["args"]["BASE_IMAGE"] == "debian:bookworm-slim"
    assert compose_services["redis"]["build"]["args"]["BASE_IMAGE"] == "python:3.12-slim"


def test_the_site_counts_failed_logins_in_the_compose_redis(compose_services):
    assert compose_services["web"]["environment"]["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert "redis" in compose_services["web"]["depends_on"]
    assert "ports" not in compose_services["redis"], "reached by the site only"


def test_the_team_apps_override_mounts_one_folder_into_the_site_and_every_replica(tmp_path):
    services = compose_config("docker-compose.yml", TEAM_APPS_OVERRIDE, TEAM_APPS=str(tmp_path))
    for name in ("web", *REPLICAS):
        assert services[name]["environment"]["APERTURE_APPS"] == "bkapps:/srv/team-apps"
        assert sorted(services[name]["volumes"]) == sorted(
            ["instance:/app/instance:rw", f"{tmp_path}:/srv/team-apps:ro"]
        ), services[name]["volumes"]
    assert "volumes" not in services["front"]
    team_only = compose_config("docker-compose.yml", TEAM_APPS_OVERRIDE, TEAM_APPS="/x", APERTURE_APPS="/srv/team-apps")
    assert {team_only[name]["environment"]["APERTURE_APPS"] for name in ("web", *REPLICAS)} == {"/srv/team-apps"}


def test_the_team_apps_override_without_a_folder_says_what_to_set():
    result = compose_result("docker-compose.yml", TEAM_APPS_OVERRIDE)
    assert result.returncode != 0
    assert "set TEAM_APPS to the team's apps folder" in result.stderr


def test_the_replicas_find_each_other_in_the_compose_redis_by_their_service_names(compose_services, tmp_path):
    for name in REPLICAS:
        replica = compose_services[name]
        settings = BokehServerSettings.from_environ(container_environment(replica, tmp_path))
        assert settings.peer_registry_url == "redis://redis:6379/0"
        assert settings.peer_host == name
        assert "redis" in replica["depends_on"]
