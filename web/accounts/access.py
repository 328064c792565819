"""Who the visitor is and which apps they may open, for every view and template of the site.

The rule itself is ``aperture.access`` (shared with the Bokeh server's login check); this module
applies it to the request: ``current_visitor()`` from Flask-Login's user, ``require_app_access``
for views (anonymous: to the login page and back; signed in without the role: 403), and
``access_to`` for the gallery, ``/api/apps`` and the ``live_app`` template helper.
"""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_login import current_user

from aperture.access import FORBIDDEN, LOGIN, OPEN, Visitor, may_open
from aperture.access import access_to as _access_to
from aperture.catalog import AppSpec

__all__ = [
    "FORBIDDEN",
    "LOGIN",
    "OPEN",
    "access_to",
    "current_login_id",
    "current_visitor",
    "login_redirect",
    "require_app_access",
]


def current_visitor() -> Visitor | None:
    """The signed-in visitor as the apps see them, or None."""
    if current_user.is_authenticated:
        return current_user.visitor()
    return None


def visitor_payload() -> dict | None:
    """What a session token carries about the visitor (``user`` in its payload)."""
    visitor = current_visitor()
    return visitor.as_payload() if visitor else None


def current_login_id() -> int | None:
    """The id of the visitor's login record, which the site's tokens carry (``login``): the Bokeh
    server keeps such a session only while that login is open. None when anonymous."""
    return current_user.login_id if current_user.is_authenticated else None


def access_to(spec: AppSpec) -> str:
    """``open``, ``login`` or ``forbidden`` for the current visitor."""
    return _access_to(spec, current_visitor())


def login_url_back_here() -> str:
    """The login page, coming back to this page (path and query) afterwards."""
    here = request.full_path if request.query_string else request.path
    return url_for("auth.login", next=here)


def login_redirect():
    return redirect(login_url_back_here())


def require_app_access(spec: AppSpec) -> None:
    """Stop the view unless the visitor may open ``spec``: login redirect or 403."""
    visitor = current_visitor()
    if may_open(spec, visitor):
        return
    if visitor is None:
        abort(login_redirect())
    abort(403, description=f"“{spec.title}” is not open to your account.")
