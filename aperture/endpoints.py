"""The endpoints every Bokeh process answers besides its apps, by the names both sides agree on.

``/healthz``, ``/readyz`` and ``/metrics`` are the probes' and the site's monitor's; ``/stats``
(and ``/readyz?recheck=1``) answer only with a short-lived credential signed with the shared Bokeh
key (``stats_credential``), which only the site can make: the per-process ports are reachable by
browsers.
"""

from __future__ import annotations

from itsdangerous import BadData, TimestampSigner

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
STATS_PATH = "/stats"
CREDENTIAL_HEADER = "X-Aperture-Stats"
CREDENTIAL_SECONDS = 60
_SALT = "aperture-process-stats"
_MESSAGE = b"stats"


def stats_credential(bokeh_secret: str) -> str:
    """A credential for ``/stats``, valid for ``CREDENTIAL_SECONDS``."""
    return TimestampSigner(bokeh_secret, salt=_SALT).sign(_MESSAGE).decode()


def credential_is_valid(bokeh_secret: str, credential: str) -> bool:
    try:
        signer = TimestampSigner(bokeh_secret, salt=_SALT)
        return signer.unsign(credential, max_age=CREDENTIAL_SECONDS) == _MESSAGE
    except BadData:
        return False
