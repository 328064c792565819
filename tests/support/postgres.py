"""A throwaway PostgreSQL server for the database tests: Debian's ``postgresql`` package, a fresh
cluster in a temporary folder, a free loopback port, stopped and deleted afterwards.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` account the
package creates and its commands run through ``runuser``. Without the package the tests skip with
the reason locally, and fail under CI (``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port

READY_SECONDS = 30.0
DATABASE = "aperture_test"
USER = "aperture"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PostgresUnavailable("no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql package")
    return Path(found[-1]).parent


def _as_owner() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root without runuser to start PostgreSQL as another user")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no postgres account to run PostgreSQL") from None
    return ["runuser", "-u", "postgres", "--"]


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise PostgresUnavailable(f"{' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a server; yield an SQLAlchemy URL of an empty database on it; stop and delete it."""
    binaries, as_owner = postgres_bin(), _as_owner()
    root = Path(tempfile.mkdtemp(prefix="aperture-postgres-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if as_owner:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    pg_ctl = [*as_owner, str(binaries / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        _run([*as_owner, str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"])
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run([*pg_ctl, "-o", options, "-l", str(root / "server.log"), "-w", "-t", str(int(READY_SECONDS)), "start"])
        started = True
        _create_database(port)
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _create_database(port: int, name: str = DATABASE) -> None:
    import psycopg

    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres", autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL did not accept connections: {error}") from None
            time.sleep(0.1)


def another_database(url: str, name: str) -> str:
    """A new empty database ``name`` on the server of ``url``; its URL."""
    from sqlalchemy.engine import make_url

    server = make_url(url)
    _create_database(server.port, name)
    return server.set(database=name).render_as_string(hide_password=False)
