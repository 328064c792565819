"""What every app's session gets when a site page opens it, whether or not the app uses the kit.

A site page says itself when an app's connection drops, by app (``static/live_session.js``);
BokehJS's own toast would say it a second time, for no app in particular. The kit
(``bkapps.app_session.build_app``) turns the toast off for its apps; this handler, added by the
Bokeh process to every app after the app's own handlers, does the same for plain Bokeh apps. A
site page's token carries page options (``OPTIONS_KEY``); a standalone page's does not, and keeps
Bokeh's toast.
"""

from __future__ import annotations

from bokeh.application.handlers import Handler
from bokeh.document import Document

from bkapps.session_token import OPTIONS_KEY


def opened_by_site_page(doc: Document) -> bool:
    """Whether the session's token was minted by a site page (it carries page options)."""
    context = doc.session_context
    if context is None:
        return False
    try:
        return OPTIONS_KEY in context.token_payload
    except (AssertionError, AttributeError):  # a session context without a token
        return False


class SitePageSession(Handler):
    """Turns BokehJS's connection toast off in sessions a site page opened."""

    def modify_document(self, doc: Document) -> None:
        if opened_by_site_page(doc):
            doc.config.notify_connection_status = False
