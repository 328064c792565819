"""The Bokeh server's login check (``bkruntime.auth_module``) with stand-ins for Bokeh's handlers."""

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import HTTPError
from tornado.websocket import WebSocketHandler

from aperture.access import Visitor
from aperture.session_token import mint_session, token_payload
from aperture.site_login import SITE_VISITOR_KEY, SiteLoginReader, SiteLoginSettings, session_serializer
from bkruntime.auth_module import ANONYMOUS, LOGIN_ATTRIBUTE, SiteLoginGate, StandaloneIdentity, app_name
from tests.support.login_records import OpenLogins
from tests.support.servers import TEST_BOKEH_SECRET, TEST_FLASK_SECRET

SETTINGS = SiteLoginSettings(TEST_FLASK_SECRET, "aperture_session", 3600, "http://site.example")
LOGINS = OpenLogins()
GATE = SiteLoginGate(SiteLoginReader(SETTINGS), TEST_BOKEH_SECRET, LOGINS)


class Context:
    def __init__(self, url):
        self.url = url


class Handler:
    """What the gate reads of a Bokeh request handler: its app, cookies, arguments, headers."""

    def __init__(self, app=None, cookie=None, arguments=None, headers=None, query=""):
        self.application_context = Context(f"/{app}") if app else None
        self._cookie = cookie
        self._arguments = arguments or {}
        self.request = request(f"/{app}?{query}", headers or {})

    def get_cookie(self, name):
        return self._cookie if name == SETTINGS.cookie_name else None

    def get_argument(self, name, default=None):
        return self._arguments.get(name, default)


class WebSocket(Handler, WebSocketHandler):
    """A websocket request: ``isinstance(handler, WebSocketHandler)`` like Bokeh's WSHandler."""

    def __init__(self, *args, **kwargs):
        Handler.__init__(self, *args, **kwargs)


def request(uri, headers):
    headers = HTTPHeaders({"Host": "localhost:5006", **headers})
    return HTTPServerRequest(start_line=RequestStartLine("GET", uri, "HTTP/1.1"), headers=headers)


def site_cookie(name, *roles, logged_in=True):
    """A cookie of the site naming an open login of ``name`` (what the database says of it)."""
    session = {"csrf_token": "x"}
    if logged_in:
        token = f"login-of-{name}-{'-'.join(roles)}"
        LOGINS.open(token, name, *roles)
        session |= {"_user_id": token, SITE_VISITOR_KEY: Visitor(name, roles).as_payload()}
    return session_serializer(TEST_FLASK_SECRET).dumps(session)


def token_for(app):
    return mint_session(TEST_BOKEH_SECRET, 60, token_payload({}, app=app)).token


def test_public_apps_the_index_and_static_files_are_open_to_anyone():
    assert GATE.user(Handler("sliders")) == ANONYMOUS
    assert GATE.user(Handler(None)) == ANONYMOUS
    assert GATE.user(WebSocket("iris")) == ANONYMOUS


def test_a_private_apps_page_without_login_goes_to_the_sites_login_and_back():
    handler = Handler("portfolio", query="days=90")
    assert GATE.user(handler) is None
    assert GATE.login_url(handler) == "http://site.example/login?next=%2Fstandalone%2Fportfolio%3Fdays%3D90"


def test_a_private_apps_websocket_without_login_is_refused_at_the_handshake():
    with pytest.raises(HTTPError) as refused:
        GATE.user(WebSocket("portfolio"))
    assert refused.value.status_code == 403


def test_the_site_login_opens_a_private_app():
    assert GATE.user(Handler("portfolio", cookie=site_cookie("alice"))) == {"name": "alice", "roles": []}


def test_a_cookie_without_a_login_or_with_a_bad_signature_opens_nothing():
    assert GATE.user(Handler("portfolio", cookie=site_cookie("alice", logged_in=False))) is None
    forged = session_serializer("not-the-site-secret-0123456789abcdefghij").dumps({"_user_id": "1"})
    assert GATE.user(Handler("portfolio", cookie=forged)) is None


def test_a_token_bound_to_the_app_opens_it_without_a_cookie():
    # Pages of the site and share links: the site checked access when it minted the token.
    protocol = {"Sec-WebSocket-Protocol": f"bokeh, {token_for('portfolio')}"}
    assert GATE.user(WebSocket("portfolio", headers=protocol)) == ANONYMOUS
    assert GATE.user(Handler("portfolio", arguments={"bokeh-token": token_for("portfolio")})) == ANONYMOUS


@pytest.mark.parametrize(
    "token",
    [
        mint_session(TEST_BOKEH_SECRET, 60, token_payload({}, app="sliders")).token,  # another app's
        mint_session(TEST_BOKEH_SECRET, 60, token_payload({})).token,  # Bokeh's own, bound to nothing
        mint_session("another-bokeh-secret-0123456789abcdefghij", 60, token_payload({}, app="portfolio")).token,
        "not.a.token",
    ],
)
def test_other_tokens_open_nothing(token):
    with pytest.raises(HTTPError):
        GATE.user(WebSocket("portfolio", headers={"Sec-WebSocket-Protocol": f"bokeh, {token}"}))
    assert GATE.user(Handler("portfolio", arguments={"bokeh-token": token})) is None


def test_a_signed_in_visitor_without_the_apps_role_gets_a_403(monkeypatch):
    from aperture.catalog import AppSpec
    from bkruntime import auth_module

    restricted = AppSpec(name="ledger", title="Ledger", description="", source="x", public=False, roles=("finance",))
    monkeypatch.setattr(auth_module, "CATALOG", {"ledger": restricted})
    with pytest.raises(HTTPError) as refused:
        GATE.user(Handler("ledger", cookie=site_cookie("alice")))
    assert refused.value.status_code == 403
    assert GATE.user(Handler("ledger", cookie=site_cookie("bob", "finance"))) == {"name": "bob", "roles": ["finance"]}


def test_app_name_comes_from_bokehs_application_context():
    assert app_name(Handler("portfolio")) == "portfolio"
    assert app_name(Handler(None)) is None


def test_a_standalone_pages_token_gets_the_visitor_and_the_app():
    identity = StandaloneIdentity("portfolio", SiteLoginReader(SETTINGS), LOGINS)
    signed_in = request("/portfolio", {"Cookie": f"aperture_session={site_cookie('ada', 'admin')}"})
    login = LOGINS.by_token("login-of-ada-admin")
    assert identity.process_request(signed_in) == {
        "app": "portfolio",
        "user": {"name": "ada", "roles": ["admin"]},
        "login": login.id,
    }
    anonymous = request("/portfolio", {})
    assert identity.process_request(anonymous) == {"app": "portfolio"}


def test_the_launcher_runs_bokeh_with_this_module_and_keeps_the_cookie_out_of_tokens(tmp_path):
    from bkruntime.launcher import build_command
    from bkruntime.settings import BokehServerSettings

    settings = BokehServerSettings.from_environ({"APERTURE_INSTANCE_DIR": str(tmp_path)})
    command = build_command(settings)
    assert command[command.index("--auth-module") + 1].endswith("bkruntime/auth_module.py")
    assert command[command.index("--exclude-cookies") + 1] == "aperture_session"
    assert command[command.index("--exclude-headers") + 1] == "Cookie"


def test_a_token_minted_for_a_login_opens_the_app_only_while_that_login_is_open():
    login = LOGINS.open("page-login", "gil")
    token = mint_session(TEST_BOKEH_SECRET, 60, token_payload({}, app="portfolio", login=login.id)).token
    websocket = WebSocket("portfolio", headers={"Sec-WebSocket-Protocol": f"bokeh, {token}"})
    assert GATE.user(websocket) == ANONYMOUS
    # Kept for the sweep that closes it when the login ends.
    assert getattr(websocket, LOGIN_ATTRIBUTE) == (login.id, "portfolio")
    LOGINS.end("page-login")
    with pytest.raises(HTTPError):
        GATE.user(WebSocket("portfolio", headers={"Sec-WebSocket-Protocol": f"bokeh, {token}"}))
    assert GATE.user(Handler("portfolio", arguments={"bokeh-token": token})) is None


def test_a_cookie_whose_login_ended_opens_nothing_whatever_it_says():
    cookie = site_cookie("hal", "admin")
    websocket = WebSocket("portfolio", cookie=cookie)
    assert GATE.user(websocket) == {"name": "hal", "roles": ["admin"]}
    assert getattr(websocket, LOGIN_ATTRIBUTE)[1] == "portfolio"
    LOGINS.end("login-of-hal-admin")
    assert GATE.user(Handler("portfolio", cookie=cookie)) is None


def test_a_share_links_websocket_is_never_tied_to_the_viewers_login():
    # A share link's token names no login: the view stays open to its holder after they log out.
    link_token = mint_session(TEST_BOKEH_SECRET, 60, token_payload({}, app="portfolio")).token
    websocket = WebSocket(
        "portfolio", cookie=site_cookie("ivy"), headers={"Sec-WebSocket-Protocol": f"bokeh, {link_token}"}
    )
    assert GATE.user(websocket) == ANONYMOUS
    assert getattr(websocket, LOGIN_ATTRIBUTE, None) is None


def test_refused_websockets_go_into_the_sites_audit_trail(app, monkeypatch, caplog, tmp_path):
    """The Bokeh process writes the entry itself, into the database the site reads, and its log."""
    import json
    import logging

    from aperture.catalog import AppSpec
    from bkruntime import auth_module
    from bkruntime.audit_writer import AuditWriter

    restricted = AppSpec(name="ledger", title="Ledger", description="", source="x", public=False, roles=("finance",))
    monkeypatch.setattr(auth_module, "CATALOG", {"ledger": restricted, "sliders": auth_module.CATALOG["sliders"]})
    recorder = AuditWriter(app.config["SQLALCHEMY_DATABASE_URI"])
    gate = SiteLoginGate(SiteLoginReader(SETTINGS), TEST_BOKEH_SECRET, LOGINS, recorder)
    headers = {"User-Agent": "attacker/1.0"}
    with caplog.at_level(logging.INFO, logger="bkruntime.audit"):
        for handler in (
            WebSocket("ledger", headers=headers),
            WebSocket("ledger", cookie=site_cookie("alice"), headers=headers),
        ):
            with pytest.raises(HTTPError):
                gate.user(handler)
        # Not refused, or not a websocket: nothing to record.
        gate.user(WebSocket("ledger", cookie=site_cookie("bob", "finance")))
        gate.user(WebSocket("sliders"))
        assert gate.user(Handler("ledger")) is None
    recorder.wait_until_written()
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "bkruntime.audit"]
    assert [line["actor"] for line in lines] == ["", "alice"]
    from web.database import db
    from web.models import AuditEvent

    with app.app_context():
        rows = [(e.kind, e.actor, e.detail, e.user_agent) for e in db.session.scalars(db.select(AuditEvent))]
    assert rows == [
        ("websocket_refused", "", "ledger: no login and no session token of this app", "attacker/1.0"),
        ("websocket_refused", "alice", "ledger: the account may not open it", "attacker/1.0"),
    ]
    unmigrated = AuditWriter(f"sqlite:///{tmp_path / 'empty.db'}")
    with caplog.at_level(logging.WARNING, logger="bkruntime.audit_writer"):
        unmigrated.websocket_refused(WebSocket("ledger"), "ledger", None, "test")
        unmigrated.wait_until_written()
    assert "audit entry kept in the log only" in caplog.text
