"""Server and request hooks of the ``sliders`` app (Bokeh's directory format runs this file once).

The wave is computed per session from the sliders, so there is no data set to load: the server
state holds the session counters that the shared session hooks keep. ``process_request`` puts
details of the page request into the session token, which ``main.py`` shows.
"""

from bkruntime.kit.app_session import visit_details
from bkruntime.kit.lifecycle import AppServerState, on_server_unloaded, on_session_created, on_session_destroyed

# Bokeh looks the hooks up by these names in this module.
__all__ = ["on_server_loaded", "on_server_unloaded", "on_session_created", "on_session_destroyed", "process_request"]


def on_server_loaded(server_context):
    AppServerState.install(server_context, "sliders")


def process_request(request):
    """Runs for the HTTP request that opens a session; the result goes into its token."""
    return visit_details(request)
