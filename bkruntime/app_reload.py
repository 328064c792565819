"""In development, rebuild one app inside a running Bokeh process when one of its files is saved.

``python -m bkapps --dev`` (``bkruntime.dev_reload``) sets ``APERTURE_RELOAD_APPS`` for its
processes; each then looks at every app's own files twice a second (``app_files``) and, when one of
an app's files changed, rebuilds that app alone, in about the time its document takes to build:

1. the modules imported from the app's folder are dropped, so that its helpers are read afresh;
2. a new ``Application`` is made from the app's path as ``bokeh serve`` makes it
   (``build_single_handler_application``), with what the runtime adds to every app, and takes the
   place of the old one in the app's ``ApplicationContext`` (the routes keep pointing at it);
3. the app's open sessions are retired: taken out of the context (so that a session id coming back
   is built again, from the new code), their websockets closed with 1001 "going away", and
   destroyed once those have closed (their callbacks stop).

Then the process checks the rebuilt app as at its start (``/readyz`` names it if it no longer
builds, and the site learns the BokehJS bundles it now needs). BokehJS reconnects at once with the
same session id: a standalone page pulls the rebuilt document and shows it in place; a site page
reloads itself once reconnected (``static/live_session.js``). The other apps and their sessions
are not touched. This is what ``bokeh serve --dev`` gives for
its one app by restarting the whole server (Tornado's autoreload), without the restart.

The swap relies on Bokeh internals (``ApplicationContext._application``, ``_sessions``,
``_session_contexts``, ``ServerSession._subscribed_connections``, ``ServerConnection._socket``).
``supported()`` checks them; where a Bokeh upgrade moved one, the development supervisor warns and
restarts the processes on every save instead.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bkruntime.dev_reload import POLL_SECONDS, AppFiles, app_files

log = logging.getLogger(__name__)

RELOAD_APPS_ENV = "APERTURE_RELOAD_APPS"
GOING_AWAY = 1001
# How long a retired session's websockets have to close before it is destroyed anyway.
CLOSE_SECONDS = 5.0


def supported() -> bool:
    """Whether this Bokeh keeps what the swap uses where this module looks for it."""
    try:
        from bokeh.application import Application
        from bokeh.server.contexts import ApplicationContext
        from bokeh.server.session import ServerSession

        context = ApplicationContext(Application())
        internals = [getattr(context, name, None) for name in ("_application", "_sessions", "_session_contexts")]
        session_init = ServerSession.__init__.__code__.co_names
    except Exception:  # an import or a constructor that changed: not supported
        return False
    return (
        internals[0] is context.application
        and all(isinstance(found, dict) for found in internals[1:])
        and "_subscribed_connections" in session_init
    )


def forget_modules(folder: Path) -> list[str]:
    """Drop from ``sys.modules`` the modules whose file is in ``folder`` (or is that file)."""
    dropped = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file:
            continue
        path = Path(file).resolve()
        if path == folder or folder in path.parents:
            del sys.modules[name]
            dropped.append(name)
    return dropped


def swap_application(context: Any, application: Any) -> Any:
    """Put ``application`` in ``context`` in place of its current one (which is returned)."""
    old = context._application
    context.run_unload_hook()
    context._application = application
    context.run_load_hook()
    return old


def retire_sessions(context: Any, old_application: Any, loop: Any) -> int:
    """Take every session out of ``context``, close its websockets and destroy it; returns how many."""
    sessions = list(context._sessions.values())
    for session in sessions:
        context._sessions.pop(session.id, None)
        session_context = context._session_contexts.pop(session.id, None)
        for connection in list(session._subscribed_connections):
            socket = getattr(connection, "_socket", None)
            if socket is not None:
                socket.close(GOING_AWAY, "app rebuilt")
        loop.add_callback(_destroy_once_closed, session, session_context, old_application)
    return len(sessions)


async def _destroy_once_closed(session: Any, session_context: Any, application: Any) -> None:
    """Destroy ``session`` once its websockets have closed (their close handlers still use its
    document), at the latest after ``CLOSE_SECONDS``, and run the old app's session-end hooks."""
    deadline = time.monotonic() + CLOSE_SECONDS
    while session.connection_count > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if not session.destroyed:
        session.destroy()
    if session_context is None:
        return
    try:
        await application.on_session_destroyed(session_context)
    except Exception:
        log.exception("an on_session_destroyed hook of a rebuilt app failed")


class AppReloader:
    """Watches each app's files in this process and rebuilds an app whose files changed.

    ``apps`` maps each app's name to its path; ``prepare(name, application)`` adds what the runtime
    adds to every app; ``rebuilt(name)`` runs after each rebuild (the process checks the app again).
    """

    def __init__(
        self,
        apps: dict[str, Path],
        prepare: Callable[[str, Any], None],
        rebuilt: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.apps = apps
        self.prepare = prepare
        self.rebuilt = rebuilt
        self.files = {name: AppFiles(lambda path=path: app_files(path)) for name, path in apps.items()}

    def install(self, tornado: Any) -> None:
        """Poll on the server's loop (``tornado`` is Bokeh's ``BokehTornado``)."""
        from tornado.ioloop import PeriodicCallback

        self.tornado = tornado
        # Development only: each rebuild is said in the process's log (its root logger warns only).
        log.setLevel(logging.INFO)
        self.callback = PeriodicCallback(self.check, POLL_SECONDS * 1000)
        self.callback.start()

    def check(self) -> list[str]:
        """Rebuild the apps whose files changed since the last look; returns their names."""
        changed = [name for name, files in self.files.items() if files.changed()]
        for name in changed:
            self.rebuild(name)
        return changed

    def rebuild(self, name: str) -> None:
        from bokeh.command.util import build_single_handler_application
        from tornado.ioloop import IOLoop

        started = time.perf_counter()
        path = self.apps[name]
        forget_modules(path.resolve())
        application = build_single_handler_application(str(path))
        self.prepare(name, application)
        # Bokeh serves an app at its path's name, which the catalog makes the app's name.
        context = self.tornado.applications[f"/{name}"]
        old = swap_application(context, application)
        retired = retire_sessions(context, old, IOLoop.current())
        failed = [handler.error for handler in application.handlers if getattr(handler, "failed", False)]
        if failed:
            log.error("rebuilt app %s does not run: %s", name, failed[0])
        log.info(
            "rebuilt app %s in %.0f ms; %d open session(s) reconnect to the new code",
            name,
            (time.perf_counter() - started) * 1000,
            retired,
        )
        self.rebuilt(name)


def apps_of(catalog: Iterable[Any]) -> dict[str, Path]:
    """Each app's name and path in ``catalog``."""
    return {spec.name: spec.path for spec in catalog}
