"""Which apps can this Bokeh process build? Checked at startup and on demand, not per probe.

Once the server runs, ``SelfCheck.run`` builds one session of each app the way a page's request
would (Bokeh's own ``create_session_if_needed``, with a request and a token minted with the shared
key carrying the app's default arguments, so ``curdoc().session_context.request.arguments`` reads
as for a visitor), times it, notes what its document needs in the browser
(``aperture.document_needs``), and keeps the result; the session is then left unconnected and Bokeh
discards it like any other. ``/readyz`` on each process answers from the kept results, per app:
200 while at least one app builds (a broken app is named under ``broken``, the others keep
serving), 503 when none does. While an app's check has failed, a probe starts a new one of the
failed apps in the background at most every ``RETRY_FAILED_SECONDS``, so apps that failed for a passing reason (a
data source starting late) come back without anyone's help. ``/readyz?recheck=1`` builds every
app again before answering; the per-process ports are reachable by browsers, so it wants the
site's signed credential (``bkruntime.process_stats``), otherwise anyone could keep a process busy
building documents. The site's own ``/readyz`` asks every process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aperture.catalog import CATALOG, AppCatalog
from aperture.document_needs import DocumentNeeds, needs_of
from aperture.endpoints import CREDENTIAL_HEADER, credential_is_valid
from aperture.session_token import mint_session, token_payload

log = logging.getLogger(__name__)

_TOKEN_SECONDS = 60
RETRY_FAILED_SECONDS = 30.0


@dataclass(frozen=True)
class AppCheck:
    """One app's latest self-check."""

    ok: bool
    build_ms: float
    checked_at: float
    error: str = ""
    needs: DocumentNeeds | None = None

    def as_json(self) -> dict[str, Any]:
        report = {"ok": self.ok, "build_ms": self.build_ms, "checked_at": self.checked_at, "error": self.error}
        if self.needs is not None:
            report["needs"] = self.needs.as_json()
        return report


class SelfCheck:
    """The latest self-check of each app of a Bokeh server (``BokehTornado``)."""

    def __init__(self, secret_key: str, catalog: AppCatalog = CATALOG) -> None:
        self._secret_key = secret_key
        self._catalog = catalog
        self.results: dict[str, AppCheck] = {}
        self.running = False
        self._finished_at = 0.0
        # Sessions the checks built: not visitors', so not counted where visitors' are.
        self.sessions_built = 0

    @property
    def ready(self) -> bool:
        """Checked, and at least one app builds: the process serves those."""
        return any(check.ok for check in self.results.values())

    @property
    def broken(self) -> list[str]:
        return [name for name, check in self.results.items() if not check.ok]

    def published_needs(self) -> dict[str, dict[str, Any]]:
        """What each app that built needs in the browser (``aperture.document_needs``), as JSON."""
        return {name: check.needs.as_json() for name, check in self.results.items() if check.needs is not None}

    async def run(self, tornado_app: Any, only: list[str] | None = None) -> dict[str, AppCheck]:
        """Build one session of every app (or of the apps named in ``only``, keeping the others'
        results); returns (and keeps) the results."""
        self.running = True
        try:
            results = dict(self.results) if only is not None else {}
            for path, context in tornado_app.applications.items():
                name = path.strip("/")
                if only is not None and name not in only:
                    continue
                results[name] = await self._check(context)
                # Each build holds the event loop; let the process serve others between them.
                await asyncio.sleep(0.01)
            self.results = results
        finally:
            self.running = False
            self._finished_at = time.monotonic()
        failed = self.broken
        if failed:
            log.error("self-check: cannot build %s", ", ".join(failed))
        else:
            log.info("self-check: every app builds (%d)", len(self.results))
        return self.results

    async def _check(self, context: Any) -> AppCheck:
        # Bound to the app, as the site's tokens are: a private app builds only for such a token.
        app = (getattr(context, "url", None) or "").strip("/") or None
        arguments = self._default_arguments(app)
        visit = {"url": "self-check", "remote_ip": "", "user_agent": "", "opened_at": ""}
        payload = token_payload(arguments, visit=visit, app=app)
        grant = mint_session(self._secret_key, _TOKEN_SECONDS, payload)
        started = time.perf_counter()
        needs = None
        try:
            self.sessions_built += 1
            request = self_check_request(app or "", arguments)
            session = await context.create_session_if_needed(grant.session_id, request, grant.token)
            error = app_error(getattr(context, "application", None))
            if not error and not session.document.roots:
                error = "the document has no roots"
            if not error:
                needs = needs_of(session.document)
        except Exception as failure:  # an app's own code failing is what this reports
            error = "".join(traceback.format_exception_only(type(failure), failure)).strip()
        build_ms = round((time.perf_counter() - started) * 1000, 1)
        return AppCheck(ok=not error, build_ms=build_ms, checked_at=time.time(), error=error[:300], needs=needs)

    def _default_arguments(self, app: str | None) -> dict[str, object]:
        """What a site page without a query string puts into its token: every declared default."""
        spec = self._catalog.get(app) if app else None
        return spec.parse_arguments({}) if spec is not None else {}

    def may_recheck(self, credential: str) -> bool:
        """Whether a request carrying ``credential`` may have every app built again."""
        return credential_is_valid(self._secret_key, credential)

    def report(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checking": self.running,
            "broken": self.broken,
            "apps": {name: check.as_json() for name, check in self.results.items()},
        }

    def retry_due(self) -> bool:
        """A failed check, finished long enough ago to try again unasked."""
        return bool(self.broken) and not self.running and time.monotonic() - self._finished_at >= RETRY_FAILED_SECONDS


def self_check_request(app: str, arguments: dict[str, object]):
    """A GET of the app's page with its default arguments, as a visitor's browser would send it.

    Apps read ``session_context.request`` (its arguments, headers, cookies); without a request
    Bokeh gives them none, and an app that works for every visitor would fail its check.
    """
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    query = urlencode({name: str(value) for name, value in arguments.items()})
    uri = f"/{app}" + (f"?{query}" if query else "")
    headers = HTTPHeaders({"Host": "localhost", "User-Agent": "aperture-self-check"})
    return HTTPServerRequest(start_line=RequestStartLine("GET", uri, "HTTP/1.1"), headers=headers)


def app_error(application: Any) -> str:
    """The error an app's code raised in its latest run, as Bokeh's handlers keep it ("" if none).

    Bokeh catches an exception in ``main.py`` and logs it, leaving whatever the code built so far:
    a document with roots can still be a broken app.
    """
    for handler in getattr(application, "handlers", ()):
        if getattr(handler, "failed", False):
            return str(getattr(handler, "error", "") or "the app's code failed").strip()
    return ""


def readiness_handler(check: SelfCheck):
    """``/readyz``: the kept self-check results; ``?recheck=1`` runs the check again first."""
    from tornado.ioloop import IOLoop
    from tornado.web import RequestHandler

    class Readiness(RequestHandler):
        async def get(self) -> None:
            self.set_header("Cache-Control", "no-store")
            if self.get_argument("recheck", "") == "1":
                if not check.may_recheck(self.request.headers.get(CREDENTIAL_HEADER, "")):
                    self.set_status(403)
                    self.write({"error": "forbidden", "message": f"recheck needs a valid {CREDENTIAL_HEADER}"})
                    return
                if not check.running:
                    await check.run(self.application)
            elif check.retry_due():
                # Only the apps that failed: the others keep serving and need no rebuilding.
                IOLoop.current().spawn_callback(check.run, self.application, check.broken)
            self.set_status(200 if check.ready else 503)
            self.write(check.report())

    return Readiness
