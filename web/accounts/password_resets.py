"""Password reset links: an administrator prints one (``users reset-password NAME``), its owner opens it.

A link carries a random token; the database keeps its SHA-256 hash, when it expires
(``PASSWORD_RESET_TTL_SECONDS`` after it was made) and when it was used. ``/reset-password/<token>``
asks for a new password; setting it uses the link up and ends every login session of the account.
A newer link replaces older unused ones, and any new password all of them; a used, expired or
unknown link answers 410 or 404, every link 403 while passwords are switched off (``LOCAL_LOGIN``).
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import delete, select, update

from web.accounts.account import NewPasswordForm
from web.accounts.audit import record
from web.accounts.login_sessions import TOKEN_BYTES, token_hash
from web.accounts.users import AccountError, change_password, check_new_password, passwords_refused
from web.database import db
from web.models import PasswordReset, User, as_utc, utcnow

bp = Blueprint("password_resets", __name__)
log = logging.getLogger(__name__)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def issue_reset(user: User) -> str:
    """A new reset link's token for ``user``, valid for ``PASSWORD_RESET_TTL_SECONDS``."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    lifetime = timedelta(seconds=int(current_app.config["PASSWORD_RESET_TTL_SECONDS"]))
    # Only the newest link works: one printed earlier may have gone astray.
    db.session.execute(delete(PasswordReset).where(PasswordReset.user_id == user.id))
    db.session.add(PasswordReset(token_hash=token_hash(token), user=user, created_at=now, expires_at=now + lifetime))
    db.session.commit()
    return token


def reset_url(token: str) -> str:
    """The link's address as its owner's browser reaches the site (``SITE_PUBLIC_URL``)."""
    return f"{current_app.config['SITE_PUBLIC_URL']}/reset-password/{token}"


def _reset_or_abort(token: str) -> PasswordReset:
    reset = None
    if _TOKEN.match(token):
        reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)))
    if reset is None:
        abort(404, description="There is no password reset link at this address; ask an administrator for a new one.")
    if reset.used_at is not None:
        abort(410, description="This password reset link was used already; ask an administrator for a new one.")
    if as_utc(reset.expires_at) <= utcnow():
        abort(410, description="This password reset link has expired; ask an administrator for a new one.")
    return reset


def _use_up(reset: PasswordReset) -> bool:
    """Mark the link used, unless a request at the same moment did so first (only one may use it)."""
    claimed = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return claimed.rowcount == 1


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Ask for a new password; set it, use the link up and end every login of the account."""
    refused = passwords_refused()
    if refused:
        abort(403, description=refused + ".")
    reset = _reset_or_abort(token)
    form = NewPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            check_new_password(form.password.data)
        except AccountError as problem:
            error = str(problem).capitalize() + "."
        else:
            user = reset.user
            if not _use_up(reset):
                abort(410, description="This password reset link was used already; ask an administrator for a new one.")
            ended = change_password(user, form.password.data)
            log.info("password reset: %s from %s", user.name, request.remote_addr)
            record("password_reset_used", subject=user.name, detail=f"{ended} login session(s) ended")
            flash(f"The password of {user.name} is set; log in with it.")
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        error = " ".join(message for messages in form.errors.values() for message in messages)
    body = render_template("account/reset.html", form=form, error=error, name=reset.user.name, token=token)
    # The token is the only key to this page: keep it out of Referer headers and caches.
    return body, 200, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
