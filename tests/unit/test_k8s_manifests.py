"""deploy/k8s: valid Kubernetes objects (kubernetes-validate, strict) that agree with each other.

The rule that keeps pulled sessions on their pod spans four files: the autoscaler's maximum,
the site's process lists, one Service per pod and one Ingress path per pod must all count the
same pods.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from aperture.environment import ConfigurationError
from web.settings import load_settings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"


def documents() -> list[dict]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found.extend(document for document in yaml.safe_load_all(path.read_text()) if document)
    return found


def named(kind: str, name: str) -> dict:
    return next(doc for doc in documents() if doc["kind"] == kind and doc["metadata"]["name"] == name)


@pytest.mark.parametrize("document", documents(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_every_object_is_valid_kubernetes(document):
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{document['kind']}/{document['metadata']['name']}: {error.message} at {list(error.path)}")


def container(kind: str, name: str) -> dict:
    (only,) = named(kind, name)["spec"]["template"]["spec"]["containers"]
    return only


def test_the_site_and_every_bokeh_pod_are_probed_on_their_health_routes():
    # The site stays in its Service without Bokeh (it serves every other page); a Bokeh pod takes
    # visitors once every app builds on it.
    for kind, name, port, ready in (("Deployment", "web", 8000, "/healthz"), ("StatefulSet", "bokeh", 5006, "/readyz")):
        probed = container(kind, name)
        assert probed["ports"][0]["containerPort"] == port
        assert probed["readinessProbe"]["httpGet"]["path"] == ready
        assert probed["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_bokeh_pods_get_the_database_of_the_secret_for_the_audit_trail():
    sources = container("StatefulSet", "bokeh")["envFrom"]
    assert {"secretRef": {"name": "aperture-secrets"}} in sources


def test_every_site_pod_and_the_migrations_use_the_one_database_of_the_secret():
    # The Bokeh pods too: they check there whether a private app's login is still open.
    for kind, name in (("Deployment", "web"), ("Job", "aperture-migrate"), ("StatefulSet", "bokeh")):
        env = {variable["name"]: variable for variable in container(kind, name)["env"]}
        reference = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert reference["name"] == "aperture-secrets" and reference["key"] == "DATABASE_URL"
        assert not reference.get("optional"), "a pod without the database must not start on a file of its own"
    assert container("Job", "aperture-migrate")["command"] == ["flask", "--app", "web", "db", "upgrade"]
    assert container("Job", "aperture-migrate")["image"] == container("Deployment", "web")["image"]
    config = named("ConfigMap", "aperture")["data"]
    environ = {**config, "BOKEH_SECRET_KEY": "k" * 48, "FLASK_SECRET_KEY": "f" * 48}
    assert load_settings(environ)["DATABASE_AUTO_UPGRADE"] is False, "the Job migrates, not the pods"


def test_pulled_sessions_have_a_route_to_every_pod_the_autoscaler_may_run():
    config = named("ConfigMap", "aperture")["data"]
    most = named("HorizontalPodAutoscaler", "bokeh")["spec"]["maxReplicas"]
    assert named("HorizontalPodAutoscaler", "bokeh")["spec"]["scaleTargetRef"]["name"] == "bokeh"
    assert int(config["BOKEH_PROCESSES"]) == most
    internal = config["BOKEH_PROCESS_INTERNAL_URLS"].split(",")
    assert internal == [f"http://bokeh-{index}.bokeh-pods:5006" for index in range(most)]
    assert named("StatefulSet", "bokeh")["spec"]["serviceName"] == "bokeh-pods"
    for index in range(most):
        selector = named("Service", f"bokeh-{index}")["spec"]["selector"]
        assert selector == {"statefulset.kubernetes.io/pod-name": f"bokeh-{index}"}
    paths = named("Ingress", "aperture-bokeh")["spec"]["rules"][0]["http"]["paths"]
    routed = {path["backend"]["service"]["name"]: path["path"] for path in paths}
    for index in range(most):
        assert re.match(routed[f"bokeh-{index}"], f"/bokeh-process/{index}/sliders/ws")


def test_websockets_get_long_timeouts_and_session_opens_a_rate_limit():
    for name in ("aperture-bokeh", "aperture-standalone"):
        annotations = named("Ingress", name)["metadata"]["annotations"]
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
        assert int(annotations["nginx.ingress.kubernetes.io/limit-rps"]) > 0
    standalone = named("Ingress", "aperture-standalone")["metadata"]["annotations"]
    assert standalone["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$binary_remote_addr"


def test_the_sites_settings_load_in_production_from_the_config_map():
    config = named("ConfigMap", "aperture")["data"]
    environ = {**config, "BOKEH_SECRET_KEY": "k" * 48, "FLASK_SECRET_KEY": "f" * 48}
    settings = load_settings(environ)
    assert settings["BOKEH_PROCESS_PUBLIC_URLS"][3] == "https://aperture.example.com/bokeh-process/3"
    assert "*" not in config["BOKEH_ALLOW_WEBSOCKET_ORIGIN"]


def test_production_refuses_a_public_url_whose_origin_bokeh_would_refuse():
    config = named("ConfigMap", "aperture")["data"]
    environ = {**config, "BOKEH_SECRET_KEY": "k" * 48, "FLASK_SECRET_KEY": "f" * 48}
    environ["BOKEH_ALLOW_WEBSOCKET_ORIGIN"] = "apps.aperture.example.com"
    with pytest.raises(ConfigurationError, match=r"must include aperture\.example\.com"):
        load_settings(environ)


def test_every_bokeh_pod_is_reached_by_the_others_at_its_pod_ip():
    env = {variable["name"]: variable for variable in container("StatefulSet", "bokeh")["env"]}
    assert env["BOKEH_PEER_ADDRESS"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
