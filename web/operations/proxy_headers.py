"""Which proxies the site believes about the client: ``TRUSTED_PROXY_HOPS`` (werkzeug's ``ProxyFix``).

Behind the front (nginx) or an Ingress controller every request comes from the proxy's address;
the proxy says who the client was in ``X-Forwarded-For`` (and the scheme and host the client used
in ``X-Forwarded-Proto``/``-Host``). With ``TRUSTED_PROXY_HOPS=n`` the site takes the n-th value
from the right of each header, the one the nearest trusted proxy wrote; whatever a client wrote
before it is ignored. With 0 (the default) no forwarded header is believed: anyone who reaches
gunicorn directly could otherwise pick their own address and slip past the login limits, which
count failures per address (``web.accounts.login_limits``), and put any address in the logs.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Wrap the site in ``ProxyFix`` for ``TRUSTED_PROXY_HOPS`` proxies; call it after any other
    WSGI middleware, so that every part of the site sees the client's address."""
    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
