"""``make dev``'s pieces: what the Bokeh side watches, and the site's development server and pages."""

import os

import pytest

from aperture.catalog import ConfiguredCatalog
from bkruntime.dev_reload import RUNTIME_DIR, AppFiles, watched_files
from tests.support.apps_folder import PLAIN_APP, PLAIN_ENTRY, write_apps_folder
from web import dev_server

SINGLE = '\n[[apps]]\nname = "single"\ntitle = "Single"\nsource = "single.py"\n'


@pytest.fixture
def folder(tmp_path):
    return write_apps_folder(tmp_path, PLAIN_ENTRY + SINGLE, {**PLAIN_APP, "single.py": "", "notes/todo.txt": ""})


def test_the_catalog_its_apps_files_and_the_runtime_are_watched(folder):
    (folder / "plain" / "__pycache__").mkdir()
    (folder / "plain" / "__pycache__" / "main.cpython-311.pyc").write_text("")
    (folder / "plain" / "theme.yaml").write_text("")
    files = watched_files([folder], ConfiguredCatalog({"APERTURE_APPS": str(folder)}).load())
    assert {folder / "catalog.toml", folder / "single.py", folder / "plain" / "theme.yaml"} <= files
    assert {folder / "plain" / name for name in ("__init__.py", "data.py", "main.py")} <= files
    assert RUNTIME_DIR / "kit" / "app_session.py" in files
    assert RUNTIME_DIR.parent / "aperture" / "catalog.py" in files
    assert not any("__pycache__" in path.parts or path.suffix == ".txt" for path in files)
    # A catalog that does not read yet: its file is still watched, for the fix.
    assert folder / "catalog.toml" in watched_files([folder], None)


def test_changes_are_seen_once(folder):
    catalog = ConfiguredCatalog({"APERTURE_APPS": str(folder)}).load()
    files = AppFiles(lambda: watched_files([folder], catalog))
    assert files.changed() == []
    main = folder / "plain" / "main.py"
    stat = main.stat()
    os.utime(main, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert files.changed() == [main]
    assert files.changed() == []
    (folder / "plain" / "more.py").write_text("")
    assert files.changed() == [folder / "plain" / "more.py"]
    (folder / "single.py").unlink()
    assert files.changed() == [folder / "single.py"]


def test_the_development_site_answers_a_bad_catalog_with_its_message(tmp_path, monkeypatch):
    import web

    bad = write_apps_folder(tmp_path / "apps", PLAIN_ENTRY.replace('"plain"\n    title', '"other"\n    title'))
    monkeypatch.setattr(web, "CATALOG", ConfiguredCatalog({"APERTURE_APPS": str(bad)}))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'aperture.db'}")
    site = dev_server.build_site()
    answers = []
    body = b"".join(site({}, lambda status, headers: answers.append(status)))
    assert answers == ["500 Internal Server Error"]
    assert b"app &quot;other&quot;: the name must be &#x27;plain&#x27;" in body


def test_pages_reload_after_a_rebuild_in_debug_mode_only(app, monitor_reports):
    monitor_reports(True)
    page = app.test_client().get("/apps/sliders").get_data(as_text=True)
    assert "live_session.js" in page and "data-reload-on-reconnect" not in page
    app.debug = True
    page = app.test_client().get("/apps/sliders").get_data(as_text=True)
    assert 'data-reload-on-reconnect="/healthz"' in page


def test_the_development_server_refuses_production(monkeypatch):
    monkeypatch.setenv("APERTURE_ENV", "production")
    with pytest.raises(SystemExit, match="development only"):
        dev_server.main()


def test_a_bad_catalog_at_the_start_waits_for_its_fix(tmp_path, monkeypatch, caplog):
    from bkruntime.dev_reload import DevSupervisor
    from bkruntime.settings import BokehServerSettings

    folder = write_apps_folder(tmp_path / "apps", PLAIN_ENTRY.replace('source = "plain"', 'source = "gone"'), PLAIN_APP)
    monkeypatch.setenv("APERTURE_APPS", str(folder))
    # The supervisor tells its processes through its environment; restored after the test.
    monkeypatch.setenv("APERTURE_RELOAD_APPS", "0")
    supervisor = DevSupervisor(BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path)}))
    started = []
    monkeypatch.setattr(supervisor, "_start", lambda slot: started.append(slot.index))
    supervisor._start_all()
    assert started == []
    assert "source 'gone' does not exist" in caplog.text and "the apps start once it is fixed" in caplog.text

    catalog = folder / "catalog.toml"
    catalog.write_text(catalog.read_text().replace('source = "gone"', 'source = "plain"'))
    stat = catalog.stat()
    os.utime(catalog, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    supervisor._on_wakeup()
    assert started == list(range(len(supervisor.slots)))
    assert supervisor.catalog.names == ["plain"]


def test_this_bokeh_allows_rebuilding_one_app_in_place():
    """If a Bokeh upgrade moves what the swap uses, this fails (and `make dev` restarts instead)."""
    from bkruntime.app_reload import supported

    assert supported()


def test_the_supervisor_leaves_app_files_to_the_processes_when_they_rebuild_in_place(folder, monkeypatch):
    from bkruntime import app_reload
    from bkruntime.dev_reload import reload_in_place

    environ = {}
    assert reload_in_place(environ) is True and environ == {app_reload.RELOAD_APPS_ENV: "1"}
    monkeypatch.setattr(app_reload, "supported", lambda: False)
    assert reload_in_place(environ) is False and environ == {}


def test_restarts_on_every_save_can_be_asked_for_and_a_bad_value_is_named(monkeypatch, tmp_path):
    from aperture.environment import ConfigurationError
    from bkruntime import launcher
    from bkruntime.app_reload import RELOAD_APPS_ENV
    from bkruntime.dev_reload import reload_in_place

    environ = {"APERTURE_DEV_RESTART_ON_SAVE": "true", RELOAD_APPS_ENV: "1"}
    assert reload_in_place(environ) is False and RELOAD_APPS_ENV not in environ
    with pytest.raises(ConfigurationError, match="APERTURE_DEV_RESTART_ON_SAVE"):
        reload_in_place({"APERTURE_DEV_RESTART_ON_SAVE": "sometimes"})
    monkeypatch.setenv("APERTURE_DEV_RESTART_ON_SAVE", "sometimes")
    monkeypatch.setenv("APERTURE_INSTANCE_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match=r"bkapps: .*APERTURE_DEV_RESTART_ON_SAVE"):
        launcher.main(["--dev"])


def test_a_rebuild_reads_the_apps_own_modules_afresh(folder, monkeypatch):
    import importlib
    import sys

    from bkruntime.app_reload import forget_modules

    monkeypatch.syspath_prepend(str(folder))
    data = importlib.import_module("plain.data")
    assert data.POINTS[0] == (1, 1)
    (folder / "plain" / "data.py").write_text("POINTS = [(0, 0)]\n")
    assert sorted(forget_modules((folder / "plain").resolve())) == ["plain", "plain.data"]
    assert "plain.data" not in sys.modules
    assert importlib.import_module("plain.data").POINTS == [(0, 0)]
