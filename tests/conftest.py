"""Shared fixtures: a Flask app per test, and one running stack of both servers per session.

The test process and the servers it starts sign with fixed test secrets.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.servers import RUNNING_SERVERS, TEST_BOKEH_SECRET, TEST_FLASK_SECRET, free_port, running_stack

os.environ.update(
    APERTURE_ENV="development",
    BOKEH_SECRET_KEY=TEST_BOKEH_SECRET,
    FLASK_SECRET_KEY=TEST_FLASK_SECRET,
)

import pytest

from web import create_app, database


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report ends with the last lines of every server still running: what the
    servers said is often the only clue to a failure seen once, on another machine."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in sorted(RUNNING_SERVERS, key=lambda server: server.pid):
            report.sections.append((f"{server.name} (pid {server.pid}) log, last lines", server.last_lines()))


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    """A SQLite file with every migration applied, made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("database") / "aperture.db"
    database.upgrade_schema(create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}))
    return path


@pytest.fixture
def app(closed_port, migrated_database, tmp_path):
    """The site, pointed at a Bokeh server that is not running unless a test says otherwise,
    with a database of its own."""
    database_path = tmp_path / "aperture.db"
    shutil.copyfile(migrated_database, database_path)
    return create_app(
        {
            "TESTING": True,
            "BOKEH_INTERNAL_URL": f"http://127.0.0.1:{closed_port}",
            "BOKEH_PUBLIC_URL": "http://localhost:5006",
            "BOKEH_PULL_TIMEOUT": 2.0,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def monitor_reports(app, monkeypatch):
    """Make the site believe the Bokeh server is up (or down, and why) without one running.

    Its processes also publish what each app's document needs (``needs``; by default, for the
    project's own apps, their declared bundles and no JS code strings), as their self-check would.
    """
    from aperture.catalog import CATALOG
    from aperture.document_needs import DocumentNeeds
    from web.operations.bokeh_monitor import Probe

    def report(reachable: bool, reason: str = "", needs=None) -> None:
        monitor = app.extensions["bokeh_embed"].monitor
        if needs is None:
            needs = {spec.name: DocumentNeeds(spec.bokehjs, False) for spec in CATALOG}
        monkeypatch.setattr(monitor, "latest", lambda: Probe(reachable, reason, 0.0, 0.0))
        monkeypatch.setattr(monitor, "needs_of", needs.get)

    return report


@pytest.fixture(scope="session")
def stack():
    """Bokeh server and gunicorn, started by the Procfile's commands, shared by read-only tests."""
    with running_stack() as live:
        yield live


@pytest.fixture
def fragile_stack():
    """A stack of its own for tests that stop, freeze or restart the Bokeh server."""
    with running_stack(BOKEH_PULL_TIMEOUT="2") as live:
        yield live


@pytest.fixture(scope="session")
def accounts(stack):
    """Two accounts on the shared stack: ``alice`` (no role) and ``ada`` (admin)."""
    from tests.support.site_accounts import add_user

    add_user(stack, "alice")
    add_user(stack, "ada", "--admin")
    return {"user": "alice", "admin": "ada"}
