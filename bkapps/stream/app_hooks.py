"""Server hooks of the ``stream`` app (Bokeh's directory format runs this file once per server).

Each session starts a thread and submits jobs to a thread pool; Bokeh stops a destroyed session's
callbacks but not those. So the pool is made once per server here, and ``on_session_destroyed``
stops the session's thread (joined with a timeout) and cancels its queued jobs.
"""

from concurrent.futures import ThreadPoolExecutor

from bkapps.lifecycle import AppServerState

# The process scan is the only pool job; two workers keep one slow scan from delaying the rest.
POOL_WORKERS = 2


def on_server_loaded(server_context):
    """One thread pool for every session's blocking jobs."""
    pool = ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="stream-pool")
    AppServerState.install(server_context, "stream", executor=pool)


def on_server_unloaded(server_context):
    AppServerState.of(server_context).close()


def on_session_created(session_context):
    AppServerState.of(session_context.server_context).session_created(session_context.id)


def on_session_destroyed(session_context):
    """Stop the session's thread and drop its pool jobs; Bokeh has already removed its callbacks."""
    AppServerState.of(session_context.server_context).session_destroyed(session_context.id)
