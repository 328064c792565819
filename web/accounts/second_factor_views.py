"""The account page's second factor: enrol with a QR code and a confirming code, or remove it.

``/account/second-factor`` shows, for an account without one, a QR code of a new secret (and the
secret as text) and asks for a code made from it; the right code makes it the account's and
shows the ten recovery codes, once. With one enrolled, the page offers to remove it, given a
current code (or a recovery code). With ``REQUIRE_MFA`` on, an admin without a second factor is
sent here before anything else, and the Bokeh server is not told of their login until they have
one (``enrolment_required``, checked on every request). Single-sign-on accounts leave the second
factor to their provider: the page says so.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from web.accounts.audit import record
from web.accounts.login_limits import limiter, login_failed
from web.accounts.second_factor import (
    check_totp_code,
    confirm_enrolment,
    enrolment_required,
    may_enrol,
    pending_secret,
    provisioning_uri,
    qr_code_data_uri,
    recovery_codes_left,
    remove_second_factor,
    use_recovery_code,
)

bp = Blueprint("second_factor", __name__, url_prefix="/account/second-factor")
log = logging.getLogger(__name__)

# What an admin who must enrol may still reach: this page, logging out, and what every page needs.
_OPEN_DURING_ENROLMENT = {"second_factor.enrol", "second_factor.confirm", "auth.logout", "static"}
_OPEN_BLUEPRINTS = ("bokehjs.", "health.", "metrics.")


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[InputRequired(), Length(max=32)])


def init_app(app: Flask) -> None:
    app.before_request(_enrol_first)


def _enrol_first():
    """Under ``REQUIRE_MFA``, an admin without a second factor sees nothing but the enrolment."""
    if not current_user.is_authenticated or not enrolment_required(current_user):
        return None
    endpoint = request.endpoint or ""
    if endpoint in _OPEN_DURING_ENROLMENT or endpoint.startswith(_OPEN_BLUEPRINTS):
        return None
    if request.method != "GET" or request.path.startswith("/api/"):
        abort(403, description="Admins need a second factor here: enrol at /account/second-factor first.")
    flash("This site asks admins for a second factor: enrol one before going on.")
    return redirect(url_for("second_factor.enrol"))


def _code_limit():
    """Guesses at codes from the account page: limited like password changes."""
    return limiter.limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT"],
        key_func=lambda: f"second-factor/{current_user.id}",
        methods=["POST"],
        deduct_when=login_failed,
    )


@bp.get("")
@login_required
def enrol():
    """Enrolment (QR code, secret and code form), or, once enrolled, its state and removal."""
    if not may_enrol(current_user):
        provider = current_app.config["OIDC_PROVIDER_NAME"] or "your single-sign-on provider"
        return render_template("account/second_factor.html", provider=provider, form=CodeForm())
    if current_user.has_second_factor:
        codes_left = recovery_codes_left(current_user)
        return render_template("account/second_factor.html", codes_left=codes_left, form=CodeForm())
    secret = pending_secret(current_user)
    body = render_template(
        "account/second_factor.html",
        secret=secret,
        qr_code=qr_code_data_uri(provisioning_uri(current_user, secret)),
        form=CodeForm(),
        required=enrolment_required(current_user),
    )
    return body, 200, {"Cache-Control": "no-store"}


@bp.post("")
@login_required
@_code_limit()
def confirm():
    """Confirm the pending secret with a code from it; show the recovery codes, once."""
    if not may_enrol(current_user) or current_user.has_second_factor:
        abort(409, description="There is no second factor being enrolled for your account.")
    form = CodeForm()
    codes = confirm_enrolment(current_user, form.code.data) if form.validate_on_submit() else None
    if codes is None:
        g.login_failed = True
        flash("That code is wrong: scan the QR code again, or wait for the next code.")
        return redirect(url_for(".enrol"))
    log.info("second factor enrolled: %s", current_user.name)
    record("second_factor_enrolled", actor=current_user.name, subject=current_user.name)
    body = render_template("account/recovery_codes.html", codes=codes)
    return body, 200, {"Cache-Control": "no-store"}


@bp.post("/remove")
@login_required
@_code_limit()
def remove():
    """Remove the second factor, given a current code or a recovery code."""
    if not current_user.has_second_factor:
        abort(409, description="Your account has no second factor.")
    form = CodeForm()
    code = form.code.data if form.validate_on_submit() else None
    if code is None:
        abort(400, description="The form was incomplete.")
    if check_totp_code(current_user, code) != "ok" and not use_recovery_code(current_user, code):
        g.login_failed = True
        flash("That code is wrong or was used already: the second factor stays.")
        return redirect(url_for(".enrol"))
    remove_second_factor(current_user)
    log.info("second factor removed: %s", current_user.name)
    record("second_factor_reset", actor=current_user.name, subject=current_user.name, detail="removed by its owner")
    flash("Your second factor is removed: your password alone logs you in now.")
    return redirect(url_for("account.overview"))
