"""The audit trail against the real servers: a Bokeh process records the websockets it refuses in
the database the site reads, and the admin reads them with the site's own entries."""

import time

import requests

from tests.support.bokeh_client import EmbeddedSession, embedded_session, refused_reason
from tests.support.site_accounts import add_user, log_in
from web import create_app
from web.database import db
from web.models import AuditEvent
from web.settings import database_url

DEADLINE_SECONDS = 30


def refused_websockets(stack) -> list[AuditEvent]:
    with create_app({"SQLALCHEMY_DATABASE_URI": database_url(stack.env)}).app_context():
        query = db.select(AuditEvent).where(AuditEvent.kind == "websocket_refused").order_by(AuditEvent.id)
        return list(db.session.scalars(query))


def test_a_refused_websocket_of_a_private_app_reaches_the_admins_trail(stack):
    before = len(refused_websockets(stack))
    sliders = embedded_session(requests.get(f"{stack.web_url}/apps/sliders", timeout=30).text)
    borrowed = EmbeddedSession(sliders.token, "/portfolio", f"{stack.bokeh_url}/portfolio")
    assert refused_reason(borrowed).startswith("HTTP 403")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while len(refused_websockets(stack)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    entry = refused_websockets(stack)[-1]
    assert entry.detail == "portfolio: no login and no session token of this app"
    assert entry.address == "127.0.0.1"
    add_user(stack, "auditor", "--admin")
    trail = log_in(stack.web_url, "auditor").get(f"{stack.web_url}/api/admin/audit?kind=websocket_refused", timeout=30)
    assert entry.id in [event["id"] for event in trail.json()["events"]]
