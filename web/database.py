"""The site's database: Flask-SQLAlchemy for the models, Alembic migrations under ``migrations/``.

``DATABASE_URL`` names it (default: a SQLite file in the instance folder). The schema only ever
changes through the migrations: ``flask --app web db upgrade`` applies them, and so does the run
command in development (``DATABASE_AUTO_UPGRADE``), so a fresh clone needs no manual step.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate, upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class Base(DeclarativeBase):
    # Named constraints: a later migration can drop or alter them by name on every backend
    # (SQLite's batch mode needs the names too).
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
# Batch mode lets later migrations alter SQLite tables (SQLite has no ALTER COLUMN).
migrate = Migrate(directory=str(MIGRATIONS_DIR), render_as_batch=True)


# A database server that does not answer: fail a request within this, not the system's TCP timeout.
CONNECT_TIMEOUT_SECONDS = 5


def init_app(app: Flask) -> None:
    """Wire the database and the ``flask db`` commands into ``app``."""
    options = {"pool_pre_ping": True}
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    _create_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    migrate.init_app(app, db)


def upgrade_schema(app: Flask) -> None:
    """Apply every migration not yet applied to ``app``'s database."""
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        # Connections opened here must not be shared with processes forked afterwards.
        db.engine.dispose()


def schema_report() -> dict[str, object]:
    """Whether the database answers and has every migration applied (the site's ``/readyz``).

    Production does not migrate at startup, so a release whose migrations were not run would
    fail its first login; this says so before anyone tries.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    head = sorted(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    try:
        with db.engine.connect() as connection:
            current = sorted(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        return {"ok": False, "head": head, "error": f"not reachable ({error.__class__.__name__})"}
    if current != head:
        behind = f"at {', '.join(current) or 'no revision'}, not {', '.join(head)}: run flask --app web db upgrade"
        return {"ok": False, "revision": current, "head": head, "error": behind}
    return {"ok": True, "revision": current, "head": head}


def prepare_database(config: Mapping[str, object]) -> bool:
    """For run commands: upgrade the schema if ``DATABASE_AUTO_UPGRADE`` says so; True if it did.

    Builds a bare app with the database only, so a run command's parent process (gunicorn's
    master) migrates once before its workers start, without starting anything else.
    """
    if not config.get("DATABASE_AUTO_UPGRADE"):
        return False
    app = Flask(__name__)
    app.config.from_mapping(config)
    init_app(app)
    upgrade_schema(app)
    return True


def _create_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
