"""Server and request hooks of the ``iris`` app (Bokeh's directory format runs this file once).

``on_server_loaded`` reads the data set once per server and keeps it on the server context, where
each session's ``main.py`` picks it up; the session hooks count sessions and release what a
session held; ``process_request`` puts details of the page request into the session token, which
``main.py`` shows.
"""

from bkapps.app_session import visit_details
from bkapps.lifecycle import AppServerState

from .data import load_iris


def on_server_loaded(server_context):
    """Load the Iris CSV for every session this server will run."""
    AppServerState.install(server_context, "iris", data=load_iris())


def on_server_unloaded(server_context):
    AppServerState.of(server_context).close()


def on_session_created(session_context):
    AppServerState.of(session_context.server_context).session_created(session_context.id)


def on_session_destroyed(session_context):
    AppServerState.of(session_context.server_context).session_destroyed(session_context.id)


def process_request(request):
    """Runs for the HTTP request that opens a session; the result goes into its token."""
    return visit_details(request)
