"""``python -m bkapps --dev``: serve the new code as soon as an app's file or a catalog changes.

A saved app file is rebuilt inside the running Bokeh processes, that app alone
(``bkruntime.app_reload``: each process watches its apps' files and swaps in the rebuilt app; its
open pages reconnect to the new code in a second or two). ``DevSupervisor`` looks at the catalog
files and the runtime's modules twice a second; on a change it reads the catalog files again and,
if they read, restarts its processes, which then serve the new catalog and code. A catalog that
does not read is logged in one line and the processes keep serving the last good one (none yet:
nothing starts) until the next save. Where this Bokeh does not allow the swap
(``app_reload.supported()``), a warning says so and an app's file is watched here too: every save
restarts the processes. Pages follow by themselves: BokehJS reconnects and pulls the rebuilt
document, as with ``bokeh serve --dev``, and the site's pages reload in development
(``static/live_session.js``).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from aperture.catalog import CATALOG_FILE, AppCatalog, apps_folders
from aperture.catalog_file import CatalogError, read_catalogs
from aperture.environment import env_bool
from bkruntime.settings import BokehServerSettings
from bkruntime.supervisor import STOP_SECONDS, Supervisor

log = logging.getLogger("bkruntime.supervisor")

# The runtime's modules, its kit and the contract it shares with the site: a change to any of them
# rebuilds the apps too.
RUNTIME_DIR = Path(__file__).resolve().parent
RUNTIME_FOLDERS = (RUNTIME_DIR, RUNTIME_DIR / "kit", RUNTIME_DIR.parent / "aperture")
# What an app's folder holds that Bokeh reads: code, templates, styles, themes, data.
WATCHED_SUFFIXES = frozenset({".py", ".html", ".css", ".js", ".yaml", ".yml", ".toml", ".json", ".csv"})
POLL_SECONDS = 0.5
# true: a saved app file restarts every Bokeh process, as before apps were rebuilt in place.
RESTART_ON_SAVE_ENV = "APERTURE_DEV_RESTART_ON_SAVE"


def app_files(path: Path) -> set[Path]:
    """The files of the app at ``path`` (a folder, or a single module) that Bokeh reads."""
    if not path.is_dir():
        return {path}
    return {found for found in path.rglob("*") if found.suffix in WATCHED_SUFFIXES and "__pycache__" not in found.parts}


def watched_files(folders: Iterable[Path], catalog: AppCatalog | None) -> set[Path]:
    """The catalog files of ``folders``, the files of ``catalog``'s apps and the runtime's modules."""
    files = {folder / CATALOG_FILE for folder in folders} | {
        path for folder in RUNTIME_FOLDERS for path in folder.glob("*.py")
    }
    for spec in catalog or ():
        files |= app_files(spec.path)
    return files


def _modified(files: Iterable[Path]) -> dict[Path, int]:
    times = {}
    for path in files:
        try:
            times[path] = path.stat().st_mtime_ns
        except OSError:
            times[path] = -1  # absent: its appearance is a change too
    return times


class AppFiles:
    """The watched files and when each was last modified; ``changed()`` says which moved since."""

    def __init__(self, files: Callable[[], set[Path]]) -> None:
        self._files = files
        self._times = _modified(files())

    def changed(self) -> list[Path]:
        """The files modified, added or removed since the last call (or the start)."""
        times = _modified(self._files())
        moved = sorted(path for path in times.keys() | self._times.keys() if times.get(path) != self._times.get(path))
        self._times = times
        return moved


def reload_in_place(environ: dict[str, str] = os.environ) -> bool:
    """Whether the processes rebuild a changed app themselves (they can, and
    ``APERTURE_DEV_RESTART_ON_SAVE`` does not ask for restarts); if so, tells them to (in
    ``environ``, which they inherit). Raises ``ConfigurationError`` on a bad setting."""
    from bkruntime.app_reload import RELOAD_APPS_ENV, supported

    if env_bool(environ, RESTART_ON_SAVE_ENV, False):
        log.info("%s: every saved app file restarts the Bokeh processes", RESTART_ON_SAVE_ENV)
        environ.pop(RELOAD_APPS_ENV, None)
        return False
    if not supported():
        log.warning("this Bokeh version does not allow rebuilding one app in place: every save restarts the processes")
        environ.pop(RELOAD_APPS_ENV, None)
        return False
    environ[RELOAD_APPS_ENV] = "1"
    return True


class DevSupervisor(Supervisor):
    """The supervisor of ``--dev``: also restarts every process when the watched files change
    (the catalog files and the runtime's modules; the apps' files too where they cannot be rebuilt
    in place)."""

    def __init__(self, settings: BokehServerSettings) -> None:
        super().__init__(settings)
        self.folders = apps_folders(os.environ)
        self.catalog: AppCatalog | None = None
        self.apps_reload_in_place = reload_in_place()
        self.files = AppFiles(lambda: watched_files(self.folders, None if self.apps_reload_in_place else self.catalog))

    def _start_all(self) -> None:
        if self._catalog_reads():
            self.files.changed()  # what is watched now includes the apps' own files
            super()._start_all()

    def _wakeup_seconds(self) -> float | None:
        return POLL_SECONDS

    def _on_wakeup(self) -> None:
        super()._on_wakeup()
        changed = self.files.changed()
        if changed:
            log.info("changed: %s", ", ".join(str(path) for path in changed[:5]))
            if self._catalog_reads():
                self._restart_all()

    def _catalog_reads(self) -> bool:
        try:
            self.catalog = read_catalogs(self.folders)
        except CatalogError as error:
            running = any(slot.process is not None and slot.process.poll() is None for slot in self.slots)
            keeps = "the apps keep the last good catalog" if running else "the apps start"
            log.error("%s (%s once it is fixed)", error, keeps)
            return False
        return True

    def _restart_all(self) -> None:
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.poll() is None]
        log.info("restarting %d Bokeh process(es) with the new code", len(self.slots))
        for process in running:
            process.terminate()  # they drain: websockets close with "going away" and BokehJS reconnects
        for process in running:
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for slot in self.slots:
            slot.draining = slot.replacement_pending = False
            slot.fast_failures, slot.retry_at = 0, None
            self._start(slot)
