"""``docker-compose up`` really run (podman's Docker API), used through its front door in Chromium.

The images are built (on a base image made by ``deploy/base-image/build``), the project comes up
on free ports with a team's apps folder mounted by ``deploy/compose/team-apps.yml`` (one of
Bokeh's own examples, unchanged, copied into a temporary folder), its healthchecks are run by
hand until every service passes; then a live page and a standalone app are used in Chromium, the
team's app too, an image with the team's apps baked in is built FROM the project's, a shared
view is watched on two replicas at once, a Bokeh replica is killed, and ``docker-compose down -v``
must leave no container, network or volume of the project. The tests run in this order.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

from bkruntime.view_owners import rendezvous_owner
from tests.browser.test_bokeh_examples_in_browser import run_python, wait_for_drawn
from tests.browser.test_shared_views_across_processes_in_browser import (
    open_stream,
    see_one_document,
    see_one_watching,
)
from tests.integration.test_shared_views_across_replicas import wait_for
from tests.support.bokeh_client import embedded_session
from tests.support.bokeh_examples import EXAMPLES, examples_folder
from tests.support.bokeh_page import (
    column,
    model_value,
    move_first_slider_and_see_python_answer,
    redirect_websockets,
    wait_for_canvas,
)
from tests.support.compose import ComposeProject, container_engine, tool
from tests.support.page_errors import csp_violations, watch_csp
from tests.support.servers import PROJECT_ROOT
from tests.support.site_accounts import post_login

# A hang guard only: building the images on a fresh machine takes minutes, in the first test's setup.
pytestmark = pytest.mark.timeout(1800)

SERVICES = ["bokeh-0", "bokeh-1", "bokeh-2", "web", "front", "redis"]
REPLICAS = 3
# The team's app: a plain Bokeh example whose name the project's apps do not use.
TEAM_APP = "selection_histogram"
TEAM_OVERRIDE = "deploy/compose/team-apps.yml"
EXAMPLES_DIR, NO_EXAMPLES = examples_folder()
# What the replicas named in its arguments say of shared views on their own /healthz, read inside
# the compose network: the front keeps those routes from visitors.
READ_SHARED_VIEWS = (
    "import json, sys, urllib.request\n"
    "health = lambda host: json.load(urllib.request.urlopen(f'http://{host}:5006/healthz', timeout=3))\n"
    "print(json.dumps([health(host)['shared_views'] for host in sys.argv[1:]]))"
)


def team_apps_folder(parent) -> str:
    """A team's apps folder: the example copied (a link would not resolve in a container) beside
    a catalog file, readable by the containers' unprivileged user."""
    folder = parent / "team-apps"
    folder.mkdir()
    source, title = EXAMPLES[TEAM_APP]
    shutil.copy(EXAMPLES_DIR / source, folder / source)
    (folder / "catalog.toml").write_text(
        f'[[apps]]\nname = "{TEAM_APP}"\ntitle = "{title}"\n'
        f'description = "A team\'s app: Bokeh\'s example, unchanged."\nsource = "{source}"\n'
    )
    for path in (folder, *folder.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return str(folder)


@pytest.fixture(scope="module")
def team_apps(tmp_path_factory):
    """The team's folder, or None where Bokeh's examples are not found (their tests skip)."""
    return team_apps_folder(tmp_path_factory.mktemp("compose")) if EXAMPLES_DIR else None


@pytest.fixture(scope="module")
def project(team_apps):
    with container_engine() as docker_host:
        if team_apps:
            compose = ComposeProject(docker_host, overrides=(TEAM_OVERRIDE,), variables={"TEAM_APPS": team_apps})
        else:
            compose = ComposeProject(docker_host)
        try:
            compose.build()
            compose.compose("up", "-d", timeout=600)
            compose.wait_healthy(SERVICES)
            yield compose
        finally:
            compose.down()


def pulled_process(project: ComposeProject) -> int:
    page = requests.get(f"{project.site_url}/apps/sliders/match", timeout=30)
    assert page.status_code == 200, page.text
    prefix = f"{project.site_url}/bokeh-process/"
    return int(embedded_session(page.text).absolute_url[len(prefix) :].split("/")[0])


def shared_views_health(web: str) -> list[dict] | None:
    """What each replica's ``/healthz`` says of shared views, in order, asked from the ``web``
    container (None while one does not answer)."""
    replicas = [f"bokeh-{index}" for index in range(REPLICAS)]
    read = [tool("podman"), "exec", web, "python", "-c", READ_SHARED_VIEWS, *replicas]
    try:
        answer = subprocess.run(read, capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(answer.stdout) if answer.returncode == 0 else None


def registry_members(web: str) -> list[str] | None:
    """The registry's members (``bokeh-<i>:<port>``), once every replica lists all of them."""
    answers = shared_views_health(web)
    if answers and all(answer and answer["peer_registry"] for answer in answers):
        listed = {tuple(answer["peer_addresses"]) for answer in answers}
        if len(listed) == 1 and len(members := listed.pop()) == REPLICAS:
            return list(members)
    return None


def test_every_service_is_healthy_and_the_site_sees_bokeh(project):
    health = requests.get(f"{project.site_url}/healthz", timeout=10).json()
    assert health["status"] == "ok"
    assert health["bokeh"]["reachable"] is True
    assert health["websocket_origins"]["not_allowed"] == []


def test_an_embedded_app_through_the_front_runs_python(project, page):
    watch_csp(page)
    page.goto(f"{project.site_url}/apps/sliders?N=100")
    wait_for_canvas(page)
    assert model_value(page, "wave", f"{column('y')}.length") == 100
    move_first_slider_and_see_python_answer(page)
    assert csp_violations(page) == []


def test_a_standalone_app_opens_on_the_standalone_port(project, page):
    page.goto(f"{project.standalone_url}/sliders")
    wait_for_canvas(page)
    assert model_value(page, "main_plot", "model.title.text") == "my sine wave"


def test_a_team_app_from_the_mounted_folder_runs_through_the_front(project, team_apps, page):
    if not team_apps:
        pytest.skip(NO_EXAMPLES)
    watch_csp(page)
    page.goto(f"{project.site_url}/apps/{TEAM_APP}")
    wait_for_drawn(page)
    run_python(page, TEAM_APP)
    assert csp_violations(page) == []
    page.goto(f"{project.standalone_url}/{TEAM_APP}")
    wait_for_drawn(page)
    run_python(page, TEAM_APP)


def test_the_team_apps_baked_into_an_image_built_from_the_projects(project, team_apps):
    if not team_apps:
        pytest.skip(NO_EXAMPLES)
    image = f"localhost/{project.name}-team:latest"
    podman = tool("podman")
    build = [podman, "build", "-q", "-f", "deploy/team-apps/Dockerfile", "-t", image, team_apps]
    built = subprocess.run(build, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr
    try:
        names = "from aperture.catalog import CATALOG; print(' '.join(CATALOG.names))"
        run = [podman, "run", "--rm", "--network", "none", image, "python", "-c", names]
        listed = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False)
        assert listed.returncode == 0, listed.stderr
        assert TEAM_APP in listed.stdout.split() and "sliders" in listed.stdout.split()
    finally:
        subprocess.run([podman, "rmi", "-f", image], capture_output=True, timeout=120, check=False)


def test_failed_logins_through_the_front_are_counted_in_the_redis_service(project):
    answer = post_login(requests.Session(), project.site_url, "mallory", "a wrong guess")
    assert answer.status_code == 200 and "Wrong name or password." in answer.text
    scan = [tool("podman"), "exec", project.container("redis"), "redis-cli", "--scan", "--pattern", "LIMITS*"]
    keys = subprocess.run(scan, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert any(key.endswith("/mallory/failed-logins-per-account/5/1/minute") for key in keys), keys


def test_a_shared_view_watched_on_two_replicas_through_the_front_is_one_document(project, browser):
    web = project.container("web")
    members = wait_for(lambda: registry_members(web), "the replicas find each other in the registry")
    url = f"{project.site_url}/apps/stream?rate=1900"
    session_id = embedded_session(requests.get(url, timeout=30).text).session_id
    # Each replica registers as its service's name (BOKEH_PEER_ADDRESS): bokeh-<i> is replica i.
    owner = int(rendezvous_owner(session_id, members).partition(":")[0].removeprefix("bokeh-"))
    relay = (owner + 1) % REPLICAS
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    try:
        on_owner, on_relay = (context.new_page() for context in contexts)
        for page, replica in ((on_owner, owner), (on_relay, relay)):
            page.set_default_timeout(30_000)
            # The front's path to one replica, as a pulled session's page takes it.
            redirect_websockets(page, f"{project.site_url}/bokeh/", f"{project.site_url}/bokeh-process/{replica}/")
            open_stream(page, url)
        # A widget moved on one replica's page reaches the other's, both ways.
        see_one_document(on_owner, on_relay)
        # Only the relay's replica relays the view: each page is on the replica it was sent to.
        relayed = [answer["relayed_views"] for answer in shared_views_health(web) or []]
        assert relayed == [int(index == relay) for index in range(REPLICAS)]
        contexts.pop().close()
        see_one_watching(on_owner)
    finally:
        for context in contexts:
            context.close()


def test_killing_a_replica_keeps_open_pages_and_new_pages_go_to_survivors(project, browser):
    context = browser.new_context()
    try:
        open_page = context.new_page()
        open_page.set_default_timeout(30_000)
        open_page.goto(f"{project.site_url}/apps/sliders/match")
        wait_for_canvas(open_page)
        live = open_page.evaluate("() => document.querySelector('.bk-session').nextElementSibling.textContent")
        holder = next(index for index in range(REPLICAS) if f"/bokeh-process/{index}/sliders" in live)
        victim = (holder + 1) % REPLICAS

        project.compose("kill", f"bokeh-{victim}")

        # The page open on another replica keeps running Python.
        move_first_slider_and_see_python_answer(open_page)
        # New token pages are drawn (nginx skips the dead replica), new pulled pages are pulled
        # from the survivors only while the victim stays down.
        for _ in range(3):
            fresh = context.new_page()
            fresh.goto(f"{project.site_url}/apps/sliders?N=60")
            wait_for_canvas(fresh)
            assert model_value(fresh, "wave", f"{column('y')}.length") == 60
            fresh.close()
        processes = [pulled_process(project) for _ in range(6)]
        if not project.healthy(f"bokeh-{victim}"):
            assert victim not in processes
    finally:
        context.close()


def test_compose_down_leaves_no_container_network_or_volume(project):
    project.down()
    assert project.leftovers() == {"container": [], "network": [], "volume": []}
