"""The login's second step for an account with a second factor: its code, after the password.

A right password for such an account logs nobody in: the cookie gets only a note of whose code is
asked for (``SECOND_STEP_KEY``: the account, since when, and ``next``), which opens nothing, on
the site or on the Bokeh server. ``/login/code`` then takes an authenticator code or a recovery
code (``web.accounts.second_factor``), under the same failed-login limits as passwords
(``web.accounts.login_limits``, counted for that account and address), and within
``SECOND_STEP_SECONDS`` of the password; only then is the visitor logged in (``auth.log_in``).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from web.accounts import auth, login_limits
from web.accounts.audit import record
from web.accounts.second_factor import check_totp_code, recovery_codes_left, use_recovery_code
from web.database import db
from web.models import User

bp = Blueprint("second_step", __name__)
log = logging.getLogger(__name__)

SECOND_STEP_KEY = "second_step"
# How long after the right password the code may be given.
SECOND_STEP_SECONDS = 300


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[InputRequired(), Length(max=32)])


def begin_second_step(user: User, next_path: str | None):
    """Remember that ``user`` gave the right password, and ask for their code."""
    session[SECOND_STEP_KEY] = {"user": user.id, "name": user.name, "since": int(time.time()), "next": next_path or ""}
    return redirect(url_for("second_step.code"))


def _pending() -> dict:
    pending = session.get(SECOND_STEP_KEY)
    return pending if isinstance(pending, dict) else {}


def _pending_name() -> str:
    return str(_pending().get("name", ""))


def _pending_user() -> User | None:
    """The account whose code is asked for, unless that was too long ago or it changed since."""
    pending = _pending()
    if not pending or time.time() - float(pending.get("since", 0)) > SECOND_STEP_SECONDS:
        return None
    user = db.session.get(User, pending.get("user"))
    if user is None or user.name != pending.get("name") or not user.has_second_factor:
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@login_limits.failed_logins_limited(account=_pending_name)
def code():
    """Ask for the code; log in when it is right and not used before."""
    user = _pending_user()
    if user is None:
        session.pop(SECOND_STEP_KEY, None)
        flash("Log in with your name and password first (the code is asked for within 5 minutes of them).")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        outcome, how = check_totp_code(user, form.code.data), "authenticator code"
        if outcome == "wrong" and use_recovery_code(user, form.code.data):
            outcome, how = "ok", f"recovery code ({recovery_codes_left(user)} left)"
        if outcome == "ok":
            next_path = _pending().get("next")
            session.pop(SECOND_STEP_KEY, None)
            auth.log_in(user)
            log.info("login: %s with a second factor from %s", user.name, request.remote_addr)
            record("second_factor_used", actor=user.name, subject=user.name, detail=how)
            record("login_succeeded", actor=user.name, subject=user.name, detail=f"password and {how}")
            return redirect(auth.safe_next(next_path) or url_for("gallery.index"))
        g.login_failed = True
        if outcome == "replayed":
            error = "That code was used already: wait for the next one."
            record("login_failed", subject=user.name, detail="second-factor code used already")
        else:
            error = "That code is wrong."
            record("login_failed", subject=user.name, detail="wrong second-factor code")
    return render_template("auth/code.html", form=form, error=error, name=user.name)
