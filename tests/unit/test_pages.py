"""The site's pages with the Flask test client (the Bokeh server is not running here)."""

import os
import re
import socket
import struct
import threading

import pytest

from aperture.catalog import APPS_DIR, CATALOG, ConfiguredCatalog
from tests.support.apps_folder import write_apps_folder


def test_gallery_lists_every_app_with_both_links(client):
    page = client.get("/").get_data(as_text=True)
    for spec in CATALOG:
        assert spec.title in page
        assert spec.description.replace("'", "&#39;") in page
        assert f'href="/apps/{spec.name}"' in page
        assert f'href="http://localhost:5006/{spec.name}"' in page


def test_the_icon_browsers_ask_the_root_for_is_the_sites(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/static/favicon.svg")
    assert client.get(response.headers["Location"]).status_code == 200


def test_unknown_app_is_the_sites_404_page(client):
    response = client.get("/apps/nope")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "404 · Not found" in page
    assert "There is no live app called “nope”" in page
    assert 'class="site-header"' in page


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("N=5", "N: must be an integer from 10 to 2000, not 5"),
        ("N=abc", "N: must be an integer from 10 to 2000, not &#39;abc&#39;"),
        ("N=10&N=20", "N: is given more than once"),
        ("points=10", "points: is not an argument of this app (it takes: N)"),
    ],
)
def test_invalid_arguments_are_a_400_naming_the_argument(client, query, fragment):
    response = client.get(f"/apps/sliders?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert fragment in page
    assert "400 · Invalid request" in page


def test_query_strings_are_never_reflected_unescaped(client):
    response = client.get("/apps/iris?feature=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page
    response = client.get("/apps/iris?%3Cimg%20src=x%3E=1")
    assert response.status_code == 400
    assert "<img src=x>" not in response.get_data(as_text=True)


def test_bokeh_down_is_a_503_page_that_says_so(client):
    response = client.get("/apps/sliders")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    page = response.get_data(as_text=True)
    assert "The live app “Sliders” is unavailable" in page
    assert "the Bokeh server cannot be reached" in page
    assert client.get("/").status_code == 200


def test_errors_answer_json_to_json_clients(client):
    response = client.get("/apps/sliders?N=1", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json() == {
        "error": "Invalid query argument",
        "message": "N: must be an integer from 10 to 2000, not 1",
        "argument": "N",
        "status": 400,
    }
    response = client.get("/apps/sliders", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.get_json()["app"] == "Sliders"


def test_healthz_reports_the_bokeh_server(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["apps"] == CATALOG.names
    assert body["bokeh"]["reachable"] is False


def test_readyz_says_whether_the_database_has_every_migration(app, tmp_path):
    from web import create_app

    migrated = app.test_client().get("/readyz").get_json()["database"]
    assert migrated["ok"] is True and migrated["revision"] == migrated["head"]
    # A release whose migrations were not run (production does not run them at startup).
    fresh = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}"})
    response = fresh.test_client().get("/readyz")
    assert response.status_code == 503
    database = response.get_json()["database"]
    assert database["ok"] is False and "run flask --app web db upgrade" in database["error"]


def test_unexpected_errors_are_a_plain_500(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "secret internals" not in page and "Traceback" not in page


def test_a_few_late_probes_of_a_busy_bokeh_server_are_not_an_outage():
    from web.operations.bokeh_monitor import BokehMonitor, Probe

    monitor = BokehMonitor("http://127.0.0.1:1/healthz", interval=60, timeout=1)
    up = Probe(True, "", 5.0, 0.0)
    late = Probe(False, "the Bokeh server did not answer within 1 s", 1000.0, 1.0, timed_out=True)
    refused = Probe(False, "the Bokeh server cannot be reached", 0.1, 2.0)
    monitor.record(up)
    monitor.record(late)
    monitor.record(late)
    assert monitor.published is up, "a busy server may answer late twice"
    monitor.record(late)
    assert monitor.published is late, "three in a row: frozen"
    monitor.record(up)
    monitor.record(refused)
    assert monitor.published is refused, "a refused connection is an outage at once"


def test_one_reset_connection_of_a_server_that_was_up_is_asked_again_before_it_is_an_outage():
    from web.operations.bokeh_monitor import BokehMonitor, Probe

    # A real socket: its first connection is reset (a dying process's queued one), the next answered.
    listener = socket.create_server(("127.0.0.1", 0))
    answered = []

    def serve() -> None:
        for attempt in range(2):
            connection, _ = listener.accept()
            with connection:
                if attempt == 0:
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    continue
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                answered.append(True)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        monitor = BokehMonitor(f"http://127.0.0.1:{listener.getsockname()[1]}/healthz", interval=60, timeout=5)
        monitor.record(Probe(True, "", 5.0, 0.0))
        result = monitor.look()
    finally:
        thread.join(timeout=10)
        listener.close()
    # Read once the serving thread is done: it records the answer after the client may have read it.
    assert result.reachable and answered == [True]
    # Nothing listening: refused twice, an outage.
    assert not monitor.look().reachable


def navigation(page: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0])


def test_the_navigation_does_not_grow_with_the_catalog(client, tmp_path, monkeypatch):
    """The gallery lists the apps; the navigation stays one line however many there are."""
    own = navigation(client.get("/").get_data(as_text=True))
    assert not any(link.startswith("/apps/") and link != "/apps/sliders/match" for link in own)
    files = {f"app{number}.py": "" for number in range(20)}
    catalog = "".join(
        f'[[apps]]\nname = "app{number}"\ntitle = "App {number}"\nsource = "app{number}.py"\n' for number in range(20)
    )
    many = ConfiguredCatalog({"APERTURE_APPS": f"{APPS_DIR}{os.pathsep}{write_apps_folder(tmp_path, catalog, files)}"})
    # The one catalog object every module reads, now holding 25 apps.
    monkeypatch.setattr(CATALOG, "_loaded", many.load())
    page = client.get("/").get_data(as_text=True)
    assert navigation(page) == own
    assert page.count('class="app-card"') == 25
