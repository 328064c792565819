"""One Bokeh server process of the supervisor: Bokeh's own ``serve`` command on inherited sockets.

``python -m bkruntime.server_process`` is started by ``bkruntime.supervisor`` only. It runs the real
``bokeh serve`` (a subclass of its ``Serve`` subcommand, through the customisation hooks Bokeh
provides) with the command line ``bkruntime.launcher.build_command`` makes, and:

* listens on ``BOKEH_PORT`` with ``SO_REUSEPORT`` (every process does, and the kernel spreads
  connections over them) and on this process's own port, by giving Bokeh's server those sockets
  instead of letting it bind ``--port`` itself;
* serves ``/healthz`` (this process: index, pid, open sessions) and ``/stats`` for the site's
  admin view (``bkruntime.process_stats``: sessions created, memory, recent errors);
* adds to every app a session counter, the handler that puts the site login's visitor into
  standalone pages' tokens (``bkruntime.auth_module``, which ``--auth-module`` also names), and the
  one that leaves connection notices to site pages (``bkruntime.site_page_session``);
* builds every app's document once it runs and answers ``/readyz`` from that (``bkruntime.readiness``);
* under ``make dev``, rebuilds an app whose file was saved, that app alone (``bkruntime.app_reload``);
* drains on SIGTERM: stops accepting, closes websockets with "going away", finishes requests in
  flight (``bkruntime.graceful_shutdown``);
* closes open websockets of private apps whose login ended or lost the app (``bkruntime.login_sweep``);
* serves ``/metrics`` (Prometheus: sessions, document builds, websocket messages, GC pauses;
  ``bkruntime.metrics``) and logs each refused websocket in one line (``bkruntime.server_logging``);
* makes the discarding of expired sessions cheap (``bkruntime.session_cleanup``);
* tunes Python's garbage collector (``bkruntime.gc_tuning``, ``BOKEH_GC_TUNING``) and sends
  websocket messages without Nagle's delay (``bkruntime.websocket_nodelay``);
* sends standalone pages' documents with their numpy buffers inline, so that BokehJS can restore
  them after a restart (``bkruntime.standalone_restore``);
* keeps each shared view's count of viewers in its document (``bkruntime.shared_views``),
  serialises each update once for all of a session's viewers (``bkruntime.patch_broadcast``) and a
  shared view's document once per change for every viewer who joins (``bkruntime.shared_pull_reply``);
* gives each shared view one document across the processes: its owner runs the app, the other
  processes relay it (``bkruntime.view_owners``, ``bkruntime.view_relay``).

If a Bokeh upgrade moves the one internal this relies on (``bokeh.server.server.bind_sockets``),
the process stops with a message instead of listening on one port only.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from aperture.catalog import CATALOG, AppCatalog
from aperture.database_url import database_url
from aperture.endpoints import HEALTH_PATH, METRICS_PATH, READY_PATH, STATS_PATH
from aperture.environment import ConfigurationError
from bkruntime import app_reload, gc_tuning, graceful_shutdown, login_sweep, metrics, server_logging
from bkruntime.audit_writer import process_audit_writer
from bkruntime.kit.process_identity import process_index
from bkruntime.launcher import build_command, load_settings
from bkruntime.process_stats import ProcessStats, stats_handler
from bkruntime.readiness import SelfCheck, readiness_handler
from bkruntime.settings import BokehServerSettings
from bkruntime.slow_viewers import ReadingWatch
from bkruntime.startup_signal import announce_up


def install_listeners(settings: BokehServerSettings, index: int) -> None:
    """Make Bokeh's server listen on the shared port (with ``SO_REUSEPORT``) plus this process's own."""
    import bokeh.server.server as bokeh_server
    from tornado.netutil import bind_sockets

    if not callable(getattr(bokeh_server, "bind_sockets", None)):
        raise ConfigurationError(
            "this Bokeh version no longer binds its port through bokeh.server.server.bind_sockets; "
            "bkruntime.server_process must be updated for it"
        )
    shared = bind_sockets(settings.port, settings.address, reuse_port=True)
    own = bind_sockets(settings.process_port(index), settings.address)

    def listeners(address: str | None, port: int) -> tuple[list[socket.socket], int]:
        return [*shared, *own], settings.port

    bokeh_server.bind_sockets = listeners


def health_handler(stats: ProcessStats, self_check: SelfCheck):
    """A Tornado handler answering this process's liveness as JSON (``self.application`` is Bokeh's).

    ``needs`` says, per app that built at startup, its BokehJS bundles and whether it runs JS code
    strings, and ``broken`` names the apps that did not build (the site's monitor reads both, so
    that its page views need not ask).
    ``sessions_created`` (visitors' sessions since the process started, not the self-check's) is
    what the supervisor recycles by.
    """
    from tornado.web import RequestHandler

    from bkruntime import view_relay
    from bkruntime.kit.process_identity import describe_process

    class ProcessHealth(RequestHandler):
        def get(self) -> None:
            sessions = {
                path.strip("/"): len(list(context.sessions)) for path, context in self.application.applications.items()
            }
            self.set_header("Cache-Control", "no-store")
            self.write(
                {
                    "status": "ok",
                    "process": process_index(),
                    "pid": os.getpid(),
                    "describe": describe_process(),
                    "sessions": sessions,
                    "sessions_created": sum(stats.created.values()) - self_check.sessions_built,
                    "gc": gc_tuning.summary(),
                    # What each app's document needs in the browser, for the site's pages.
                    "needs": self_check.published_needs(),
                    # Apps whose self-check build failed: the site's pages of them say so.
                    "broken": self_check.broken,
                    # Shared views' owners and relays (None: one process, or turned off).
                    "shared_views": view_relay.health(),
                }
            )

    return ProcessHealth


def around_every_app(name: str, application, stats: ProcessStats, reader, records) -> None:
    """What the runtime adds to every app, whether it uses the kit or not: its session counts, the
    site login's visitor in a standalone page's token, a site page's session settings and a shared
    view's viewer count (handlers that run after the app's own), the timing of its builds, and a
    relay's mirror of a shared view in place of a build."""
    from bkruntime import view_relay
    from bkruntime.auth_module import StandaloneIdentity
    from bkruntime.site_page_session import SitePageSession

    application.add(stats.counter_for(name))
    application.add(StandaloneIdentity(name, reader, records))
    application.add(SitePageSession())
    metrics.measure_builds(name, application)
    view_relay.relay_aware(application)


def shared_view_relays(settings: BokehServerSettings, index: int):
    """The owners and relays of shared views across this supervisor's processes, or across every
    replica's with a peer registry (None when alone, turned off, or when Bokeh moved what relays
    rely on)."""
    from bkruntime import view_relay
    from bkruntime.kit.process_identity import process_count
    from bkruntime.peer_registry import PeerRegistry
    from bkruntime.view_owners import Peers

    count = process_count() or 1
    if not settings.shared_view_owners or (count < 2 and not settings.peer_registry_url):
        return None
    host = settings.peer_host
    ports = [settings.process_port(other) for other in range(count)]
    registry = None
    if settings.peer_registry_url:
        member = f"{host}:{settings.process_port(index)}"
        registry = PeerRegistry.from_url(settings.peer_registry_url, member, settings.peer_check_seconds)
    peers = Peers(host, ports, index, settings.peer_check_seconds, registry)
    relays = view_relay.Relays(peers, settings.secret_key, settings.prefix)
    return relays if view_relay.install(relays) else None


def watch_owners(server, relays) -> None:
    """Check the other processes from now on, and hand views over when the owners change."""
    if relays is None:
        return
    contexts = server._tornado.applications

    def changed() -> None:
        server.io_loop.add_callback(relays.owners_changed, list(contexts.values()))

    relays.peers.on_change(changed)
    server.io_loop.add_callback(relays.peers.start)


async def check_then_announce(self_check: SelfCheck, tornado_app) -> None:
    """The startup self-check; once an app builds, tell the supervisor this process came up."""
    await self_check.run(tornado_app)
    if self_check.ready:
        announce_up()


def serve_command(settings: BokehServerSettings, stats: ProcessStats, catalog: AppCatalog = CATALOG, relays=None):
    """Bokeh's ``serve`` subcommand with this product's additions."""
    from bokeh.command.subcommands.serve import Serve

    from aperture.site_login import SiteLoginReader
    from bkruntime.auth_module import login_records_for

    reader = SiteLoginReader(settings.site_login)
    records = login_records_for(settings.site_login, os.environ)
    self_check = SelfCheck(settings.secret_key)

    class ApertureServe(Serve):
        def customize_applications(self, args, applications):
            applications = super().customize_applications(args, applications)
            for route, application in applications.items():
                around_every_app(route.strip("/"), application, stats, reader, records)
            return applications

        def customize_kwargs(self, args, server_kwargs):
            kwargs = super().customize_kwargs(args, server_kwargs)
            kwargs["extra_patterns"] = [
                *kwargs.get("extra_patterns", []),
                (HEALTH_PATH, health_handler(stats, self_check)),
                (METRICS_PATH, metrics.metrics_handler(settings.metrics_token)),
                (STATS_PATH, stats_handler(stats, settings.secret_key)),
                (READY_PATH, readiness_handler(self_check)),
            ]
            return kwargs

        def customize_server(self, server):
            gc_tuning.watch(server, ended_sessions=lambda: sum(stats.destroyed.values()))
            graceful_shutdown.install(server)
            audit = process_audit_writer(database_url(os.environ))
            login_sweep.install(server, records, settings.site_login.check_seconds, audit)
            # Once the server runs: can every app build its document? (``/readyz``)
            server.io_loop.add_callback(check_then_announce, self_check, server._tornado)
            if os.environ.get(app_reload.RELOAD_APPS_ENV) == "1":
                # `make dev`: a saved app file rebuilds that app in this process.
                reloader = app_reload.AppReloader(
                    app_reload.apps_of(catalog),
                    prepare=lambda name, app: around_every_app(name, app, stats, reader, records),
                    rebuilt=lambda name: server.io_loop.add_callback(self_check.run, server._tornado, [name]),
                )
                server.io_loop.add_callback(reloader.install, server._tornado)
            watch_owners(server, relays)
            return super().customize_server(server)

    return ApertureServe


# Bokeh checks every new session's document for modelling mistakes (an empty layout, a glyph
# without data...) and only logs what it finds: about a fifth of the CPU of building a session.
# The unit tests run the same checks on every app's document instead; BOKEH_VALIDATE_DOC=true
# turns them back on here.
VALIDATE_DOC_ENV = "BOKEH_VALIDATE_DOC"


def skip_document_validation(environ=os.environ) -> None:
    """Turn off Bokeh's per-session document checks unless ``BOKEH_VALIDATE_DOC`` says otherwise."""
    environ.setdefault(VALIDATE_DOC_ENV, "false")


def main(catalog: AppCatalog = CATALOG) -> None:
    """Run one Bokeh server process serving ``catalog``'s apps (the benchmarks pass one of their own)."""
    skip_document_validation()
    settings = load_settings()
    index = process_index()
    if index is None:
        sys.exit("bkruntime.server_process: start Bokeh with `python -m bkapps`")
    server_logging.install(settings.log_format, index, on_refused=metrics.count_refused)
    try:
        install_listeners(settings, index)
    except (ConfigurationError, OSError) as error:
        sys.exit(f"bkapps: Bokeh process {index}: {error}")

    from bkruntime import (
        patch_broadcast,
        session_cleanup,
        shared_pull_reply,
        shared_views,
        standalone_restore,
        websocket_nodelay,
    )

    tuning = gc_tuning.install(settings.gc_tuning)
    session_cleanup.install(delay=tuning.discard_collection_delay, collect=tuning.collect_everything)
    websocket_nodelay.install()
    standalone_restore.install()
    shared_views.install()
    relays = shared_view_relays(settings, index)
    shared_pull_reply.install(counted=metrics.count_shared_view_reply)
    patch_broadcast.install(
        settings.slow_viewer_buffer_kb * 1024,
        sent=metrics.count_sent_many,
        slow=metrics.count_slow_viewer,
        reading=ReadingWatch(settings.slow_viewer_stall_seconds, behind=metrics.count_viewer_behind),
    )
    stats = ProcessStats()
    metrics.install(stats.created, stats.destroyed)
    stats.install_error_log()
    parser = argparse.ArgumentParser(prog="bokeh serve")
    command = serve_command(settings, stats, catalog, relays)(parser=parser)
    args = parser.parse_args(build_command(settings, catalog)[2:])
    command.invoke(args)


if __name__ == "__main__":
    main()
