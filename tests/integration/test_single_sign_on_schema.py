"""Migration 0003 (single sign-on) on SQLite and PostgreSQL: linked accounts without a password,
one account per provider person, and a downgrade that keeps such accounts closed to passwords."""

import os

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.support.postgres import PostgresUnavailable, running_postgres
from web import create_app
from web.database import MIGRATIONS_DIR, db

ISSUER = "https://login.example.org"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sso.db"
        return
    try:
        with running_postgres() as url:
            yield url
    except PostgresUnavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(f"PostgreSQL cannot be started here: {reason}")


def insert(name: str, subject: str) -> None:
    db.session.execute(
        text(
            "INSERT INTO users (name, password_hash, roles, created_at, oidc_issuer, oidc_subject)"
            " VALUES (:name, NULL, '', CURRENT_TIMESTAMP, :issuer, :subject)"
        ),
        {"name": name, "issuer": ISSUER, "subject": subject},
    )
    db.session.commit()


def test_linked_accounts_are_unique_per_person_and_stay_closed_after_a_downgrade(database_url):
    from web.accounts.users import authenticate

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        insert("grace", "sub-1")
        with pytest.raises(IntegrityError):
            insert("grace-2", "sub-1")
        db.session.rollback()
        db.session.remove()
        downgrade(directory=str(MIGRATIONS_DIR), revision="0001")
        db.session.remove()
        stored = db.session.execute(text("SELECT password_hash FROM users WHERE name = 'grace'")).scalar_one()
        assert stored == "!"
        # The read's transaction would hold back the next migration's ALTER TABLE on PostgreSQL.
        db.session.remove()
        upgrade(directory=str(MIGRATIONS_DIR))
        assert authenticate("grace", "!") is None
        db.engine.dispose()
