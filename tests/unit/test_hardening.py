"""What the site sends besides its pages: security headers, caching, Allow, origins, BokehJS files."""

from __future__ import annotations

import gzip
import os
import re
import stat
import subprocess
import sys

import bokeh
import pytest
from gunicorn.config import KNOWN_SETTINGS

from aperture.environment import _development_secret
from tests.support.servers import PROJECT_ROOT
from web import create_app

BOKEHJS = f"/bokehjs/{bokeh.__version__}/static/js"
_SCRIPT = re.compile(r"<script\b([^>]*)>")


def csp(response) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    return {name: value for name, value in directives}


@pytest.mark.parametrize("path", ["/", "/classic/iris", "/healthz", "/api/apps", "/no-such-page", "/apps/sliders"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    policy = csp(response)
    assert policy["frame-ancestors"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_inline_scripts_carry_this_responses_nonce(client):
    first, second = client.get("/classic/iris"), client.get("/classic/iris")
    nonce = re.search(r"'nonce-([^']+)'", csp(first)["script-src"]).group(1)
    assert nonce not in csp(second)["script-src"], "one nonce per response"
    inline = [attributes for attributes in _SCRIPT.findall(first.text) if "src=" not in attributes]
    assert inline, "the classic page has inline scripts"
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline)


def test_live_pages_allow_scripts_and_websockets_of_the_bokeh_server_only(client, monitor_reports):
    monitor_reports(True)
    response = client.get("/apps/sliders")
    policy = csp(response)
    assert "http://localhost:5006" in policy["script-src"]
    assert "ws://localhost:5006" in policy["connect-src"]
    # Live apps need no eval; the classic stream page's CustomJS does, and only it gets it.
    assert "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-eval'" in csp(client.get("/classic/stream"))["script-src"]
    nonce = re.search(r"'nonce-([^']+)'", policy["script-src"]).group(1)
    inline = [attributes for attributes in _SCRIPT.findall(response.text) if "src=" not in attributes]
    assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline)


def test_pages_carrying_session_tokens_are_never_stored(client, monitor_reports):
    monitor_reports(True)
    assert client.get("/apps/sliders").headers["Cache-Control"] == "no-store"
    assert client.get("/dashboard").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


def test_method_not_allowed_says_which_methods_are(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize(
    "path",
    [
        "/compiler.js",
        "/bokeh.d.ts",
        "/lib/index.js",
        "/../../../../etc/passwd",
        "/bokeh.min.js.map",
    ],
)
def test_bokehjs_route_serves_only_the_bundles(client, path):
    assert client.get(f"{BOKEHJS}{path}").status_code == 404


def test_bokehjs_bundles_are_compressed_for_clients_that_accept_it(client):
    plain = client.get(f"{BOKEHJS}/bokeh.min.js")
    packed = client.get(f"{BOKEHJS}/bokeh.min.js", headers={"Accept-Encoding": "gzip, br"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert "immutable" in packed.headers["Cache-Control"]


def test_healthz_says_when_bokeh_would_refuse_the_public_urls_origin(closed_port):
    app = create_app(
        {
            "TESTING": True,
            "BOKEH_INTERNAL_URL": f"http://127.0.0.1:{closed_port}",
            "BOKEH_PUBLIC_URL": "http://localhost:5999",
            "BOKEH_ALLOW_WEBSOCKET_ORIGIN": ("localhost:8000",),
        }
    )
    body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "misconfigured"
    assert body["websocket_origins"]["not_allowed"] == ["localhost:5999"]


def test_healthz_names_page_hosts_bokeh_would_refuse(client, monitor_reports):
    monitor_reports(True)
    assert client.get("/healthz").get_json()["websocket_origins"]["ok"] is True
    client.get("/apps/sliders", base_url="http://localhost:8123")
    report = client.get("/healthz").get_json()["websocket_origins"]
    assert report["not_allowed"] == ["localhost:8123"]


def test_development_secret_is_never_readable_by_others(tmp_path):
    previous = os.umask(0)
    try:
        _development_secret(tmp_path / "dev-secret")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "dev-secret").stat().st_mode) == 0o600


def test_gunicorn_control_socket_setting_exists_and_is_off():
    assert any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)
    assert "\ncontrol_socket_disable = True\n" in (PROJECT_ROOT / "gunicorn.conf.py").read_text()


@pytest.mark.parametrize("name, value", [("BOKEH_PORT", "70000"), ("BOKEH_PROCESS_PORT_BASE", "65535")])
def test_bokeh_refuses_out_of_range_ports_with_a_message(name, value):
    env = {key: item for key, item in os.environ.items() if not key.startswith("BOKEH_")}
    env.update({"BOKEH_SECRET_KEY": "s" * 40, "BOKEH_PROCESSES": "2", name: value})
    result = subprocess.run(
        [sys.executable, "-m", "bkapps", "--print-command"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("bkapps: BOKEH_")
    assert "ERROR:" not in result.stderr
