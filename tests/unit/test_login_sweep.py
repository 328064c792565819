"""The sweep that closes open websockets of private apps whose login ended or lost the app
(``bkruntime.login_sweep``), on stand-ins for Bokeh's server and connections."""

from types import SimpleNamespace

from bkruntime.auth_module import LOGIN_ATTRIBUTE
from bkruntime.login_sweep import ACCESS_ENDED, LOGIN_ENDED, install, sweep
from tests.support.login_records import OpenLogins


class Socket:
    def __init__(self, login=None) -> None:
        if login is not None:
            setattr(self, LOGIN_ATTRIBUTE, login)
        self.closed = None
        self.request = SimpleNamespace(remote_ip="203.0.113.9", headers={"User-Agent": "browser/1.0"})

    def close(self, code, reason) -> None:
        self.closed = (code, reason)


class Recorded:
    """Takes what the sweep records in the audit trail."""

    def __init__(self) -> None:
        self.entries = []

    def record(self, kind, handler, actor=None, subject=None, detail=""):
        self.entries.append((kind, actor, detail))


def server_with(*sockets):
    clients = [SimpleNamespace(_socket=socket) for socket in sockets]
    return SimpleNamespace(_tornado=SimpleNamespace(_clients=clients))


def test_websockets_close_when_their_login_ends_or_loses_the_app(monkeypatch):
    from aperture.catalog import AppSpec
    from bkruntime import login_sweep

    ledger = AppSpec(name="ledger", title="Ledger", description="", source="x", public=False, roles=("finance",))
    portfolio = AppSpec(name="portfolio", title="Portfolio", description="", source="x", public=False)
    monkeypatch.setattr(login_sweep, "CATALOG", {"ledger": ledger, "portfolio": portfolio})
    logins = OpenLogins()
    kept = logins.open("kept", "ada", "finance")
    ended = logins.open("ended", "bob")
    demoted = logins.open("demoted", "cy")
    sockets = {
        "kept": Socket((kept.id, "ledger")),
        "ended": Socket((ended.id, "portfolio")),
        "demoted": Socket((demoted.id, "ledger")),
        "still-open-elsewhere": Socket((demoted.id, "portfolio")),
        "public or by share link": Socket(),
    }
    server = server_with(*sockets.values())
    logins.end("ended")

    audit = Recorded()
    assert sweep(server, logins, audit) == 2
    assert sorted(audit.entries, key=lambda entry: entry[2]) == [
        ("websocket_closed", "cy", f"ledger: login {demoted.id} access ended"),
        ("websocket_closed", None, f"portfolio: login {ended.id} login ended"),
    ]
    assert sockets["ended"].closed == (LOGIN_ENDED, "login ended")
    assert sockets["demoted"].closed == (ACCESS_ENDED, "access ended")
    assert all(sockets[name].closed is None for name in ("kept", "still-open-elsewhere", "public or by share link"))
    # Closed once: the browser's close frame may take a while to come back.
    assert sweep(server, logins, audit) == 0
    assert len(audit.entries) == 2


def test_an_unreadable_database_closes_nothing():
    class Unreadable(OpenLogins):
        def open_among(self, login_ids):
            return None

    socket = Socket((1, "portfolio"))
    assert sweep(server_with(socket), Unreadable()) == 0
    assert socket.closed is None


def test_the_sweep_is_not_installed_when_bokehs_connection_set_moved(caplog):
    assert install(SimpleNamespace(), OpenLogins(), 1.0) is None
    assert "connection set moved" in caplog.text
