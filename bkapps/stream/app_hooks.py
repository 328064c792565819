"""Server hooks of the ``stream`` app (Bokeh's directory format runs this file once per server).

The app's work is done once per server, not once per session: one thread reads the machine's
counters for every session (``bkruntime.kit.fanout.FanOutThread``), and one process scan at a time runs
on the server's thread pool, its result shared by every session that asks meanwhile
(``SharedJob``). ``on_session_destroyed`` (shared by every app, see ``bkruntime.kit.lifecycle``) cancels
a session's subscription; ``on_server_unloaded`` stops the thread and the pool.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bkruntime.kit.fanout import FanOutThread, SharedJob
from bkruntime.kit.lifecycle import AppServerState, on_server_unloaded, on_session_created, on_session_destroyed

from .data import read_machine, top_processes

# Bokeh looks the hooks up by these names in this module.
__all__ = ["on_server_loaded", "on_server_unloaded", "on_session_created", "on_session_destroyed"]

# Half the shortest sampling period the app allows, so that every sample finds a new reading.
READING_TICK_SECONDS = 0.05
# A scan at most this old is new enough for any session (each asks every two seconds).
SCAN_MAX_AGE_SECONDS = 1.5


@dataclass(frozen=True)
class StreamFeeds:
    """What every session of the app reads from: the machine's counters and the process scan."""

    machine: FanOutThread
    processes: SharedJob


def on_server_loaded(server_context):
    """One reading thread and one pool for all the sessions."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-pool")
    state = AppServerState.install(server_context, "stream", executor=pool)
    state.data = StreamFeeds(
        machine=state.fan_out(read_machine, READING_TICK_SECONDS),
        processes=state.shared_job(top_processes, SCAN_MAX_AGE_SECONDS),
    )
