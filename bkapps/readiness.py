"""Can this Bokeh process build every app's document? Checked at startup and on demand, not per probe.

Once the server runs, ``SelfCheck.run`` builds one session of each app the way a page's token
would (Bokeh's own ``create_session_if_needed``, with a token minted with the shared key and the
app's default arguments), times it, and keeps the result; the session is then left unconnected
and Bokeh discards it like any other. ``/readyz`` on each process answers from the kept results
(200 when every app built, 503 naming those that did not). While a check has failed, a probe
starts a new one in the background at most every ``RETRY_FAILED_SECONDS``, so a process whose
apps failed for a passing reason (a data source starting late) becomes ready without anyone's
help. ``/readyz?recheck=1`` builds every app again before answering; the per-process ports are
reachable by browsers, so it wants the site's signed credential (``bkapps.process_stats``),
otherwise anyone could keep a process busy building documents. The site's own ``/readyz`` asks
every process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any

from bkapps.process_stats import CREDENTIAL_HEADER, credential_is_valid
from bkapps.session_token import mint_session, token_payload

log = logging.getLogger(__name__)

READY_PATH = "/readyz"
_TOKEN_SECONDS = 60
RETRY_FAILED_SECONDS = 30.0


@dataclass(frozen=True)
class AppCheck:
    """One app's latest self-check."""

    ok: bool
    build_ms: float
    checked_at: float
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "build_ms": self.build_ms, "checked_at": self.checked_at, "error": self.error}


class SelfCheck:
    """The latest self-check of each app of a Bokeh server (``BokehTornado``)."""

    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key
        self.results: dict[str, AppCheck] = {}
        self.running = False
        self._finished_at = 0.0
        # Sessions the checks built: not visitors', so not counted where visitors' are.
        self.sessions_built = 0

    @property
    def ready(self) -> bool:
        return bool(self.results) and all(check.ok for check in self.results.values())

    async def run(self, tornado_app: Any) -> dict[str, AppCheck]:
        """Build one session of every app; returns (and keeps) the results."""
        self.running = True
        try:
            results = {}
            for path, context in tornado_app.applications.items():
                results[path.strip("/")] = await self._check(context)
                # Each build holds the event loop; let the process serve others between them.
                await asyncio.sleep(0.01)
            self.results = results
        finally:
            self.running = False
            self._finished_at = time.monotonic()
        failed = [name for name, check in self.results.items() if not check.ok]
        if failed:
            log.error("self-check: cannot build %s", ", ".join(failed))
        else:
            log.info("self-check: every app builds (%d)", len(self.results))
        return self.results

    async def _check(self, context: Any) -> AppCheck:
        # Bound to the app, as the site's tokens are: a private app builds only for such a token.
        app = (getattr(context, "url", None) or "").strip("/") or None
        visit = {"url": "self-check", "remote_ip": "", "user_agent": "", "opened_at": ""}
        payload = token_payload({}, visit=visit, app=app)
        grant = mint_session(self._secret_key, _TOKEN_SECONDS, payload)
        started = time.perf_counter()
        try:
            self.sessions_built += 1
            session = await context.create_session_if_needed(grant.session_id, None, grant.token)
            roots = list(session.document.roots)
            error = "" if roots else "the document has no roots"
        except Exception as failure:  # an app's own code failing is what this reports
            error = "".join(traceback.format_exception_only(type(failure), failure)).strip()
        build_ms = round((time.perf_counter() - started) * 1000, 1)
        return AppCheck(ok=not error, build_ms=build_ms, checked_at=time.time(), error=error[:300])

    def may_recheck(self, credential: str) -> bool:
        """Whether a request carrying ``credential`` may have every app built again."""
        return credential_is_valid(self._secret_key, credential)

    def retry_due(self) -> bool:
        """A failed check, finished long enough ago to try again unasked."""
        return (
            bool(self.results)
            and not self.ready
            and not self.running
            and time.monotonic() - self._finished_at >= RETRY_FAILED_SECONDS
        )

    def report(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checking": self.running,
            "apps": {name: check.as_json() for name, check in self.results.items()},
        }


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
                IOLoop.current().spawn_callback(check.run, self.application)
            self.set_status(200 if check.ready else 503)
            self.write(check.report())

    return Readiness
