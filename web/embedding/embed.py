"""Live Bokeh sessions inside Flask pages: the site's one way to embed an app of the catalog.

Two paths, one extension (``bokeh_embed``):

* ``token_embed(spec, arguments, options)``, the default: mints a signed session id and a token
  whose payload carries the validated arguments, the page's declared options and the page request
  (``aperture.session_token``), and renders it (``web.embedding.session_markup``). No Bokeh request: whichever
  Bokeh process the browser's websocket reaches builds the session from the token, and builds the
  same one again for a late or reconnecting browser. For a shared view (an app the catalog
  declares ``shared``, or ``shared=True``) the session id is derived from the view, so every
  viewer's token reaches one document per process.
* ``pulled_embed(spec, arguments, change)``, for views that change the document with something
  only Flask knows: the same token opens the session on one Bokeh process's own port, ``change``
  edits it and the edit is flushed (``web.embedding.bokeh_pull``); the page then sends the browser to that
  process. The browser's token says the session must already exist, so a browser that comes
  after the session was discarded gets a notice from the app, never a silently default document.

The BokehJS a page needs is collected while it renders and written once, at the end of the body
(``bokehjs_for_page``): for each app, the bundles its catalog entry declares, else those its
document needs as the Bokeh processes found at startup (``web.operations.bokeh_monitor``), else, while
neither is known, all of them; a page never misses one. A page whose app runs JS code strings
(``CustomJS``), or whose app's needs are not known yet, lets its scripts compile code
(``web.operations.content_security.allow_eval``). While the Bokeh server does not answer, both paths
raise ``BokehUnavailable``, which the error pages turn into a 503. Every embed, made or refused,
is noted for the request's log line and the metrics (``web.embedding.page_record``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, g, has_request_context, request, url_for
from markupsafe import Markup

from aperture.catalog import BOKEHJS_BUNDLES, AppSpec
from aperture.document_needs import ALL_NEEDS, DocumentNeeds
from aperture.session_token import (
    EXPECTS_EXISTING_KEY,
    SessionGrant,
    mint_token,
    new_session_id,
    shared_session_id,
    token_payload,
    visit_record,
)
from web.embedding.bokeh_pull import BokehUnavailable, Change, pull_and_change
from web.embedding.page_record import recorded_embed
from web.embedding.session_markup import bokehjs_tags, session_markup
from web.operations.bokeh_monitor import BokehMonitor
from web.operations.content_security import allow_eval

_EXTENSION = "bokeh_embed"
_PAGE_BUNDLES = "bokehjs_bundles"

__all__ = ["BokehEmbed", "BokehUnavailable", "Change", "LiveEmbed", "bokeh_embed", "page_has_live_apps"]


@dataclass(frozen=True)
class LiveEmbed:
    """A session ready for a page: ``html`` goes into the page as it is (everything in it is checked)."""

    spec: AppSpec
    session_id: str
    html: Markup
    # The Bokeh process the browser must reach (pull path), or None when any process will do.
    process: int | None = None
    # One document for every viewer of this view (the page says so, with the number watching).
    shared: bool = False


@dataclass(frozen=True)
class _EmbedConfig:
    internal_url: str
    public_url: str
    process_internal_urls: tuple[str, ...]
    process_public_urls: tuple[str, ...]
    timeout: float
    secret_key: str
    token_lifetime: int
    monitor: BokehMonitor


class BokehEmbed:
    """Flask extension that embeds live sessions of the catalog's apps."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        internal_url = app.config["BOKEH_INTERNAL_URL"]
        timeout = float(app.config["BOKEH_PULL_TIMEOUT"])
        app.extensions[_EXTENSION] = _EmbedConfig(
            internal_url=internal_url,
            public_url=app.config["BOKEH_PUBLIC_URL"],
            process_internal_urls=tuple(app.config["BOKEH_PROCESS_INTERNAL_URLS"]),
            process_public_urls=tuple(app.config["BOKEH_PROCESS_PUBLIC_URLS"]),
            timeout=timeout,
            secret_key=app.config["BOKEH_SECRET_KEY"],
            token_lifetime=int(app.config["BOKEH_TOKEN_LIFETIME"]),
            monitor=BokehMonitor(internal_url + "/healthz", float(app.config["BOKEH_HEALTH_INTERVAL"]), timeout),
        )
        app.jinja_env.globals["bokehjs_for_page"] = bokehjs_for_page
        app.after_request(_no_store_with_tokens)

    @property
    def _config(self) -> _EmbedConfig:
        return current_app.extensions[_EXTENSION]

    def bokeh_state(self):
        """The latest look at the Bokeh server (see ``web.operations.bokeh_monitor``)."""
        return self._config.monitor.latest()

    @recorded_embed("token")
    def token_embed(
        self,
        spec: AppSpec,
        arguments: Mapping[str, object],
        options: Mapping[str, object] | None = None,
        user: Mapping[str, Any] | None = None,
        shared: bool | None = None,
        login: int | None = None,
    ) -> LiveEmbed:
        """A session of ``spec`` that any Bokeh process builds from its token; no Bokeh request.

        ``shared`` (default: the catalog's ``sharing``) gives a shared view: a session id derived
        from the view, which every viewer's token names. A page may share a ``per_visitor`` app's
        view, never the other way round (``ValueError``). ``login`` (the visitor's login record id)
        makes the Bokeh server keep the session only while that login is open.
        """
        config = self._config
        if shared is None:
            shared = spec.shared
        elif spec.shared and not shared:
            raise ValueError(f"{spec.name} is shared: its views cannot be embedded per visitor")
        self._require_bokeh(spec)
        payload = self._payload(spec, arguments, options, user, shared, login)
        if shared:
            session_id = shared_session_id(config.secret_key, spec.name, *self._view(spec, arguments, options))
        else:
            session_id = new_session_id(config.secret_key)
        token = mint_token(session_id, config.secret_key, config.token_lifetime, payload)
        return self._live(spec, SessionGrant(session_id, token), config.public_url, None, shared)

    @recorded_embed("pull")
    def pulled_embed(
        self,
        spec: AppSpec,
        arguments: Mapping[str, object],
        change: Change,
        options: Mapping[str, object] | None = None,
        user: Mapping[str, Any] | None = None,
        login: int | None = None,
    ) -> LiveEmbed:
        """A session of ``spec`` built on one Bokeh process and changed by ``change`` before the page
        is sent; raises ``BokehUnavailable`` if no process provides it within the timeout."""
        config = self._config
        self._require_bokeh(spec)
        payload = self._payload(spec, arguments, options, user, login=login)
        session_id = new_session_id(config.secret_key)
        pull_token = mint_token(session_id, config.secret_key, config.token_lifetime, payload)
        process = self._pull_on_some_process(spec, SessionGrant(session_id, pull_token), change)
        browser_payload = {**payload, EXPECTS_EXISTING_KEY: True}
        browser_token = mint_token(session_id, config.secret_key, config.token_lifetime, browser_payload)
        return self._live(spec, SessionGrant(session_id, browser_token), config.process_public_urls[process], process)

    def _pull_on_some_process(self, spec: AppSpec, grant: SessionGrant, change: Change) -> int:
        """Pull on a random process; one that refuses (restarting, say) passes to the next."""
        config = self._config
        count = len(config.process_internal_urls)
        first = random.randrange(count)  # noqa: S311 (load spreading, not security)
        deadline = time.monotonic() + config.timeout
        failure: BokehUnavailable | None = None
        for step in range(count):
            index = (first + step) % count
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            url = config.process_internal_urls[index] + _app_path(spec)
            try:
                pull_and_change(url, grant, change, remaining, spec.title)
            except BokehUnavailable as error:
                failure = error
                if "cannot be reached" not in error.reason:
                    break
                continue
            return index
        config.monitor.refresh()
        raise failure or BokehUnavailable(spec.title, f"the Bokeh server did not answer within {config.timeout:g} s")

    def _require_bokeh(self, spec: AppSpec) -> None:
        monitor = self._config.monitor
        state = monitor.latest()
        if not state.reachable:
            raise BokehUnavailable(spec.title, state.reason)
        if monitor.is_broken(spec.name):
            raise BokehUnavailable(
                spec.title, "the Bokeh server could not build this app (its error is in the server's log and /readyz)"
            )

    def _payload(
        self,
        spec: AppSpec,
        arguments: Mapping[str, object],
        options: Mapping[str, object] | None,
        user: Mapping[str, Any] | None,
        shared: bool = False,
        login: int | None = None,
    ) -> dict[str, Any]:
        # Both were validated against the catalog by the caller; checking again costs microseconds
        # and keeps a view from putting anything undeclared into a token.
        self._view(spec, arguments, options)
        visit = None
        # A shared document is everyone's: the page request of whichever viewer built it is not its.
        if has_request_context() and not shared:
            visit = visit_record(request.base_url, request.remote_addr, request.headers.get("User-Agent", ""))
        # Bound to the app: a private app accepts no token minted for another one. A shared view's
        # token still names its viewer, whom the Bokeh server checks at the websocket.
        return token_payload(
            arguments, options=options, visit=visit, user=user, app=spec.name, shared=shared, login=login
        )

    @staticmethod
    def _view(
        spec: AppSpec, arguments: Mapping[str, object], options: Mapping[str, object] | None
    ) -> tuple[dict[str, object], dict[str, object]]:
        """The validated arguments and options, defaults filled in: what a view is."""
        return (
            spec.parse_arguments({name: [str(value)] for name, value in arguments.items()}),
            spec.parse_options({name: str(value) for name, value in (options or {}).items()}),
        )

    def needs_of(self, spec: AppSpec) -> DocumentNeeds:
        """What a page showing ``spec`` must load and allow (see the module's docstring)."""
        found = self._config.monitor.needs_of(spec.name)
        if spec.bokehjs:
            # A declaration wins for the bundles; JS code strings are only ever found.
            return DocumentNeeds(spec.bokehjs, found.custom_js if found is not None else True)
        return found if found is not None else ALL_NEEDS

    def _live(
        self, spec: AppSpec, grant: SessionGrant, session_root: str, process: int | None, shared: bool = False
    ) -> LiveEmbed:
        needs = self.needs_of(spec)
        _need_bundles(needs.bokehjs)
        if needs.custom_js:
            allow_eval()
        expires_at = int(time.time()) + self._config.token_lifetime
        html = session_markup(session_root, _app_path(spec), grant.token, expires_at, shared=shared)
        return LiveEmbed(spec=spec, session_id=grant.session_id, html=html, process=process, shared=shared)


def _app_path(spec: AppSpec) -> str:
    return "/" + quote(spec.name)


def _need_bundles(bundles: tuple[str, ...]) -> None:
    if has_request_context():
        needed = g.setdefault(_PAGE_BUNDLES, set())
        needed.update(bundles)


def page_has_live_apps() -> bool:
    """Whether the page of this request embeds a live session (and so carries its token)."""
    return has_request_context() and _PAGE_BUNDLES in g


def _no_store_with_tokens(response):
    # A session token opens its session until it expires: no browser or proxy cache may keep it.
    if page_has_live_apps():
        response.headers["Cache-Control"] = "no-store"
    return response


def bokehjs_for_page() -> Markup:
    """Script tags for the BokehJS every live embed of this page needs, and the script that shows
    each app's connection state (static/live_session.js) with the one that keeps what the visitor
    changed for a rebuilt session (static/visitor_changes.js); empty if the page has no live app.

    The embed scripts run when the document has loaded, so these may come after them (the site's
    base template writes them at the end of the body).
    """
    if _PAGE_BUNDLES not in g:
        return Markup("")
    config: _EmbedConfig = current_app.extensions[_EXTENSION]
    needed = g.get(_PAGE_BUNDLES)
    bokehjs = bokehjs_tags(config.public_url, tuple(bundle for bundle in BOKEHJS_BUNDLES if bundle in needed))
    script = url_for("static", filename="live_session.js")
    # Read by live_session.js when it starts, so loaded before it.
    changes = Markup('<script src="{}"></script>').format(url_for("static", filename="visitor_changes.js"))
    if current_app.debug:
        # Development (make dev): the page reloads once its app comes back from a rebuild and the
        # site's health probe (which pages consult) has seen the Bokeh server again.
        status = Markup('<script src="{}" data-reload-on-reconnect="{}"></script>').format(
            script, url_for("health.healthz")
        )
    else:
        status = Markup('<script src="{}"></script>').format(script)
    return bokehjs + changes + status


bokeh_embed = BokehEmbed()
