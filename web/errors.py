"""Error pages: the site's own 400/404/503 (and others), as HTML or JSON as the client prefers.

Nothing from the request reaches a page unescaped (templates autoescape), and no traceback is
ever shown: unexpected errors are logged and answered with a plain 500 page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, make_response, render_template, request
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException, InternalServerError

from aperture.params import InvalidArgument
from web.embedding.embed import BokehUnavailable
from web.embedding.page_record import note_outcome

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

# A browser retrying sooner than this would most likely hit the same outage.
RETRY_AFTER_SECONDS = 10


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, title: str, message: str, **details: object):
    if wants_json():
        response = jsonify(error=title, message=message, status=status, **details)
    else:
        try:
            body = render_template(f"errors/{status}.html", title=title, message=message, **details)
        except TemplateNotFound:
            body = render_template("errors/error.html", status=status, title=title, message=message)
        response = make_response(body)
    response.status_code = status
    return response


@bp.app_errorhandler(InvalidArgument)
def invalid_argument(error: InvalidArgument):
    note_outcome("invalid_argument", argument=error.name)
    return error_response(400, "Invalid query argument", str(error), argument=error.name)


@bp.app_errorhandler(BokehUnavailable)
def bokeh_unavailable(error: BokehUnavailable):
    # The request's own log line says so, with the reason (``web.operations.request_log``).
    note_outcome("bokeh_unavailable", reason=error.reason)
    response = error_response(503, "Live app unavailable", error.reason, app=error.app_title)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    response = error_response(error.code or 500, error.name, error.description or "")
    # The exception's own headers: Allow on a 405, WWW-Authenticate on a 401...
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.app_errorhandler(Exception)
def unexpected_error(error: Exception):
    log.exception("unhandled error on %s", request.path)
    internal = InternalServerError()
    return error_response(500, internal.name, "Something went wrong on our side; it has been logged.")
