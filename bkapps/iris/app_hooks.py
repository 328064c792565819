"""Server and request hooks of the ``iris`` app (Bokeh's directory format runs this file once).

``on_server_loaded`` reads the data set once per server and keeps it on the server context, where
each session's ``main.py`` picks it up. The session hooks, shared by every app, count sessions
and release what a session held. ``process_request`` puts details of the page request into the
session token, which ``main.py`` shows.
"""

from bkruntime.kit.app_session import visit_details
from bkruntime.kit.lifecycle import AppServerState, on_server_unloaded, on_session_created, on_session_destroyed
from showcase.iris import load_iris

# Bokeh looks the hooks up by these names in this module.
__all__ = ["on_server_loaded", "on_server_unloaded", "on_session_created", "on_session_destroyed", "process_request"]


def on_server_loaded(server_context):
    """Load the Iris CSV for every session this server will run."""
    AppServerState.install(server_context, "iris", data=load_iris())


def process_request(request):
    """Runs for the HTTP request that opens a session; the result goes into its token."""
    return visit_details(request)
