"""The admin view: sessions per app and per Bokeh process, their memory and recent errors; accounts.

``/admin`` (HTML) and ``/api/admin/stats`` (JSON) show the same numbers, gathered from every
Bokeh process on each request (``web.operations.bokeh_stats``). Admins only: anonymous visitors get the
login page (HTML) or a 403 (JSON); signed-in non-admins a 403 either way. The page also lists
the accounts, whose login sessions an admin can end (``web.accounts.admin_accounts``).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from aperture.catalog import CATALOG
from web.accounts.access import current_visitor, login_redirect
from web.accounts.admin_accounts import EndSessionsForm, account_rows, end_sessions_of
from web.accounts.audit import record
from web.accounts.auth import log_out
from web.operations.bokeh_stats import all_process_stats, by_app

bp = Blueprint("admin", __name__)
log = logging.getLogger(__name__)


@bp.before_request
def admins_only() -> None:
    visitor = current_visitor()
    if visitor is not None and visitor.is_admin:
        return
    if visitor is None and not request.path.startswith("/api/"):
        abort(login_redirect())
    abort(403, description="The admin view is for admins.")


def gather() -> dict[str, object]:
    config = current_app.config
    processes = all_process_stats(
        config["BOKEH_PROCESS_INTERNAL_URLS"],
        config["BOKEH_SECRET_KEY"],
        float(config["BOKEH_PULL_TIMEOUT"]),
        config["METRICS_BEARER_TOKEN"],
    )
    return {
        "collected_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "apps": by_app(processes, CATALOG.names),
        "processes": processes,
    }


@bp.get("/admin")
def dashboard():
    """Sessions, memory and errors of the Bokeh processes, as a page."""
    return render_template("admin.html", stats=gather(), accounts=account_rows(), end_form=EndSessionsForm())


@bp.get("/api/admin/stats")
def stats():
    """The same numbers as JSON."""
    response = jsonify(gather())
    response.cache_control.no_store = True
    return response


@bp.post("/admin/accounts/<int:user_id>/end-sessions")
def end_sessions(user_id: int):
    """End every login session of an account."""
    if not EndSessionsForm().validate():
        abort(400, description="The form was incomplete.")
    ended = end_sessions_of(user_id)
    if ended is None:
        abort(404, description="There is no account with that number.")
    user, count = ended
    log.info("admin %s ended %d login session(s) of %s", current_user.name, count, user.name)
    record("logins_ended", actor=current_user.name, subject=user.name, detail=f"{count} login session(s), by an admin")
    if user.id == current_user.id:
        # This browser's login was among them: out now, so that this answer does not refresh
        # its cookie for the Bokeh server either.
        log_out()
        flash(f"Ended {count} login session(s) of {user.name}, this one included.")
        return redirect(url_for("auth.login"))
    flash(f"Ended {count} login session(s) of {user.name}.")
    return redirect(url_for(".dashboard") + "#accounts")
