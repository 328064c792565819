"""deploy/k8s/team-apps: the patches that run a team's image on the site and every Bokeh pod.

Each patch is merged onto its object of deploy/k8s as ``kubectl patch`` merges it (lists of
named items by name); the result must be valid Kubernetes, and both sides must name one image
and one ``APERTURE_APPS``, the one deploy/team-apps/Dockerfile bakes in.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
PATCHES = K8S / "team-apps"
TEAM_DOCKERFILE = ROOT / "deploy" / "team-apps" / "Dockerfile"
KUBERNETES_VERSION = "1.30.0"
# patch file -> (the file of deploy/k8s, kind, name) it patches
TARGETS = {"web.yaml": ("web.yaml", "Deployment", "web"), "bokeh.yaml": ("bokeh.yaml", "StatefulSet", "bokeh")}


def merged(target, patch):
    """``patch`` merged onto ``target``: maps key by key, lists of named maps by name."""
    if isinstance(target, dict) and isinstance(patch, dict):
        return {**target, **{key: merged(target.get(key), value) for key, value in patch.items()}}
    if isinstance(target, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch):
        by_name = {item["name"]: item for item in patch}
        result = [merged(item, by_name.pop(item["name"])) if item["name"] in by_name else item for item in target]
        return result + list(by_name.values())
    return patch


def patched(patch_file: str) -> dict:
    file, kind, name = TARGETS[patch_file]
    documents = yaml.safe_load_all((K8S / file).read_text())
    target = next(doc for doc in documents if doc and doc["kind"] == kind and doc["metadata"]["name"] == name)
    return merged(target, yaml.safe_load((PATCHES / patch_file).read_text()))


def only_container(document: dict) -> dict:
    (container,) = document["spec"]["template"]["spec"]["containers"]
    return container


def test_merging_keeps_what_the_patch_does_not_name():
    target = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "image": "x"}
    patch = {"env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}
    assert merged(target, patch) == {
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
        "image": "x",
    }


@pytest.mark.parametrize("patch_file", sorted(TARGETS))
def test_every_patched_object_is_valid_kubernetes(patch_file):
    assert sorted(path.name for path in PATCHES.glob("*.yaml")) == sorted(TARGETS)
    document = patched(patch_file)
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{patch_file}: {error.message} at {list(error.path)}")
    # The patch changed the container rather than adding a second one.
    assert only_container(document)["name"] == TARGETS[patch_file][2]


def test_the_site_and_the_bokeh_pods_run_the_team_image_with_the_apps_it_bakes_in():
    containers = [only_container(patched(patch_file)) for patch_file in sorted(TARGETS)]
    images = {container["image"] for container in containers}
    apps = {next(e["value"] for e in container["env"] if e["name"] == "APERTURE_APPS") for container in containers}
    assert len(images) == 1 and images != {"aperture:latest"}
    dockerfile = TEAM_DOCKERFILE.read_text()
    (baked,) = re.findall(r"^ENV APERTURE_APPS=(\S+)$", dockerfile, re.MULTILINE)
    assert apps == {baked}
    assert re.search(r"^COPY \. /srv/team-apps$", dockerfile, re.MULTILINE)
    assert "/srv/team-apps" in baked.split(":")
    # What the site and the replicas already had stays (their settings, their probes).
    for container in containers:
        assert container["envFrom"] and container["readinessProbe"]
