"""``{{ live_app("iris", feature="petal_length", bins=20) }}``: a live app in any Jinja template.

The keyword arguments are the app's query arguments, validated by the catalog like a page's query
string; ``options`` takes the page options (``{"title": ...}``); ``shared=True`` embeds a shared
view of an app the catalog declares ``per_visitor`` (one document for everyone watching). The
session is a token embed (no Bokeh request while the page renders), carrying the visitor. A private app the visitor may
not open shows "log in to see it" (with a link to log in and come back) instead. A call that
names no app, passes a bad argument, or comes while the Bokeh server is down shows a message in
place of the app; the rest of the page renders as usual, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask
from markupsafe import Markup

from aperture.catalog import CATALOG
from aperture.params import InvalidArgument
from web.accounts.access import (
    FORBIDDEN,
    LOGIN,
    access_to,
    current_login_id,
    login_url_back_here,
    visitor_payload,
)
from web.embedding.embed import BokehUnavailable, bokeh_embed
from web.pages.share_links import share_query

log = logging.getLogger(__name__)


def live_app(
    name: str, options: Mapping[str, object] | None = None, shared: bool | None = None, **arguments: object
) -> Markup:
    """The markup of a live session of app ``name``, or a message saying why there is none."""
    spec = CATALOG.get(name)
    if spec is None:
        log.warning("template asked for unknown live app %r", name)
        return _unavailable(name, name, "there is no live app of that name")
    access = access_to(spec)
    if access == LOGIN:
        return Markup(
            '<div class="live-app live-app-private" data-app="{}" role="status">'
            '“{}” is private: <a href="{}">log in to see it</a>.</div>'
        ).format(name, spec.title, login_url_back_here())
    if access == FORBIDDEN:
        return _unavailable(name, spec.title, "it is not open to your account")
    try:
        values = spec.parse_arguments({key: [str(value)] for key, value in arguments.items()})
        live = bokeh_embed.token_embed(
            spec, values, options=options, user=visitor_payload(), shared=shared, login=current_login_id()
        )
    except InvalidArgument as error:
        log.warning("template call of live app %r: %s", name, error)
        return _unavailable(name, spec.title, f"invalid argument {error}")
    except BokehUnavailable as error:
        return _unavailable(name, spec.title, error.reason)
    except ValueError as error:  # a shared app asked for per visitor
        log.warning("template call of live app %r: %s", name, error)
        return _unavailable(name, spec.title, "its views are shared, not per visitor")
    return Markup('<div class="live-app" data-app="{}">{}</div>').format(name, live.html)


UNAVAILABLE_CLASS = "live-app-unavailable"


def _unavailable(name: str, title: str, reason: str) -> Markup:
    return Markup(
        '<div class="live-app {}" data-app="{}" role="status">The live app “{}” is unavailable: {}.</div>'
    ).format(UNAVAILABLE_CLASS, name, title, reason)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["live_app"] = live_app
    app.jinja_env.globals["share_query"] = share_query
