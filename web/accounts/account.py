"""A signed-in visitor's own account: where they are logged in, "log out everywhere", a new password.

``/account`` lists the visitor's open login sessions (``web.accounts.login_sessions``) with a button that
ends all of them, this one included; ``/account/password`` asks for the current password and a
new one, and ends every other session (403 for an account without a password, or with passwords
switched off). Both forms carry the CSRF token.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import EqualTo, InputRequired, Length

from aperture.site_login import LOGIN_MARKER_KEY
from web.accounts.audit import record
from web.accounts.auth import log_out
from web.accounts.login_limits import limiter, login_failed
from web.accounts.login_sessions import end_all_login_sessions, is_token_of, open_sessions_of
from web.accounts.users import MAX_PASSWORD_LENGTH, AccountError, change_password, passwords_refused

bp = Blueprint("account", __name__, url_prefix="/account")
log = logging.getLogger(__name__)


class EndSessionsForm(FlaskForm):
    """Nothing but the CSRF token: another site must not be able to log a visitor out."""


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField(
        "New password again", validators=[InputRequired(), EqualTo("password", message="The two new passwords differ.")]
    )


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)])


@bp.get("")
@login_required
def overview():
    """The visitor's open login sessions, this one marked, and the way to end them all."""
    this_token = session.get(LOGIN_MARKER_KEY)
    logins = [(login, is_token_of(login, this_token)) for login in open_sessions_of(current_user)]
    return render_template(
        "account/overview.html", logins=logins, form=EndSessionsForm(), password_refused=passwords_refused(current_user)
    )


@bp.post("/logout-everywhere")
@login_required
def logout_everywhere():
    """End every login session of the visitor's, on every browser, this one included."""
    if not EndSessionsForm().validate():
        abort(400, description="The form was incomplete.")
    name = current_user.name
    ended = end_all_login_sessions(current_user)
    log_out()
    log.info("logged out everywhere: %s (%d session(s))", name, ended)
    record("logins_ended", actor=name, subject=name, detail=f"{ended} login session(s), by log out everywhere")
    flash(f"Logged out everywhere: {ended} login session(s) of {name} ended.")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
# A stolen cookie must not buy unlimited guesses at the current password either.
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    key_func=lambda: f"password-change/{current_user.id}",
    methods=["POST"],
    deduct_when=login_failed,
)
def password():
    """Change the password: the current one first; every other login session then ends."""
    refused = passwords_refused(current_user)
    if refused:
        # No current password to ask for, or none that could ever be used: nothing to guess at.
        abort(403, description=refused + ".")
    form = ChangePasswordForm()
    error = None
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            error = "The current password is wrong."
        else:
            try:
                ended = change_password(current_user, form.password.data, keep_token=session.get(LOGIN_MARKER_KEY))
            except AccountError as problem:
                error = str(problem).capitalize() + "."
            else:
                log.info("password changed: %s from %s", current_user.name, request.remote_addr)
                record(
                    "password_changed",
                    actor=current_user.name,
                    subject=current_user.name,
                    detail=f"{ended} other login session(s) ended",
                )
                flash(f"Your password is changed; {ended} other login session(s) ended.")
                return redirect(url_for(".overview"))
    elif request.method == "POST":
        error = " ".join(message for messages in form.errors.values() for message in messages)
    if error:
        g.login_failed = True
    return render_template("account/password.html", form=form, error=error)
