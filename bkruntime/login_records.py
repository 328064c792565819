"""The site's logins as the Bokeh processes read them: from the site's own database, briefly cached.

A login is open while its record in ``login_sessions`` is not ended and was seen within the
login's lifetime (``SESSION_LIFETIME_HOURS``), exactly the site's rule (``web.accounts.login_sessions``);
its visitor is its account's name and roles as they are now. Every process of every replica reads
the same rows, so a login ended anywhere (logout, "log out everywhere", a password change or
reset, an admin, ``users log-out``, a deleted account) or a role removed is refused everywhere
once the cache entry is older than ``LOGIN_CHECK_SECONDS``, also after a restart.

Bokeh never imports the site: the two tables are declared here with only the columns read, and a
test reads logins the real site wrote. A database that cannot be read refuses the login (a
private app stays closed) and logs a warning, at most once a minute.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, make_url, select
from sqlalchemy.exc import SQLAlchemyError

from aperture.access import Visitor

log = logging.getLogger(__name__)

_metadata = MetaData()
_users = Table(
    "users", _metadata, Column("id", Integer, primary_key=True), Column("name", String), Column("roles", String)
)
_logins = Table(
    "login_sessions",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String),
    Column("user_id", Integer),
    Column("last_seen_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)
# Entries beyond this are dropped wholesale: a flood of made-up tokens must not grow the cache.
MAX_CACHED = 10_000
WARNING_INTERVAL_SECONDS = 60.0
SQLITE_LOCK_SECONDS = 0.5


@dataclass(frozen=True)
class OpenLogin:
    """An open login: its record's id (what the site's tokens carry) and its account as it is now."""

    id: int
    visitor: Visitor


def token_hash(token: str) -> str:
    """What the site's database keeps of a login token (``web.accounts.login_sessions.token_hash``)."""
    return hashlib.sha256(token.encode()).hexdigest()


def read_only(database_url: str) -> str:
    """``database_url``, opened read-only where the URL can say so (a SQLite file: the Bokeh side
    then never creates or changes the site's database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return database_url
    if url.database.startswith("file:"):
        return database_url
    return url.set(database=f"file:{url.database}", query={**url.query, "mode": "ro", "uri": "true"}).render_as_string(
        hide_password=False
    )


class LoginRecords:
    """Looks logins up by the token a cookie holds or by their id; ``cache_seconds`` bounds how
    long an answer, open or not, is reused."""

    def __init__(
        self,
        database_url: str,
        lifetime_seconds: int,
        cache_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        url = read_only(database_url)
        # A SQLite file being written is locked for a moment; wait at most this long, not 5 s, as
        # the lookup runs on the Bokeh process's event loop.
        connect_args = {"timeout": SQLITE_LOCK_SECONDS} if url.startswith("sqlite") else {}
        self._engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        self._lifetime = timedelta(seconds=lifetime_seconds)
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[object, tuple[float, OpenLogin | None]] = {}
        # The cache keys that hold each open login (by token and by id): forgotten when the sweep
        # finds it ended, so a page cannot reopen on an answer older than the sweep's.
        self._keys_of: dict[int, set[object]] = {}
        self._warned_at = -WARNING_INTERVAL_SECONDS

    def by_token(self, token: str | None) -> OpenLogin | None:
        """The open login a cookie's token names, or None (unknown, ended, expired, unreadable)."""
        if not token or len(token) > 128:
            return None
        digest = token_hash(token)
        return self._cached(("token", digest), lambda: self._one(_logins.c.token_hash == digest))

    def by_id(self, login_id: object) -> OpenLogin | None:
        """The open login with record id ``login_id`` (from a token the site minted), or None."""
        if not isinstance(login_id, int) or isinstance(login_id, bool):
            return None
        return self._cached(("id", login_id), lambda: self._one(_logins.c.id == login_id))

    def open_among(self, login_ids: Iterable[int]) -> dict[int, OpenLogin] | None:
        """Which of ``login_ids`` are open now (uncached, one query; the cached answers about the
        others are forgotten); None if the database cannot be read."""
        ids = sorted(set(login_ids))
        if not ids:
            return {}
        try:
            found = {login.id: login for login in self._open(_logins.c.id.in_(ids))}
        except SQLAlchemyError as error:
            self._warn(error)
            return None
        for login_id in ids:
            if login_id not in found:
                for key in self._keys_of.pop(login_id, ()):
                    self._cache.pop(key, None)
        return found

    def _cached(self, key: object, look_up: Callable[[], OpenLogin | None]) -> OpenLogin | None:
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            found = look_up()
        except SQLAlchemyError as error:
            self._warn(error)
            return None
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
            self._keys_of.clear()
        self._cache[key] = (now + self.cache_seconds, found)
        if found is not None:
            self._keys_of.setdefault(found.id, set()).add(key)
        return found

    def _one(self, condition) -> OpenLogin | None:
        found = self._open(condition)
        return found[0] if found else None

    def _open(self, condition) -> list[OpenLogin]:
        since = datetime.now(UTC) - self._lifetime
        query = (
            select(_logins.c.id, _users.c.name, _users.c.roles)
            .join(_users, _users.c.id == _logins.c.user_id)
            .where(condition, _logins.c.revoked_at.is_(None), _logins.c.last_seen_at > since)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        logins = []
        for login_id, name, roles in rows:
            visitor = Visitor.from_payload({"name": name, "roles": (roles or "").split()})
            if visitor is not None:
                logins.append(OpenLogin(login_id, visitor))
        return logins

    def _warn(self, error: SQLAlchemyError) -> None:
        now = self._clock()
        if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
            self._warned_at = now
            log.warning("the site's database cannot be read; private apps refuse logins meanwhile: %s", error)


@cache
def process_login_records(database_url: str, lifetime_seconds: int, cache_seconds: float) -> LoginRecords:
    """This process's one reader: Bokeh loads ``--auth-module`` as a module of its own, and its login
    check, the standalone pages' identity and the sweep must share one cache (the sweep corrects it)."""
    return LoginRecords(database_url, lifetime_seconds, cache_seconds)
