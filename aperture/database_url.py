"""``DATABASE_URL`` as SQLAlchemy takes it: read by the site, and by the Bokeh processes (the
logins they check, ``bkruntime.login_records``, and the audit trail they write).

Both sides must name the same database: by default a SQLite file in the instance folder
(``APERTURE_INSTANCE_DIR``, shared by both processes), else the URL given. A plain
``postgres://`` or ``postgresql://`` means psycopg2 to SQLAlchemy; the project installs psycopg 3.
"""

from __future__ import annotations

from aperture.environment import ConfigurationError, Environ, env_str, instance_dir


def database_url(environ: Environ) -> str:
    """``DATABASE_URL`` as SQLAlchemy takes it; default: a SQLite file in the instance folder."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = env_str(environ, "DATABASE_URL", "")
    if not url:
        return f"sqlite:///{instance_dir(environ).resolve() / 'aperture.db'}"
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url[len(scheme) :]
    try:
        make_url(url)
    except ArgumentError:
        raise ConfigurationError("DATABASE_URL must be an SQLAlchemy URL like postgresql://user@host/db") from None
    return url
