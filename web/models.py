"""The site's tables: accounts and the share links they publish.

Passwords are stored as werkzeug hashes (scrypt) only, and an account made by single sign-on
has none (no password opens it); account and role names follow
``bkapps.access.NAME_PATTERN``. Roles are kept as one space-separated column: a handful per
account, read together, never queried one by one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from bkapps.access import ADMIN_ROLE, Visitor
from web.database import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(UserMixin, db.Model):
    """An account that can log in to the site (and so to the standalone private apps)."""

    __tablename__ = "users"
    # Single sign-on: one account per person of a provider (issuer, subject).
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    roles_text: Mapped[str] = mapped_column("roles", String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    oidc_issuer: Mapped[str | None] = mapped_column(String(255), nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    share_links: Mapped[list[ShareLink]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", order_by="ShareLink.created_at.desc()"
    )

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.roles_text.split())

    @roles.setter
    def roles(self, roles) -> None:
        self.roles_text = " ".join(sorted(set(roles)))

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

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
