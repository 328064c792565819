"""The site's tables: accounts, their login sessions, password resets, second factor and share links; the audit trail.

Passwords are stored as werkzeug hashes (scrypt) only, and an account made by single sign-on
has none (no password opens it); account and role names follow
``aperture.access.NAME_PATTERN``. Roles are kept as one space-separated column: a handful per
account, read together, never queried one by one. Account ids are never reused (SQLite
``AUTOINCREMENT``; PostgreSQL's sequence), and login sessions and reset links keep only a hash of
their token, so a copy of the database opens nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from aperture.access import ADMIN_ROLE, Visitor
from web.database import db


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time (SQLite hands stored times back without their zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class User(db.Model):
    """An account that can log in to the site (and so to the standalone private apps).

    Flask-Login knows a logged-in account by the token of its login session (``get_id``), never
    by the row id: a cookie then names one login, which ends with it or with the account.
    """

    __tablename__ = "users"
    # A freed id is never handed out again (SQLite would reuse the highest one otherwise); single
    # sign-on keeps one account per person of a provider (issuer, subject).
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"), {"sqlite_autoincrement": True})

    # Flask-Login's protocol; every loaded account is a logged-in one.
    is_authenticated = True
    is_active = True
    is_anonymous = False
    # The token of the login session this account came with (``web.accounts.login_sessions``); not stored.
    login_token = None
    # The id of that login session's record, which the site's session tokens carry; not stored.
    login_id = None

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    roles_text: Mapped[str] = mapped_column("roles", String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    oidc_issuer: Mapped[str | None] = mapped_column(String(255), nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The second factor (``web.accounts.second_factor``): the TOTP secret once enrolled, the one
    # being enrolled until its first code confirms it, and the last time step whose code was used.
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    share_links: Mapped[list[ShareLink]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", order_by="ShareLink.created_at.desc()"
    )
    # Deleted with the account by the ORM as well as by the database: SQLite enforces no foreign keys here.
    login_sessions: Mapped[list[LoginSession]] = relationship(back_populates="user", cascade="all, delete-orphan")
    password_resets: Mapped[list[PasswordReset]] = relationship(back_populates="user", cascade="all, delete-orphan")
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def get_id(self) -> str | None:
        """Flask-Login's id of this login: its session's token (what the cookie holds)."""
        return self.login_token

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.roles_text.split())

    @roles.setter
    def roles(self, roles) -> None:
        self.roles_text = " ".join(sorted(set(roles)))

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        # An account without a password (single sign-on only) is never opened by one.
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def visitor(self) -> Visitor:
        """What the apps may know about this account: name and roles."""
        return Visitor(self.name, self.roles)

    def __repr__(self) -> str:
        return f"<User {self.name}>"


class ShareLink(db.Model):
    """A published view of an app (its name and validated arguments), opened at ``/s/<token>``."""

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    app: Mapped[str] = mapped_column(String(64))
    arguments_json: Mapped[str] = mapped_column("arguments", Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    owner: Mapped[User] = relationship(back_populates="share_links")

    @property
    def arguments(self) -> dict[str, str]:
        """The arguments as query values (text), to be parsed by the app's catalog entry again."""
        return json.loads(self.arguments_json)

    @arguments.setter
    def arguments(self, values) -> None:
        self.arguments_json = json.dumps({name: str(value) for name, value in values.items()}, sort_keys=True)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class LoginSession(db.Model):
    """One login: what a site cookie names (by its token, stored here as a SHA-256 hash only)."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # A single-sign-on login: the provider's session id (named by its back-channel logout tokens)
    # and the ID token (the hint of the logout the site sends the provider).
    oidc_sid: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    oidc_id_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    user: Mapped[User] = relationship(back_populates="login_sessions")


class OidcLogoutToken(db.Model):
    """The ``jti`` of a back-channel logout token the site took, kept until the token expires: a
    replayed one is refused."""

    __tablename__ = "oidc_logout_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PasswordReset(db.Model):
    """A one-time link that sets an account's password (its token stored as a SHA-256 hash only)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user: Mapped[User] = relationship(back_populates="password_resets")


class RecoveryCode(db.Model):
    """A one-time code that stands in for a second-factor code (stored as a SHA-256 hash only)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    user: Mapped[User] = relationship(back_populates="recovery_codes")


class AuditEvent(db.Model):
    """One security event (``web.accounts.audit``): what happened, who did it, to whom, from where.

    Never updated; deleted only when older than ``AUDIT_RETENTION_DAYS``. Names are kept as text,
    not as links to accounts: an entry outlives the accounts it names.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(64), default="", index=True)
    subject: Mapped[str] = mapped_column(String(64), default="", index=True)
    detail: Mapped[str] = mapped_column(String(500), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
