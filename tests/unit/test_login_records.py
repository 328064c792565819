"""The Bokeh side's reader of the site's logins (``bkruntime.login_records``) on a database the real
site wrote: open logins with their account's current roles, ended and expired ones refused, a short
cache, and an unreadable database that refuses rather than fails."""

from datetime import timedelta

from sqlalchemy import update

from aperture.access import Visitor
from aperture.site_login import LOGIN_MARKER_KEY, session_serializer
from bkruntime.login_records import LoginRecords
from tests.support.servers import TEST_FLASK_SECRET
from tests.support.site_accounts import create_account, logged_in_client
from web.accounts.login_sessions import end_login_session
from web.accounts.users import delete_user, set_roles
from web.database import db
from web.models import LoginSession, utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def login_token(app, name: str) -> str:
    client = logged_in_client(app, name)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    return session_serializer(TEST_FLASK_SECRET).loads(cookie)[LOGIN_MARKER_KEY]


def records_of(app, clock=None) -> LoginRecords:
    return LoginRecords(app.config["SQLALCHEMY_DATABASE_URI"], 3600, cache_seconds=1.0, clock=clock or Clock())


def test_an_open_login_names_its_account_as_it_is_now(app):
    create_account(app, "ada", "admin")
    token = login_token(app, "ada")
    records = records_of(app)
    login = records.by_token(token)
    assert login.visitor == Visitor("ada", ("admin",))
    assert records.by_id(login.id) == login
    assert records.open_among([login.id, 999]) == {login.id: login}
    assert records.by_token("not a login") is None
    assert records.by_token("x" * 500) is None
    assert records.by_id("1") is None and records.by_id(True) is None


def test_ended_expired_and_deleted_logins_and_removed_roles_show_once_the_cache_entry_is_old(app):
    create_account(app, "bob", "finance")
    create_account(app, "cy")
    create_account(app, "dee")
    create_account(app, "eve")
    tokens = {name: login_token(app, name) for name in ("bob", "cy", "dee", "eve")}
    clock = Clock()
    records = records_of(app, clock)
    assert all(records.by_token(token) for token in tokens.values())
    with app.app_context():
        set_roles("bob", [])
        end_login_session(tokens["cy"])
        delete_user("dee")
        long_ago = utcnow() - timedelta(hours=2)
        db.session.execute(update(LoginSession).values(last_seen_at=long_ago).where(LoginSession.user.has(name="eve")))
        db.session.commit()
    # Within the cache period the answers are reused; then the database's are read.
    assert records.by_token(tokens["cy"]) is not None
    clock.now += 1.01
    assert records.by_token(tokens["bob"]).visitor == Visitor("bob")
    assert records.by_token(tokens["cy"]) is None
    assert records.by_token(tokens["dee"]) is None
    assert records.by_token(tokens["eve"]) is None


def test_a_database_that_cannot_be_read_refuses_every_login_and_is_never_created(tmp_path, caplog):
    missing = tmp_path / "none.db"
    records = LoginRecords(f"sqlite:///{missing}", 3600)
    assert records.by_token("some token") is None
    assert records.open_among([1, 2]) is None
    assert "cannot be read" in caplog.text
    # Read-only: the Bokeh side never makes an empty database where the site's should be.
    assert not missing.exists()


def test_the_sweeps_fresh_answer_replaces_cached_ones_of_an_ended_login(app):
    create_account(app, "fay")
    token = login_token(app, "fay")
    records = records_of(app)
    login = records.by_token(token)
    assert records.by_id(login.id) == login
    with app.app_context():
        end_login_session(token)
    # The clock has not moved: only the sweep's query can tell, and the cache follows it.
    assert records.open_among([login.id]) == {}
    assert records.by_token(token) is None and records.by_id(login.id) is None
