"""A plain Bokeh app opened by a site page leaves connection notices to the page, as kit apps do."""

from __future__ import annotations

import weakref

from bokeh.document import Document
from bokeh.models import Div

from aperture.session_token import mint_session, token_payload
from bkruntime.site_page_session import SitePageSession, opened_by_site_page
from tests.support.servers import TEST_BOKEH_SECRET


class TokenContext:
    def __init__(self, payload: dict | None) -> None:
        self.token = mint_session(TEST_BOKEH_SECRET, 60, payload).token if payload is not None else None

    @property
    def token_payload(self) -> dict:
        from bokeh.util.token import get_token_payload

        assert self.token is not None, "no token"
        return get_token_payload(self.token)


def plain_app_document(context: TokenContext | None) -> Document:
    """A document a plain app built (one root), in a session with ``context``, after the handler ran."""
    doc = Document()
    doc.add_root(Div(text="a plain app"))
    if context is not None:
        # What Bokeh's ApplicationContext does; Document has no public setter for it.
        doc._session_context = weakref.ref(context)
    SitePageSession().modify_document(doc)
    return doc


def test_a_site_pages_session_has_no_bokeh_toast():
    context = TokenContext(token_payload({}, options={"title": ""}))
    assert opened_by_site_page(plain_app_document(context))
    assert plain_app_document(context).config.notify_connection_status is False


def test_a_standalone_session_keeps_bokehs_toast():
    standalone = TokenContext({"arguments": {}, "headers": {}, "cookies": {}})
    assert plain_app_document(standalone).config.notify_connection_status is True
    assert plain_app_document(TokenContext(None)).config.notify_connection_status is True
    assert plain_app_document(None).config.notify_connection_status is True
