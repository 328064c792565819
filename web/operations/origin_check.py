"""Will the Bokeh server accept the websockets of the pages this site serves?

Bokeh refuses a websocket whose page origin is not in ``BOKEH_ALLOW_WEBSOCKET_ORIGIN``, and the
page then shows an empty app area while everything else looks fine. The site reads the same
setting and checks, from outside the browser: the origin of ``BOKEH_PUBLIC_URL`` at startup
(a warning here; production refuses to start, see ``web.settings``), and the host of every page
it serves with a live app. ``/healthz`` reports both (``websocket_origins``).
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from aperture.bokeh_servers import origin_allowed
from web.embedding.embed import page_has_live_apps

log = logging.getLogger(__name__)
_EXTENSION = "origin_check"


class OriginCheck:
    """The allowed origins, and the page hosts seen refused (per worker process)."""

    def __init__(self, allowed: tuple[str, ...], public_url: str) -> None:
        self.allowed = allowed
        self.public_host = urlsplit(public_url).netloc
        self.refused_page_hosts: set[str] = set()
        self._lock = threading.Lock()

    def public_url_allowed(self) -> bool:
        return origin_allowed(self.public_host, self.allowed)

    def note_page(self, host: str) -> None:
        if origin_allowed(host, self.allowed):
            return
        with self._lock:
            if host in self.refused_page_hosts:
                return
            self.refused_page_hosts.add(host)
        log.warning(
            "pages served as %s embed live apps, but the Bokeh server refuses websockets from that origin: "
            "add it to BOKEH_ALLOW_WEBSOCKET_ORIGIN (now %s) on both sides, or behind the front set "
            "APERTURE_PUBLIC_ORIGIN (or FRONT_PORT) to where browsers reach it, which moves every public URL",
            host,
            ", ".join(self.allowed),
        )

    def report(self) -> dict[str, object]:
        not_allowed = sorted({*([] if self.public_url_allowed() else [self.public_host]), *self.refused_page_hosts})
        return {"ok": not not_allowed, "allowed": list(self.allowed), "not_allowed": not_allowed}


def init_app(app: Flask) -> None:
    check = OriginCheck(tuple(app.config["BOKEH_ALLOW_WEBSOCKET_ORIGIN"]), app.config["BOKEH_PUBLIC_URL"])
    app.extensions[_EXTENSION] = check
    if not check.public_url_allowed():
        log.warning(
            "BOKEH_ALLOW_WEBSOCKET_ORIGIN (%s) does not include %s, the origin of BOKEH_PUBLIC_URL: "
            "standalone apps there will show nothing",
            ", ".join(check.allowed),
            check.public_host,
        )
    app.after_request(_note_live_page)


def _note_live_page(response):
    if page_has_live_apps():
        current_app.extensions[_EXTENSION].note_page(request.host)
    return response


def origin_report() -> dict[str, object]:
    """For ``/healthz``: are this site's pages and public URL among the allowed origins?"""
    return current_app.extensions[_EXTENSION].report()
