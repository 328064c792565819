"""The accounts in the admin view: each with its roles, last login and open login sessions.

``/admin`` shows ``account_rows()``; its "End logins" button (``EndSessionsForm``, a POST with
the CSRF token, handled by ``web.operations.admin``) calls ``end_sessions_of``: the account's cookies then open
nothing, on the site at once and on every app within about twice ``LOGIN_CHECK_SECONDS``.
"""

from __future__ import annotations

from flask_wtf import FlaskForm

from web.accounts.login_sessions import end_all_login_sessions, open_session_counts
from web.accounts.users import all_users
from web.database import db
from web.models import User


class EndSessionsForm(FlaskForm):
    """Nothing but the CSRF token: another site must not be able to end anyone's sessions."""


def account_rows() -> list[dict[str, object]]:
    """Every account with its id, roles, last login, number of open login sessions and second factor."""
    counts = open_session_counts()
    return [
        {
            "id": user.id,
            "name": user.name,
            "roles": user.roles,
            "last_login_at": user.last_login_at,
            "open_sessions": counts.get(user.id, 0),
            # On, off, or left to the provider (an account without a password).
            "second_factor": "on" if user.has_second_factor else ("off" if user.password_hash else "provider"),
        }
        for user in all_users()
    ]


def end_sessions_of(user_id: int) -> tuple[User, int] | None:
    """End every login session of account ``user_id`` (ids are never reused, names may be);
    the account and how many ended, or None if there is no such account."""
    user = db.session.get(User, user_id)
    if user is None:
        return None
    return user, end_all_login_sessions(user)
