"""Whether the Bokeh server answers, known to each site worker without asking during a page view.

A token page contacts no Bokeh server, so it cannot learn from its own request that Bokeh is
down. Each worker process probes the Bokeh server's ``/healthz`` in a background thread every
``BOKEH_HEALTH_INTERVAL`` seconds instead, and live pages answer 503 while the Bokeh server is
down: when it refuses two connections in a row (``look``), after ``SLOW_PROBES_TO_FAIL`` probes
in a row that time out when it is frozen (a few slow answers from a busy server are not an
outage). The first look
in a worker probes at once (a refused connection answers in microseconds, a frozen server within
the probe timeout), so a worker never serves a page on a guess.

The same answer says what each app's document needs in the browser (its BokehJS bundles, whether
it runs JS code strings), found by the process's startup self-check (``aperture.document_needs``),
and which apps that check could not build; the monitor keeps the latest it saw of each app for
the pages (``needs_of``, ``is_broken``): a broken app's page says so instead of a dead plot.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from aperture.document_needs import DocumentNeeds


@dataclass(frozen=True)
class Probe:
    """One look at the Bokeh server."""

    reachable: bool
    reason: str
    latency_ms: float
    checked_at: float
    timed_out: bool = False
    # Per app, what its document needs in the browser, as the answering process found it.
    needs: Mapping[str, DocumentNeeds] = field(default_factory=dict)
    # The apps the answering process could not build.
    broken: frozenset[str] = frozenset()


def probe(url: str, timeout: float) -> Probe:
    """GET ``url`` and say whether it answered 200 within ``timeout`` seconds, and if not why."""
    started = time.perf_counter()
    reachable, reason, timed_out = False, "the Bokeh server cannot be reached", False
    needs: dict[str, DocumentNeeds] = {}
    broken: frozenset[str] = frozenset()
    try:
        # The URL comes from settings, which accept http(s) only.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            reachable = response.status == 200
            reason = "" if reachable else f"the Bokeh server answered HTTP {response.status}"
            if reachable:
                needs, broken = published_state(response.read())
    except urllib.error.HTTPError as error:
        reason = f"the Bokeh server answered HTTP {error.code}"
    except TimeoutError:
        reason, timed_out = f"the Bokeh server did not answer within {timeout:g} s", True
    except (OSError, urllib.error.URLError) as error:
        if isinstance(getattr(error, "reason", None), TimeoutError):
            reason, timed_out = f"the Bokeh server did not answer within {timeout:g} s", True
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return Probe(reachable, reason, latency_ms, time.time(), timed_out, needs, broken)


def published_state(body: bytes) -> tuple[dict[str, DocumentNeeds], frozenset[str]]:
    """What a Bokeh process's ``/healthz`` publishes: each app's ``needs``, and the apps it could
    not build (``broken``); what cannot be read is left out."""
    try:
        answer = json.loads(body)
    except ValueError:
        return {}, frozenset()
    if not isinstance(answer, dict):
        return {}, frozenset()
    published, broken = answer.get("needs"), answer.get("broken")
    needs = {}
    if isinstance(published, dict):
        found = {name: DocumentNeeds.from_json(record) for name, record in published.items()}
        needs = {name: record for name, record in found.items() if record is not None}
    names = frozenset(name for name in broken if isinstance(name, str)) if isinstance(broken, list) else frozenset()
    return needs, names


# A busy server may answer one probe late; this many late probes in a row mean it is frozen.
SLOW_PROBES_TO_FAIL = 3


class BokehMonitor:
    """Keeps the latest ``Probe`` of ``url`` fresh from a daemon thread of the current process."""

    def __init__(self, url: str, interval: float, timeout: float) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self._latest: Probe | None = None
        self._lock = threading.Lock()
        self._owner_pid: int | None = None
        self._wake = threading.Event()
        self._late_in_a_row = 0
        self._needs: dict[str, DocumentNeeds] = {}
        self._broken: set[str] = set()

    def latest(self) -> Probe:
        """The latest probe; the first call in a process probes now and starts the thread."""
        with self._lock:
            if self._owner_pid != os.getpid():
                # A fork (gunicorn's workers) inherits the object but not the thread.
                self._owner_pid = os.getpid()
                self._latest = probe(self.url, self.timeout)
                self._learn(self._latest)
                threading.Thread(target=self._run, name="bokeh-monitor", daemon=True).start()
            assert self._latest is not None
            return self._latest

    @property
    def published(self) -> Probe | None:
        """What ``latest()`` answers now, without probing or starting anything."""
        return self._latest

    def needs_of(self, app: str) -> DocumentNeeds | None:
        """What ``app``'s document needs in the browser, as last published; None while unknown."""
        return self._needs.get(app)

    def is_broken(self, app: str) -> bool:
        """Whether the latest process that checked ``app`` could not build it."""
        return app in self._broken

    def _learn(self, result: Probe) -> None:
        # Processes answer in turn and one not yet checked publishes nothing: keep what is known.
        self._needs.update(result.needs)
        self._broken.difference_update(result.needs)
        self._broken.update(result.broken)

    def refresh(self) -> None:
        """Ask the thread to probe again now (after a pull failed, say)."""
        self._wake.set()

    def _run(self) -> None:
        pid = os.getpid()
        while self._owner_pid == pid:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.record(self.look())

    def look(self) -> Probe:
        """One probe; a failure of a server that was up is asked again at once before it is believed.

        Bokeh's processes share one port: one that dies resets the connections queued on its
        socket while the others still serve. Told at once, every page would answer 503 for a whole
        interval; a second refusal in a row is an outage.
        """
        result = probe(self.url, self.timeout)
        was_up = self._latest is not None and self._latest.reachable
        if was_up and not result.reachable and not result.timed_out:
            result = probe(self.url, self.timeout)
        return result

    def record(self, result: Probe) -> None:
        """Publish ``result``, unless it is the first late answer of a server that was up."""
        self._learn(result)
        self._late_in_a_row = self._late_in_a_row + 1 if result.timed_out else 0
        was_up = self._latest is not None and self._latest.reachable
        if result.timed_out and was_up and self._late_in_a_row < SLOW_PROBES_TO_FAIL:
            return
        self._latest = result
