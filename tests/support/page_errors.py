"""What went wrong in a page, as Chromium reports it: console errors, uncaught exceptions and
Content-Security-Policy violations."""

from __future__ import annotations

import re

_WATCH_CSP = """document.addEventListener('securitypolicyviolation', (e) => {
    (window.cspViolations = window.cspViolations || []).push(`${e.violatedDirective} ${e.blockedURI}`);
});"""
# Nothing leaves this machine: Bokeh's example apps' standalone templates link a web font and a video.
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")


def watch_csp(page) -> None:
    """Keep every CSP violation of the page from the next load on (see ``csp_violations``)."""
    page.add_init_script(_WATCH_CSP)


def csp_violations(page) -> list[str]:
    return page.evaluate("() => window.cspViolations || []")


class PageErrors:
    """Console errors, uncaught exceptions and CSP violations of a page, local resources only."""

    def __init__(self, page) -> None:
        self.page = page
        self.messages: list[str] = []
        watch_csp(page)
        page.context.route(EXTERNAL, lambda route: route.abort())
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"uncaught: {error}"))

    def _console(self, message) -> None:
        if message.type == "error" and not EXTERNAL.match(message.location.get("url", "")):
            self.messages.append(message.text)

    def assert_none(self, but: re.Pattern | None = None) -> None:
        """No error, or none but those ``but`` matches."""
        assert csp_violations(self.page) == []
        assert [message for message in self.messages if but is None or not but.search(message)] == []
