"""Prometheus metrics of one Bokeh server process, answered at ``/metrics`` on each of its ports.

* ``aperture_bokeh_open_sessions{app}``: Bokeh's sessions of each app now (read when scraped);
* ``aperture_bokeh_viewers{app}``: websockets on each app's sessions now, and
  ``aperture_bokeh_shared_view_viewers{app,view}``: on each shared view (``bkruntime.shared_views``;
  ``view`` is the start of its session id), read when scraped;
* ``aperture_bokeh_shared_view_audience{app,view,role,owner}``: a shared view's viewers in every
  process (``role`` ``owner`` or ``relay``, ``owner`` the index of the process that owns it) and
  ``aperture_bokeh_shared_view_relay_lag_seconds{app,view,owner}``: how far a relay is behind its
  owner (``bkruntime.view_relay``);
* ``aperture_bokeh_sessions_created_total{app}``, ``..._destroyed_total{app}``: the counts of
  Bokeh's session hooks that the admin view's ``/stats`` also reports (``bkruntime.process_stats``);
* ``aperture_bokeh_document_build_seconds{app,outcome}``: every session's document build
  of any app (``measure_builds``, installed on every app by the Bokeh process), ``outcome`` ``built`` or ``error``;
* ``aperture_bokeh_websocket_messages_{received,sent}_total{app,msgtype}`` (``bkruntime.websocket_counts``);
* ``aperture_bokeh_websockets_refused_total{reason}`` (``bkruntime.server_logging``);
* ``aperture_bokeh_slow_viewers_disconnected_total``: viewers that stopped reading, disconnected
  rather than waited for (``bkruntime.patch_broadcast``);
* ``aperture_bokeh_slow_viewers_behind_total``: times a viewer fell behind by more than the
  limit; kept as long as it reads (``bkruntime.slow_viewers``);
* ``aperture_bokeh_shared_view_replies_total{reply}``: documents sent to viewers joining a shared
  view, ``reused`` (serialised for an earlier viewer, unchanged since) or ``serialised``
  (``bkruntime.shared_pull_reply``);
* ``aperture_bokeh_gc_pause_seconds{generation}``: how long each garbage collection held the
  process (``gc.callbacks``), the pauses that stall every session of a busy server;
* prometheus_client's process metrics (``process_resident_memory_bytes``...) and Python's.

Every sample carries ``process``, the supervisor's index of this process, so the numbers of the
process the shared port happened to reach can be told apart. With ``METRICS_BEARER_TOKEN`` set,
``/metrics`` answers only requests that carry it (the Bokeh ports are public).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from aperture.signing import bearer_token_matches
from bkruntime.kit.process_identity import process_index
from bkruntime.shared_views import shared_view_viewers
from bkruntime.view_relay import shared_view_roles

# Collections of the young generations take well under a millisecond; full ones of a big heap
# take up to seconds.
GC_PAUSE_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

VIEWERS = Gauge("aperture_bokeh_viewers", "Websockets on the sessions of each app", ["app"], registry=REGISTRY)
OPEN_SESSIONS = Gauge("aperture_bokeh_open_sessions", "Sessions open in this process", ["app"], registry=REGISTRY)
BUILD_SECONDS = Histogram(
    "aperture_bokeh_document_build_seconds",
    "Time to build a session's document",
    ["app", "outcome"],
    registry=REGISTRY,
)
MESSAGES_RECEIVED = Counter(
    "aperture_bokeh_websocket_messages_received",
    "Bokeh protocol messages received from browsers",
    ["app", "msgtype"],
    registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "aperture_bokeh_websocket_messages_sent",
    "Bokeh protocol messages sent to browsers",
    ["app", "msgtype"],
    registry=REGISTRY,
)
SLOW_VIEWERS = Counter(
    "aperture_bokeh_slow_viewers_disconnected",
    "Viewers disconnected because they did not read their updates",
    registry=REGISTRY,
)
VIEWERS_BEHIND = Counter(
    "aperture_bokeh_slow_viewers_behind",
    "Times a viewer fell behind its updates by more than the limit (kept while it reads)",
    registry=REGISTRY,
)
SHARED_VIEW_REPLIES = Counter(
    "aperture_bokeh_shared_view_replies",
    "Documents sent to viewers joining a shared view: reused unchanged, or serialised anew",
    ["reply"],
    registry=REGISTRY,
)
WEBSOCKETS_REFUSED = Counter(
    "aperture_bokeh_websockets_refused",
    "Websockets refused (bad or expired token, origin)",
    ["reason"],
    registry=REGISTRY,
)


def measure_builds(name: str, application: Any) -> None:
    """Time every document ``application`` builds, whatever the app (its handlers run inside
    ``initialize_document``, so apps need nothing of their own for it).

    Bokeh catches an exception in an app's code and keeps it on the handler (``error_detail``) rather
    than raising it: a build whose handler took a new error is an ``error`` too.
    """
    initialize = application.initialize_document

    def errors() -> list[Any]:
        return [getattr(handler, "error_detail", None) for handler in application.handlers]

    def measured(doc: Any) -> None:
        before = errors()
        started = time.perf_counter()
        outcome = "error"
        try:
            initialize(doc)
            if all(now is was for now, was in zip(errors(), before, strict=True)):
                outcome = "built"
        finally:
            BUILD_SECONDS.labels(name, outcome).observe(time.perf_counter() - started)

    application.initialize_document = measured


class SharedViewViewers(Collector):
    """Viewers of each shared view open now, from ``(app, view, viewers)`` read when scraped (a
    view that ends leaves no stale series behind, as a gauge's labels would)."""

    def __init__(self) -> None:
        self.views: list[tuple[str, str, int]] = []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "aperture_bokeh_shared_view_viewers", "Viewers of each shared view in this process", labels=["app", "view"]
        )
        for app, view, viewers in self.views:
            family.add_metric([app, view], viewers)
        yield family


SHARED_VIEWS = SharedViewViewers()
REGISTRY.register(SHARED_VIEWS)

ViewRole = tuple[str, str, str, int, int, "float | None"]


class SharedViewRoles(Collector):
    """Each shared view's audience in every process, its owner, and a relay's lag behind it, from
    ``(app, view, role, owner, audience, lag)`` read when scraped (``bkruntime.view_relay``)."""

    def __init__(self) -> None:
        self.views: list[ViewRole] = []

    def collect(self) -> Iterator[Metric]:
        audience = GaugeMetricFamily(
            "aperture_bokeh_shared_view_audience",
            "Viewers of each shared view in every process (the same on its owner and its relays)",
            labels=["app", "view", "role", "owner"],
        )
        lag = GaugeMetricFamily(
            "aperture_bokeh_shared_view_relay_lag_seconds",
            "How far a relay's mirror of a shared view is behind its owner (link round trip)",
            labels=["app", "view", "owner"],
        )
        for app, view, role, owner, viewers, seconds in self.views:
            audience.add_metric([app, view, role, str(owner)], viewers)
            if seconds is not None:
                lag.add_metric([app, view, str(owner)], seconds)
        yield audience
        yield lag


SHARED_VIEW_ROLES = SharedViewRoles()
REGISTRY.register(SHARED_VIEW_ROLES)


class GcPauses(Collector):
    """Times every garbage collection through ``gc.callbacks``, as a histogram per generation.

    The callback runs inside the collector, possibly while another thread holds a metric's lock,
    so it only adds to plain lists (the GIL and the collector's own exclusion keep them whole);
    ``collect()`` turns them into samples when scraped.
    """

    def __init__(
        self, buckets: Iterable[float] = GC_PAUSE_BUCKETS, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.bounds = tuple(buckets)
        self._clock = clock
        self._counts = {generation: [0] * (len(self.bounds) + 1) for generation in range(3)}
        self._sums = dict.fromkeys(range(3), 0.0)
        self._started = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        pause = self._clock() - self._started
        generation = info.get("generation", 2)
        slot = next((index for index, bound in enumerate(self.bounds) if pause <= bound), len(self.bounds))
        self._counts[generation][slot] += 1
        self._sums[generation] += pause

    def install(self) -> None:
        if self.callback not in gc.callbacks:
            gc.callbacks.append(self.callback)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "aperture_bokeh_gc_pause_seconds", "Time each garbage collection held the process", labels=["generation"]
        )
        for generation, counts in self._counts.items():
            cumulative, buckets = 0, []
            for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            family.add_metric([str(generation)], buckets, sum_value=self._sums[generation])
        yield family


class SessionCounts(Collector):
    """Sessions created and destroyed per app, read when scraped from the two counters
    (``collections.Counter``, app name to count) that Bokeh's session hooks keep up to date."""

    def __init__(self, created: Mapping[str, int], destroyed: Mapping[str, int]) -> None:
        self._counts = {"created": created, "destroyed": destroyed}

    def collect(self) -> Iterator[Metric]:
        for event, counts in self._counts.items():
            family = CounterMetricFamily(
                f"aperture_bokeh_sessions_{event}", f"Sessions {event} in this process", labels=["app"]
            )
            for app, count in sorted(counts.items()):
                family.add_metric([app], count)
            yield family


GC_PAUSES = GcPauses()
REGISTRY.register(GC_PAUSES)


class WithLabels(Collector):
    """Another collector's metrics with constant labels added to every sample."""

    def __init__(self, collector: Any, labels: dict[str, str]) -> None:
        self._collector = collector
        self._labels = labels

    def collect(self) -> Iterator[Metric]:
        for metric in self._collector.collect():
            metric.samples = [sample._replace(labels={**sample.labels, **self._labels}) for sample in metric.samples]
            yield metric


def exposition(
    open_sessions: dict[str, int],
    viewers: dict[str, int] | None = None,
    shared_views: Iterable[tuple[str, str, int]] = (),
    shared_view_roles: Iterable[ViewRole] = (),
) -> bytes:
    """This process's metrics as Prometheus text; ``open_sessions`` maps each app to its sessions
    now, ``viewers`` to its websockets, ``shared_views`` lists ``(app, view, viewers)`` (here) and
    ``shared_view_roles`` ``(app, view, role, owner, audience, lag)``."""
    for app, count in open_sessions.items():
        OPEN_SESSIONS.labels(app).set(count)
    for app, count in (viewers or {}).items():
        VIEWERS.labels(app).set(count)
    SHARED_VIEWS.views = list(shared_views)
    SHARED_VIEW_ROLES.views = list(shared_view_roles)
    index = process_index()
    labelled = WithLabels(REGISTRY, {"process": str(index)}) if index is not None else REGISTRY
    return generate_latest(labelled)  # type: ignore[arg-type]


def metrics_handler(token: str = ""):
    """A Tornado handler answering ``exposition`` (``self.application`` is Bokeh's); with a
    ``token``, only to requests that carry it (``METRICS_BEARER_TOKEN``)."""
    from tornado.web import RequestHandler

    class ProcessMetrics(RequestHandler):
        def get(self) -> None:
            if not bearer_token_matches(self.request.headers.get("Authorization"), token):
                self.set_status(401)
                self.set_header("WWW-Authenticate", "Bearer")
                self.finish()
                return
            contexts = self.application.applications
            sessions = {path.strip("/"): len(list(context.sessions)) for path, context in contexts.items()}
            viewers = {
                path.strip("/"): sum(session.connection_count for session in context.sessions)
                for path, context in contexts.items()
            }
            self.set_header("Content-Type", CONTENT_TYPE_LATEST)
            self.set_header("Cache-Control", "no-store")
            roles = shared_view_roles(contexts.items())
            self.write(exposition(sessions, viewers, shared_view_viewers(contexts.items()), roles))

    return ProcessMetrics


def count_received(app: str, msgtype: str) -> None:
    """One message of type ``msgtype`` received by a websocket of ``app``."""
    MESSAGES_RECEIVED.labels(app, msgtype).inc()


def count_sent(app: str, msgtype: str) -> None:
    """One message of type ``msgtype`` sent on a websocket of ``app``."""
    MESSAGES_SENT.labels(app, msgtype).inc()


def count_sent_many(app: str, msgtype: str, count: int) -> None:
    """``count`` messages of type ``msgtype`` sent on websockets of ``app`` (one broadcast)."""
    MESSAGES_SENT.labels(app, msgtype).inc(count)


def count_slow_viewer() -> None:
    """One viewer disconnected for not reading its updates."""
    SLOW_VIEWERS.inc()


def count_viewer_behind() -> None:
    """One viewer found more than the limit behind (disconnected only if it stopped reading)."""
    VIEWERS_BEHIND.inc()


def count_shared_view_reply(reused: bool) -> None:
    """One document sent to a viewer joining a shared view, ``reused`` or serialised for it."""
    SHARED_VIEW_REPLIES.labels("reused" if reused else "serialised").inc()


def count_refused(reason: str) -> None:
    """One websocket refused, for ``reason`` (``bkruntime.server_logging.REASONS``, ``origin``)."""
    WEBSOCKETS_REFUSED.labels(reason).inc()


def install(sessions_created: Mapping[str, int], sessions_destroyed: Mapping[str, int]) -> None:
    """Start measuring in this server process: GC pauses and websocket messages; export the
    session counts of ``bkruntime.process_stats``."""
    from bkruntime import websocket_counts

    # A "_created" series beside every counter and histogram doubles what is scraped, for a
    # timestamp Prometheus does not use.
    disable_created_metrics()
    REGISTRY.register(SessionCounts(sessions_created, sessions_destroyed))
    GC_PAUSES.install()
    websocket_counts.install(count_received, count_sent)
