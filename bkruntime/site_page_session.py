"""What every app's session gets when a site page opens it, whether or not the app uses the kit.

This handler, added by the Bokeh process to every app after the app's own handlers, applies to
plain Bokeh apps and kit apps alike:
- a site page says itself when an app's connection drops, by app (``static/live_session.js``);
  BokehJS's own toast would say it a second time, for no app in particular, so it is turned off
  (a site page's token carries page options, ``OPTIONS_KEY``; a standalone page's does not, and
  keeps Bokeh's toast);
- a shared view's document gets the model that holds its number of viewers
  (``bkruntime.shared_views``), which the page shows.
"""

from __future__ import annotations

from bokeh.application.handlers import Handler
from bokeh.document import Document

from aperture.session_token import OPTIONS_KEY, SHARED_KEY, session_payload
from bkruntime.shared_views import add_viewer_count, viewer_count_model


def opened_by_site_page(doc: Document) -> bool:
    """Whether the session's token was minted by a site page (it carries page options)."""
    return OPTIONS_KEY in session_payload(doc)


class SitePageSession(Handler):
    """Turns BokehJS's connection toast off in sessions a site page opened; counts a shared view's viewers."""

    def modify_document(self, doc: Document) -> None:
        payload = session_payload(doc)
        if OPTIONS_KEY in payload:
            doc.config.notify_connection_status = False
        if payload.get(SHARED_KEY) and viewer_count_model(doc) is None:
            add_viewer_count(doc)
