"""Logging in and out of the site: the one login, which the standalone apps honour too.

Every login goes through ``log_in`` and every logout through ``log_out``. A login is a session
kept by the server (``web.accounts.login_sessions``): Flask's signed session cookie (``aperture_session``:
HttpOnly, SameSite=Lax, Secure under HTTPS) holds its random token as Flask-Login's user id, and
the visitor's name and roles (``SITE_VISITOR_KEY``), which is what the Bokeh server reads
(``aperture.site_login``: it takes the login's token from it and checks the login in the database).
A cookie whose session has ended, expired or lost its account loses the login in the answer to its
next request, whatever that answer is (a refused form, a 404). No
"remember me" cookie is ever set. Every form of the site carries a CSRF token (Flask-WTF,
app-wide). Failed logins are rate-limited per client address and account name, and per address
(``web.accounts.login_limits``). An account with a second factor is logged in only once its code
is right (``web.accounts.login_second_step``). ``next`` only ever leads to a path of this site.
Single sign-on (``web.accounts.single_sign_on``) logs people in through ``log_in`` too. Each
outcome is recorded in the audit trail (``web.accounts.audit``).
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

from aperture.site_login import LOGIN_MARKER_KEY, SITE_VISITOR_KEY
from web.accounts import login_limits
from web.accounts.audit import record
from web.accounts.login_sessions import ProviderSession, end_login_session, id_token_of, open_login_session, user_of
from web.accounts.second_factor import enrolment_required
from web.accounts.users import authenticate, login_refusal_reason
from web.models import User

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)
_LOCAL_LOGIN_OFF = "Logging in with a name and password is switched off on this site: log in with {provider}."
login_manager = LoginManager()
csrf = CSRFProtect()
# ``app.extensions`` key of a function (set by ``web.accounts.single_sign_on``) that gives, for the
# ID token of a single-sign-on login just ended, the provider's logout page to send the visitor to.
PROVIDER_LOGOUT = "provider_logout_url"


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
    # After every answer, refused ones too (a missing CSRF token, a 404): each of them re-signs the
    # cookie, which must then never carry an ended login to the Bokeh server.
    app.after_request(_keep_visitor_in_step)


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """The account of the login session ``token`` names, if that session is still open."""
    return user_of(token)


def _keep_visitor_in_step(response):
    """Keep the cookie's visitor in step with the login and its account."""
    if LOGIN_MARKER_KEY not in session:
        return response
    if not current_user.is_authenticated:
        # The login ended (logout, elsewhere, an admin) or its account is gone: take it out of the
        # cookie, so that the answer names no login (the Bokeh server would refuse it anyway: it
        # checks the database). The rest stays: a login form rendered just now needs its CSRF token.
        logout_user()
        session.pop(SITE_VISITOR_KEY, None)
        return response
    if enrolment_required(current_user):
        # Not a login the apps honour until its second factor is enrolled (``REQUIRE_MFA``).
        session.pop(SITE_VISITOR_KEY, None)
        return response
    payload = current_user.visitor().as_payload()
    if session.get(SITE_VISITOR_KEY) != payload:
        session[SITE_VISITOR_KEY] = payload
    return response


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
    if request.method == "GET" and current_user.is_authenticated and request.args.get("next"):
        # Already logged in (the session checked just now): on to ``next`` at once, as the Bokeh
        # server's login redirect expects of a visitor who logged in meanwhile in another tab.
        # Without ``next`` the page says who is logged in and offers to switch accounts.
        return redirect(safe_next(request.args.get("next")) or url_for("gallery.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    failed = False
    if form.validate_on_submit():
        user = authenticate(form.name.data, form.password.data)
        if user is not None and user.has_second_factor:
            # Not logged in yet: the second step asks for the code (``web.accounts.login_second_step``).
            from web.accounts.login_second_step import begin_second_step

            return begin_second_step(user, safe_next(form.next.data))
        if user is not None:
            log_in(user)
            log.info("login: %s from %s", user.name, request.remote_addr)
            record("login_succeeded", actor=user.name, subject=user.name, detail="password")
            return redirect(safe_next(form.next.data) or url_for("gallery.index"))
        g.login_failed = failed = True
        # The name only: a mistyped password must never reach a log.
        log.warning("failed login for %r from %s", form.name.data[:64], request.remote_addr)
        record("login_failed", subject=form.name.data.strip().lower(), detail=login_refusal_reason(form.name.data))
    return render_template("auth/login.html", form=form, failed=failed)


def login_page(status: int = 200, **context):
    """The login page (with its form for ``next`` from the query), answering ``status``."""
    form = LoginForm()
    form.next.data = request.args.get("next", "")
    return render_template("auth/login.html", form=form, failed=False, **context), status


def log_in(user: User, provider_session: ProviderSession | None = None) -> None:
    """Log ``user`` in, whatever proved who they are: a new login session, and a fresh cookie
    naming it and holding the visitor for Bokeh. A login this browser had before ends.
    ``provider_session``: the single-sign-on provider's session this login comes from."""
    end_login_session(session.get(LOGIN_MARKER_KEY))
    open_login_session(user, request.user_agent.string, request.remote_addr or "", provider_session)
    session.clear()
    login_user(user)
    session[SITE_VISITOR_KEY] = user.visitor().as_payload()
    # Permanent: the cookie is refreshed on each request and lasts SESSION_LIFETIME_HOURS.
    session.permanent = True


def log_out() -> None:
    """End this browser's login session (for every copy of its cookie) and empty the cookie."""
    end_login_session(session.get(LOGIN_MARKER_KEY))
    logout_user()
    session.clear()


@bp.post("/logout")
def logout():
    """Log out (POST with the CSRF token, so another site cannot log a visitor out); a
    single-sign-on login is then logged out at its provider too, which sends the visitor back."""
    name = current_user.name if current_user.is_authenticated else None
    id_token = id_token_of(session.get(LOGIN_MARKER_KEY))
    log_out()
    if name:
        record("logout", actor=name, subject=name)
    provider_logout = current_app.extensions.get(PROVIDER_LOGOUT)
    at_provider = provider_logout(id_token) if provider_logout and id_token else None
    return redirect(at_provider or url_for("gallery.index"))
