"""Server hooks of the ``stream`` app (Bokeh's directory format runs this file once per server).

Each session starts a thread and submits jobs to a thread pool; Bokeh stops a destroyed session's
callbacks but not those. So the pool is made once per server here, and ``on_session_destroyed``
(shared by every app, see ``bkapps.lifecycle``) stops the session's thread, joined with a
timeout, and cancels its queued jobs; ``on_server_unloaded`` shuts the pool down.
"""

from concurrent.futures import ThreadPoolExecutor

from bkapps.lifecycle import AppServerState, on_server_unloaded, on_session_created, on_session_destroyed

# Bokeh looks the hooks up by these names in this module.
__all__ = ["on_server_loaded", "on_server_unloaded", "on_session_created", "on_session_destroyed"]

# The process scan is the only pool job; two workers keep one slow scan from delaying the rest.
POOL_WORKERS = 2


def on_server_loaded(server_context):
    """One thread pool for every session's blocking jobs."""
    pool = ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="stream-pool")
    AppServerState.install(server_context, "stream", executor=pool)
