"""Limits on failed logins (Flask-Limiter), and the page that says when to try again.

Two limits guard the login form and its second step (the second-factor code): failed attempts
per client address and account name (``LOGIN_RATE_LIMIT``) and per address
(``LOGIN_RATE_LIMIT_PER_ADDRESS``); only failures count, wrong passwords and wrong codes together.
Behind a proxy the address is the client's only as ``TRUSTED_PROXY_HOPS`` says (``web.operations.proxy_headers``).
An IPv6 client counts by its /64 network: one subscriber holds a whole /64 and could otherwise take a
fresh address for every guess.
They are counted where ``RATELIMIT_STORAGE_URI`` says: each worker's memory, or Redis, shared by
every worker and replica. When Redis does not answer, Flask-Limiter logs a warning and counts
in the worker's memory until it answers again (``web.settings.rate_limit_storage``): logins keep
working, limited per worker. A refused attempt gets a 429 with ``Retry-After`` and a page naming
the limit and when to try again.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import current_user

from web.accounts.audit import record

log = logging.getLogger(__name__)

PER_ACCOUNT = "Too many failed logins for this account from your address"
PER_ADDRESS = "Too many failed logins from your address"


def client_network() -> str:
    """What the limits count a client by: its IPv4 address, or its IPv6 address's /64 network."""
    address = request.remote_addr or "127.0.0.1"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


limiter = Limiter(key_func=client_network)


def init_app(app: Flask) -> None:
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, too_many_attempts)


def login_failed(response) -> bool:
    """Whether the request was a failed attempt (what the limits count)."""
    return bool(g.get("login_failed"))


def form_account() -> str:
    """The account a login form names (its ``name`` field)."""
    return request.form.get("name") or ""


def failed_logins_limited(view: Callable | None = None, *, account: Callable[[], str] = form_account):
    """Apply both limits to ``view``'s POSTs; a view marks a failure with ``g.login_failed``.

    ``account`` names the account an attempt is for (the password form's ``name`` field, or the
    account whose second-factor code is asked for): the counters are shared by every view so
    limited, so a wrong password and a wrong code count alike, against the same limits."""
    if view is None:
        return lambda view: failed_logins_limited(view, account=account)

    def address_and_account() -> str:
        # Kept for the audit entry of a refused attempt (``too_many_attempts``).
        g.attempted_account = account().strip().lower()[:64]
        return f"{client_network()}/{g.attempted_account}"

    per_account = limiter.shared_limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT"],
        scope="failed-logins-per-account",
        key_func=address_and_account,
        methods=["POST"],
        deduct_when=login_failed,
        error_message=PER_ACCOUNT,
    )
    per_address = limiter.shared_limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"],
        scope="failed-logins-per-address",
        methods=["POST"],
        deduct_when=login_failed,
        error_message=PER_ADDRESS,
    )
    return per_account(per_address(view))


def seconds_until_reset() -> int:
    """Seconds until the breached limit lets the next attempt through (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    try:
        reset_at = breached.reset_at
    except Exception:  # the storage went away in between: any honest guess will do
        log.warning("could not read when the login limit resets; answering with its whole window")
        return int(breached.limit.get_expiry())
    return max(1, int(reset_at - time.time()))


def too_many_attempts(error: RateLimitExceeded):
    """429: which limit, and when to try again (``Retry-After`` too)."""
    from web.errors import error_response

    wait = seconds_until_reset()
    retry_at = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S UTC")
    message = f"{error.description} ({error.limit.limit}). Try again in {wait} seconds, at {retry_at}."
    log.warning("login refused: %s, from %s", error.description.lower(), request.remote_addr)
    subject = g.get("attempted_account") or (current_user.name if current_user.is_authenticated else "")
    record("login_failed", subject=subject, detail=f"refused: {error.description.lower()} ({error.limit.limit})")
    response = error_response(429, "Too many failed logins", message, retry_after=wait, limit=str(error.limit.limit))
    response.headers["Retry-After"] = str(wait)
    return response
