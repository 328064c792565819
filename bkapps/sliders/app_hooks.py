"""Server and request hooks of the ``sliders`` app (Bokeh's directory format runs this file once).

The wave is computed per session from the sliders, so there is no data set to load: the server
state holds only the session counters. ``process_request`` puts details of the page request into
the session token, which ``main.py`` shows.
"""

from bkapps.app_session import visit_details
from bkapps.lifecycle import AppServerState


def on_server_loaded(server_context):
    AppServerState.install(server_context, "sliders")


def on_server_unloaded(server_context):
    AppServerState.of(server_context).close()


def on_session_created(session_context):
    AppServerState.of(session_context.server_context).session_created(session_context.id)


def on_session_destroyed(session_context):
    AppServerState.of(session_context.server_context).session_destroyed(session_context.id)


def process_request(request):
    """Runs for the HTTP request that opens a session; the result goes into its token."""
    return visit_details(request)
