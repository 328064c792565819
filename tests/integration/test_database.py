"""The migrations and the account tables on a fresh SQLite file and on a real PostgreSQL server."""

import itertools
import os

import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.support.postgres import PostgresUnavailable, another_database, running_postgres
from tests.support.servers import running_stack
from tests.support.site_accounts import PASSWORD, add_user, csrf_token, log_in
from web import create_app
from web.database import MIGRATIONS_DIR, db, schema_report

_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    try:
        with running_postgres() as url:
            yield url
    except PostgresUnavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL cannot be started here: {reason}")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """The URL of an empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.db"
    return another_database(request.getfixturevalue("postgres_server"), f"aperture_{next(_numbers)}")


def site_on(url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "DATABASE_AUTO_UPGRADE": True})


def test_the_migrations_build_the_models_schema_and_come_down_again(empty_database):
    app = site_on(empty_database)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        assert {"users", "share_links", "alembic_version"} <= set(inspect(db.engine).get_table_names())
        with db.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), db.metadata) == [], (
                "models and migrations agree"
            )
        downgrade(directory=str(MIGRATIONS_DIR), revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=str(MIGRATIONS_DIR))
        assert "users" in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_readiness_reports_a_schema_behind_its_migrations_until_they_run(empty_database):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database})
    with app.app_context():
        before = schema_report()
        upgrade(directory=str(MIGRATIONS_DIR))
        after = schema_report()
        db.engine.dispose()
    assert before["ok"] is False and "db upgrade" in before["error"]
    assert after == {"ok": True, "revision": after["head"], "head": after["head"]}


def test_accounts_and_their_share_links_on_a_migrated_database(empty_database):
    from web.accounts.users import AccountError, create_user, delete_user, find_user
    from web.models import ShareLink

    app = site_on(empty_database)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "alice"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        with pytest.raises(AccountError):
            create_user("ALICE", PASSWORD)
        alice = find_user("alice")
        link = ShareLink(token="t" * 43, owner=alice, app="iris")
        link.arguments = {"bins": 7}
        db.session.add(link)
        db.session.commit()
        assert find_user("alice").share_links[0].arguments == {"bins": "7"}
        assert delete_user("alice")
        assert db.session.query(ShareLink).count() == 0, "an account's links go with it"
        db.engine.dispose()


def test_the_site_runs_on_postgresql_from_a_fresh_database(postgres_server):
    """gunicorn's master applies the migrations at startup; logins and share links then work."""
    url = another_database(postgres_server, f"aperture_site_{next(_numbers)}")
    with running_stack(processes=1, DATABASE_URL=url) as stack:
        add_user(stack, "alice")
        alice = log_in(stack.web_url, "alice")
        page = alice.get(f"{stack.web_url}/apps/sliders?N=30", timeout=30).text
        fields = {"csrf_token": csrf_token(page), "app": "sliders", "query": "N=30"}
        links = alice.post(f"{stack.web_url}/s", data=fields, timeout=30)
        assert "/s/" in links.text
        assert "web: cannot prepare the database" not in stack.web.output()
        assert requests.get(f"{stack.web_url}/healthz", timeout=30).status_code == 200


def test_an_accounts_id_is_never_handed_out_again(empty_database):
    from web.accounts.users import create_user, delete_user

    app = site_on(empty_database)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        create_user("alice", PASSWORD)
        erin = create_user("erin", PASSWORD).id
        delete_user("erin")
        assert create_user("frank", PASSWORD, ["admin"]).id > erin
        db.engine.dispose()


def test_accounts_made_before_the_login_sessions_migration_keep_their_ids_links_and_passwords(empty_database):
    from sqlalchemy import text

    from web.accounts.login_sessions import open_login_session
    from web.accounts.password_resets import issue_reset
    from web.accounts.users import authenticate, create_user, delete_user
    from web.models import LoginSession, PasswordReset, ShareLink, User

    app = site_on(empty_database)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0001")
        create = text(
            "INSERT INTO users (name, password_hash, roles, created_at) VALUES (:name, :hash, '', '2026-01-01')"
        )
        hashed = User(name="x")
        hashed.set_password(PASSWORD)
        for name in ("alice", "bob"):
            db.session.execute(create, {"name": name, "hash": hashed.password_hash})
        bob_id = db.session.scalar(text("SELECT id FROM users WHERE name = 'bob'"))
        link = text(
            "INSERT INTO share_links (token, owner_id, app, arguments, created_at) "
            "VALUES (:t, :owner, 'iris', '{}', '2026-01-01')"
        )
        db.session.execute(link, {"t": "t" * 43, "owner": bob_id})
        db.session.commit()
        upgrade(directory=str(MIGRATIONS_DIR))
        db.session.remove()
        bob = authenticate("bob", PASSWORD)
        assert bob.id == bob_id and len(bob.share_links) == 1
        open_login_session(bob)
        issue_reset(bob)
        delete_user("bob")
        assert create_user("carol", PASSWORD).id > bob_id, "bob's id stays his"
        counts = [db.session.query(model).count() for model in (ShareLink, LoginSession, PasswordReset)]
        assert counts == [0, 0, 0], "an account's links, logins and reset links go with it"
        db.engine.dispose()


def test_the_database_itself_ends_a_deleted_accounts_logins_on_postgresql(postgres_server):
    from sqlalchemy import text

    from web.accounts.login_sessions import open_login_session
    from web.accounts.users import create_user
    from web.models import LoginSession

    app = site_on(another_database(postgres_server, f"aperture_cascade_{next(_numbers)}"))
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        open_login_session(create_user("alice", PASSWORD))
        db.session.execute(text("DELETE FROM users"))
        db.session.commit()
        assert db.session.query(LoginSession).count() == 0
        db.engine.dispose()
