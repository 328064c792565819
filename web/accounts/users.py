"""Accounts: create, find, check and change the password of, set the roles of, and delete users.

The CLI (``web.accounts.users_cli``) and the site's views use these; besides them only single sign-on
(``web.accounts.sso_accounts``) writes the ``users`` table. Names are lower-cased and follow
``aperture.access.NAME_PATTERN``; passwords must have at least ``MIN_PASSWORD_LENGTH`` characters
(a setting) wherever they are set, and are only ever stored hashed. A new password ends the
account's other login sessions and its unused reset links. With ``LOCAL_LOGIN=false`` no
password can be set (``passwords_refused``): none would ever be typed in.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from aperture.access import NAME_PATTERN
from web.accounts.login_sessions import end_all_login_sessions
from web.database import db
from web.models import PasswordReset, User

# The longest password the login form takes: a longer one could be set but never typed in.
MAX_PASSWORD_LENGTH = 1024
# Checked when the name is unknown, so that a wrong name takes as long as a wrong password.
_UNKNOWN_USER_HASH = generate_password_hash("no account has this password")


class AccountError(ValueError):
    """A name, role or password that cannot be used; the message says why."""


def normalise_name(name: str) -> str:
    return name.strip().lower()


def find_user(name: str) -> User | None:
    return db.session.scalar(select(User).where(User.name == normalise_name(name)))


def create_user(name: str, password: str, roles: Iterable[str] = ()) -> User:
    """A new account; raises ``AccountError`` for a bad or taken name, bad role or short password."""
    name = normalise_name(name)
    roles = [normalise_name(role) for role in roles]
    if not NAME_PATTERN.match(name):
        raise AccountError(
            "a name is 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    check_roles(roles)
    check_new_password(password)
    if find_user(name) is not None:
        raise AccountError(f"there is already an account called {name!r}")
    user = User(name=name)
    user.roles = roles
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def check_roles(roles: Iterable[str]) -> None:
    """Raise ``AccountError`` naming the first role that is not a valid name."""
    for role in roles:
        if not NAME_PATTERN.match(role):
            raise AccountError(f"role {role!r} is not a valid name")


def check_new_password(password: str) -> None:
    """Raise ``AccountError`` unless ``password`` may be set (``MIN_PASSWORD_LENGTH`` and up)."""
    shortest = int(current_app.config["MIN_PASSWORD_LENGTH"])
    if len(password) < shortest:
        raise AccountError(f"the password must have at least {shortest} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


def change_password(user: User, password: str, keep_token: str | None = None) -> int:
    """Set ``user``'s password and end their login sessions but ``keep_token``'s; how many ended.

    Reset links not used yet stop working: one printed before must not undo the new password."""
    check_new_password(password)
    user.set_password(password)
    db.session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)))
    db.session.commit()
    return end_all_login_sessions(user, keep_token=keep_token)


def passwords_refused(user: User | None = None) -> str | None:
    """Why ``user`` (or anyone, for None) cannot set a password here, or None if they can: local
    logins switched off, or, to change one, an account without a password (single sign-on)."""
    provider = current_app.config["OIDC_PROVIDER_NAME"]
    if not current_app.config["LOCAL_LOGIN"]:
        return f"Passwords are switched off on this site: people log in with {provider}"
    if user is not None and not user.password_hash:
        return f"Your account logs in with {provider} and has no password here"
    return None


def set_roles(name: str, roles: Iterable[str]) -> User:
    """Give account ``name`` exactly ``roles``; the site and the apps see them at its next request."""
    roles = [normalise_name(role) for role in roles]
    check_roles(roles)
    user = find_user(name)
    if user is None:
        raise AccountError(f"there is no account called {normalise_name(name)!r}")
    user.roles = roles
    db.session.commit()
    return user


def authenticate(name: str, password: str) -> User | None:
    """The account if ``password`` is its password, else None (in about the same time either way)."""
    user = find_user(name) if NAME_PATTERN.match(normalise_name(name)) else None
    if user is None or not user.password_hash:
        # No account, or one without a password (single sign-on): refused, in the same time.
        check_password_hash(_UNKNOWN_USER_HASH, password)
        return None
    return user if user.check_password(password) else None


def login_refusal_reason(name: str) -> str:
    """Why a login as ``name`` with a wrong password was refused, for the audit trail (never for
    the visitor, who is told the same for every case)."""
    user = find_user(name) if NAME_PATTERN.match(normalise_name(name)) else None
    if user is None:
        return "no such account"
    if not user.password_hash:
        return "the account logs in with single sign-on only"
    return "wrong password"


def delete_user(name: str) -> bool:
    """Delete the account, its login sessions and share links; False if there was none of that name."""
    user = find_user(name)
    if user is None:
        return False
    db.session.delete(user)
    db.session.commit()
    return True


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.name)))
