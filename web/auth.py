"""Logging in and out of the site: the one login, which the standalone apps honour too.

Flask-Login keeps the account id in Flask's signed session cookie (``aperture_session``:
HttpOnly, SameSite=Lax, Secure under HTTPS), and the login adds the visitor's name and roles
(``SITE_VISITOR_KEY``), which is what the Bokeh server reads (``bkapps.site_login``). Every form
of the site carries a CSRF token (Flask-WTF, app-wide). Failed logins are rate-limited per client
address and account name, and per address (``web.login_limits``). ``next`` only ever leads to
a path of this site.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from bkapps.site_login import LOGIN_MARKER_KEY, SITE_VISITOR_KEY
from web import login_limits
from web.accounts import authenticate
from web.database import db
from web.models import User

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
_LOCAL_LOGIN_OFF = "Logging in with a name and password is switched off on this site: log in with {provider}."
login_manager = LoginManager()
csrf = CSRFProtect()


class LoginForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])
    next = HiddenField()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to see that page."
    csrf.init_app(app)
    login_limits.init_app(app)
    app.before_request(_keep_visitor_in_step)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    try:
        return db.session.get(User, int(user_id))
    except ValueError:
        return None


def _keep_visitor_in_step() -> None:
    """Keep the cookie's visitor (read by the Bokeh server) in step with the account."""
    if LOGIN_MARKER_KEY not in session:
        return
    if not current_user.is_authenticated:
        # The account is gone: end the login everywhere the cookie is read, not just here.
        session.clear()
        return
    payload = current_user.visitor().as_payload()
    if session.get(SITE_VISITOR_KEY) != payload:
        session[SITE_VISITOR_KEY] = payload


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no other host, scheme or ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@login_limits.failed_logins_limited
def login():
    """Show the login form; log in and go to ``next`` (a local path) or the gallery."""
    if request.method == "POST" and not current_app.config["LOCAL_LOGIN"]:
        abort(403, description=_LOCAL_LOGIN_OFF.format(provider=current_app.config["OIDC_PROVIDER_NAME"]))
    if request.method == "GET" and current_user.is_authenticated:
        # Already logged in (the account checked just now): on to ``next`` at once. The Bokeh
        # server sends visitors here when their cookie is too old for it to trust
        # (``bkapps.site_login``); this answer refreshes the cookie.
        return redirect(safe_next(request.args.get("next")) or url_for("gallery.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    failed = False
    if form.validate_on_submit():
        user = authenticate(form.name.data, form.password.data)
        if user is not None:
            complete_login(user)
            log.info("login: %s from %s", user.name, request.remote_addr)
            return redirect(safe_next(form.next.data) or url_for("gallery.index"))
        g.login_failed = failed = True
        # The name only: a mistyped password must never reach a log.
        log.warning("failed login for %r from %s", form.name.data[:64], request.remote_addr)
    return render_template("auth/login.html", form=form, failed=failed)


def login_page(status: int = 200, **context):
    """The login page (with its form for ``next`` from the query), answering ``status``."""
    form = LoginForm()
    form.next.data = request.args.get("next", "")
    return render_template("auth/login.html", form=form, failed=False, **context), status


def complete_login(user: User) -> None:
    """The site's login step, once a person is known (by password or by single sign-on)."""
    start_session(user)


def start_session(user: User) -> None:
    """Log ``user`` in: a fresh session holding the account id and the visitor for Bokeh."""
    session.clear()
    login_user(user)
    session[SITE_VISITOR_KEY] = user.visitor().as_payload()
    # Permanent: the cookie is refreshed on each request and lasts SESSION_LIFETIME_HOURS.
    session.permanent = True


@bp.post("/logout")
def logout():
    """Log out (POST with the CSRF token, so another site cannot log a visitor out)."""
    logout_user()
    session.clear()
    return redirect(url_for("gallery.index"))
