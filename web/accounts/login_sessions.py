"""Login sessions kept by the server: what a login cookie names, so that ending one ends every copy.

A login gets a random token; the cookie carries it (as Flask-Login's user id) and the database
only its SHA-256 hash. A request's account is found through an open session: not ended, and seen
within ``PERMANENT_SESSION_LIFETIME`` (the cookie's own idle lifetime). Logging out, logging out
everywhere, a password change or reset, an admin or a deleted account end sessions here, and the
next request with any copy of their cookie is anonymous (``web.accounts.auth``); the Bokeh
processes read the same records (``bkruntime.login_records``), refuse the login within
``LOGIN_CHECK_SECONDS`` and close its open websockets of private apps (``bkruntime.login_sweep``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import joinedload

from web.database import db
from web.models import LoginSession, User, as_utc, utcnow

TOKEN_BYTES = 32
# ``last_seen_at`` is written at most this often per session: not one database write per request.
LAST_SEEN_STEP = timedelta(seconds=60)
USER_AGENT_LENGTH = 255
ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class ProviderSession:
    """Where a single-sign-on login came from: the provider's session id and the ID token."""

    sid: str | None
    id_token: str | None


def token_hash(token: str) -> str:
    """What the database keeps of a token (a token has 256 random bits: no salt or stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _idle_limit() -> timedelta:
    """How long an unused login lasts: as long as its cookie (``SESSION_LIFETIME_HOURS``)."""
    return current_app.permanent_session_lifetime


def _open_sessions():
    """The condition of a session that still logs in: not ended, seen within the lifetime."""
    return (LoginSession.revoked_at.is_(None), LoginSession.last_seen_at > utcnow() - _idle_limit())


def open_login_session(
    user: User, user_agent: str = "", address: str = "", provider_session: ProviderSession | None = None
) -> str:
    """A new login session of ``user``; its token, which only the visitor's cookie will hold.
    ``provider_session``: the single-sign-on provider's session it came from."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    _forget_closed(user)
    db.session.add(
        LoginSession(
            token_hash=token_hash(token),
            user=user,
            created_at=now,
            last_seen_at=now,
            user_agent=(user_agent or "")[:USER_AGENT_LENGTH],
            address=(address or "")[:ADDRESS_LENGTH],
            oidc_sid=provider_session.sid if provider_session else None,
            oidc_id_token=provider_session.id_token if provider_session else None,
        )
    )
    user.last_login_at = now
    user.login_token = token
    db.session.commit()
    return token


def user_of(token: str) -> User | None:
    """The account whose open session ``token`` names, or None (unknown, ended, expired)."""
    if not token or len(token) > 128:
        return None
    query = select(LoginSession).where(LoginSession.token_hash == token_hash(token), *_open_sessions())
    # One query for the session and its account: this runs on every request of a logged-in visitor.
    login = db.session.scalar(query.options(joinedload(LoginSession.user)))
    if login is None:
        return None
    now = utcnow()
    if now - as_utc(login.last_seen_at) > LAST_SEEN_STEP:
        login.last_seen_at = now
        db.session.commit()
    user = login.user
    user.login_token = token
    user.login_id = login.id
    return user


def end_login_session(token: str | None) -> None:
    """End the session ``token`` names (logging out): every copy of its cookie stops working."""
    if token:
        _end(LoginSession.token_hash == token_hash(token))


def id_token_of(token: str | None) -> str | None:
    """The provider's ID token of the open login ``token`` names (a single-sign-on login), or None."""
    if not token:
        return None
    query = select(LoginSession.oidc_id_token).where(LoginSession.token_hash == token_hash(token), *_open_sessions())
    return db.session.scalar(query)


def end_provider_logins(issuer: str, sid: str | None, subject: str | None) -> int:
    """End the logins a provider's back-channel logout names: those of its session ``sid`` (the more
    precise, when the token has one), else every login of the person ``subject``; how many ended."""
    if sid:
        accounts = select(User.id).where(User.oidc_issuer == issuer)
        condition = LoginSession.user_id.in_(accounts) & (LoginSession.oidc_sid == sid)
    elif subject:
        accounts = select(User.id).where(User.oidc_issuer == issuer, User.oidc_subject == subject)
        condition = LoginSession.user_id.in_(accounts)
    else:
        return 0
    return _end(condition)


def end_all_login_sessions(user: User, keep_token: str | None = None) -> int:
    """End every open session of ``user``, except the one of ``keep_token``; how many were ended."""
    condition = LoginSession.user_id == user.id
    if keep_token:
        condition = condition & (LoginSession.token_hash != token_hash(keep_token))
    return _end(condition)


def open_session_counts() -> dict[int, int]:
    """Open sessions per account id (accounts without any are left out)."""
    rows = db.session.execute(
        select(LoginSession.user_id, func.count()).where(*_open_sessions()).group_by(LoginSession.user_id)
    )
    return {user_id: count for user_id, count in rows}


def open_sessions_of(user: User) -> list[LoginSession]:
    """``user``'s open sessions, the most recently seen first."""
    query = select(LoginSession).where(LoginSession.user_id == user.id, *_open_sessions())
    return list(db.session.scalars(query.order_by(LoginSession.last_seen_at.desc())))


def is_token_of(login: LoginSession, token: str | None) -> bool:
    """Whether ``token`` (a cookie's) names ``login``."""
    return bool(token) and login.token_hash == token_hash(token)


def _end(condition) -> int:
    """Mark the open sessions matching ``condition`` ended (kept until their account's next login)."""
    result = db.session.execute(
        update(LoginSession).where(condition, *_open_sessions()).values(revoked_at=utcnow()),
        execution_options={"synchronize_session": "fetch"},
    )
    db.session.commit()
    return result.rowcount


def _forget_closed(user: User) -> None:
    """Delete ``user``'s ended and expired sessions: nothing reads them any more."""
    if user.id is None:
        return
    expired = LoginSession.last_seen_at <= utcnow() - _idle_limit()
    db.session.execute(
        delete(LoginSession).where(LoginSession.user_id == user.id, or_(LoginSession.revoked_at.is_not(None), expired))
    )
