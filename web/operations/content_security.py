"""Security headers on every response of the site, with a Content-Security-Policy BokehJS works under.

Scripts run only from this site, from the Bokeh server's public URLs (BokehJS), or inline with the
per-request nonce that templates and ``web.embedding.session_markup`` put on the scripts they write
(``{{ csp_nonce() }}``); websockets go only to this site and the Bokeh server. BokehJS styles its
shadow DOM with inline styles, hence ``style-src 'unsafe-inline'``. ``CustomJS`` compiles its code
with ``new Function``: a view whose page carries one calls ``allow_eval()`` and only that page's
policy says ``'unsafe-eval'``.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context

_EXTENSION = "content_security"
_NONCE = "csp_nonce"
_EVAL = "csp_allow_eval"


def csp_nonce() -> str:
    """This response's script nonce (one per request; empty outside a request)."""
    if not has_request_context():
        return ""
    if _NONCE not in g:
        g.setdefault(_NONCE, secrets.token_urlsafe(18))
    return g.get(_NONCE)


def allow_eval() -> None:
    """Let this page's scripts compile code (Bokeh's ``CustomJS``)."""
    g.setdefault(_EVAL, True)


def origins_of(urls) -> tuple[str, ...]:
    """The http(s) and ws(s) origins of ``urls``, each once, in order."""
    found: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        socket_scheme = "wss" if parts.scheme == "https" else "ws"
        for origin in (f"{parts.scheme}://{parts.netloc}", f"{socket_scheme}://{parts.netloc}"):
            if origin not in found:
                found.append(origin)
    return tuple(found)


def policy(bokeh_origins: tuple[str, ...], nonce: str, allow_eval: bool) -> str:
    http_origins = " ".join(origin for origin in bokeh_origins if origin.startswith("http"))
    all_origins = " ".join(bokeh_origins)
    scripts = f"'self' 'nonce-{nonce}' {http_origins}" + (" 'unsafe-eval'" if allow_eval else "")
    directives = {
        "default-src": "'self'",
        "script-src": scripts,
        "style-src": f"'self' 'unsafe-inline' {http_origins}",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": f"'self' {all_origins}",
        "object-src": "'none'",
        "base-uri": "'self'",
        # The login form may end on the Bokeh server: a standalone private app sends its visitors
        # to the site's login, which redirects back there (browsers apply form-action to redirects).
        "form-action": f"'self' {http_origins}",
        "frame-ancestors": "'self'",
    }
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


def init_app(app: Flask) -> None:
    """Add the headers to every response of ``app`` and ``csp_nonce()`` to its templates."""
    urls = (app.config["BOKEH_PUBLIC_URL"], *app.config["BOKEH_PROCESS_PUBLIC_URLS"])
    app.extensions[_EXTENSION] = origins_of(urls)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(_add_headers)


def _add_headers(response):
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        policy(current_app.extensions[_EXTENSION], csp_nonce(), bool(g.get(_EVAL, False))),
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response
