"""Which Bokeh process owns each shared view: rendezvous hashing over the processes that are up.

Every process of a supervisor knows the others by their own ports (``BOKEH_PROCESS_PORT_BASE + i``
for ``i`` below ``APERTURE_PROCESS_COUNT``). ``Peers`` asks each of them for ``/healthz`` every
``BOKEH_PEER_CHECK_SECONDS``; those that answer (and this process, which is up by definition)
are the candidates. The owner of a view is the candidate whose port scores highest with the view's
session id (``rendezvous_owner``): every process computes the same owner from the same candidates
without asking anyone, and a process coming or going moves only the views it owns or takes.

Until its first round of checks a process knows nobody, so ``ready()`` waits for that round
before anyone asks it for an owner. A peer whose port refuses connections is down at once; one
that is only slow to answer (busy) stays up until it has missed ``MISSES_TO_DOWN`` rounds in a
row, since every move of a view sends its viewers elsewhere. A process found down between two
rounds (a relay's link to it failed) is dropped at once (``mark_down``) and checked again at the
next round.

Across replicas (``BOKEH_PEER_REGISTRY_URL``), the members are not only this supervisor's
processes but every process listed alive in the registry (``bkruntime.peer_registry``), each named
``address:port``; the hashing then runs over those names, which every replica spells alike. The
members found are appended to ``members`` (an index, once given, names one process for good).
While Redis cannot be reached, the members are this supervisor's processes again, until it answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_CHECK_SECONDS = 1.0
# A peer that does not answer its health check within this missed the round.
CHECK_TIMEOUT_SECONDS = 2.0
# A peer whose port refuses the connection is down at once (the process is gone); one that is
# only slow to answer (busy writing to thousands of viewers) is down after this many missed rounds
# in a row, so that a busy owner does not send all of its views' viewers elsewhere.
MISSES_TO_DOWN = 3


def rendezvous_owner(session_id: str, ports: Iterable[int | str]) -> int | str:
    """The port (or ``address:port`` member), among ``ports``, that owns the view with
    ``session_id`` (highest random weight)."""

    def weight(port: int | str) -> bytes:
        return hashlib.sha256(f"{port}\n{session_id}".encode()).digest()

    candidates = list(ports)
    if not candidates:
        raise ValueError("no process to own a shared view")
    return max(candidates, key=weight)


class Peers:
    """This process's view of which processes (of its supervisor, or of every replica with a
    ``registry``) are up, and the owners it implies."""

    def __init__(
        self,
        host: str,
        ports: list[int],
        own_index: int,
        check_seconds: float = DEFAULT_CHECK_SECONDS,
        registry: Any = None,
    ) -> None:
        self.host = host
        # Every process known so far, as (host, own port); the first ones are this supervisor's.
        self.members: list[tuple[str, int]] = [(host, port) for port in ports]
        self.local_count = len(ports)
        self.own_index = own_index
        self.check_seconds = check_seconds
        self.registry = registry
        self.up: set[int] = {own_index}
        self.checked_at: float | None = None
        # Rounds in a row each peer did not answer.
        self.misses: dict[int, int] = {}
        self._first_round = asyncio.Event() if self.has_peers else None
        self._listeners: list[Callable[[], None]] = []
        self._task: asyncio.Task | None = None

    @property
    def has_peers(self) -> bool:
        """Whether there can be other processes to share views with."""
        return self.local_count > 1 or self.registry is not None

    @property
    def ports(self) -> list[int]:
        return [port for _, port in self.members]

    @property
    def own_port(self) -> int:
        return self.members[self.own_index][1]

    @property
    def row(self) -> int:
        """This process's row in a shared view's count of viewers: its slot in the registry (unique
        over the deployment), or its index in its supervisor."""
        slot = None if self.registry is None else self.registry.slot
        return self.own_index if slot is None else slot

    def address(self, index: int) -> str:
        """``host:port`` where process ``index`` is reached (its own port)."""
        host, port = self.members[index]
        return f"{host}:{port}"

    def url(self, index: int) -> str:
        return f"http://{self.address(index)}"

    def name(self, index: int) -> int | str:
        """What the hashing knows process ``index`` by: its port within one supervisor (every
        process of it shares the host), its ``address:port`` across replicas."""
        return self.address(index) if self.registry is not None else self.members[index][1]

    def owner_of(self, session_id: str) -> int:
        """The index of the process that owns ``session_id``'s view, as this process sees it now."""
        names = {self.name(index): index for index in self.up}
        return names[rendezvous_owner(session_id, names)]

    def owns(self, session_id: str) -> bool:
        return self.owner_of(session_id) == self.own_index

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the loop) whenever the set of processes that are up changes."""
        self._listeners.append(listener)

    async def ready(self) -> None:
        """Return once this process has checked its peers at least once."""
        if self._first_round is not None:
            await self._first_round.wait()

    def mark_down(self, index: int) -> None:
        """Drop ``index`` until the next round says otherwise (its link or health check failed)."""
        if index != self.own_index and index in self.up:
            log.info("Bokeh process %d is down; its shared views move event=peer_down", index)
            self._set_up(self.up - {index})

    def start(self) -> None:
        """Check the peers every ``check_seconds`` on the running loop (nothing to do alone)."""
        if self.has_peers and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._check_forever())

    async def check_once(self) -> None:
        others = [index for index in await self._candidates() if index != self.own_index]
        answers = await asyncio.gather(*(self._answers(index) for index in others))
        self.checked_at = time.time()
        up = {self.own_index}
        for index, answer in zip(others, answers, strict=True):
            self.misses[index] = 0 if answer == "up" else self.misses.get(index, 0) + 1
            if answer == "up" or (answer == "slow" and index in self.up and self.misses[index] < MISSES_TO_DOWN):
                up.add(index)
        self._set_up(up)
        if self._first_round is not None:
            self._first_round.set()

    async def _candidates(self) -> list[int]:
        """The processes to check this round: this supervisor's, or those the registry lists
        alive (this supervisor's while it cannot be reached)."""
        local = list(range(self.local_count))
        if self.registry is None:
            return local
        listed = await self.registry.renew_and_list()
        if listed is None:
            return local
        known = {self.address(index): index for index in range(len(self.members))}
        for member in listed:
            if member not in known:
                host, _, port = member.rpartition(":")
                if not host or not port.isdigit():
                    log.warning("ignoring a peer registry member that is no host:port: %r", member)
                    continue
                known[member] = len(self.members)
                self.members.append((host, int(port)))
        return [known[member] for member in listed if member in known]

    async def _check_forever(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # a check must never stop the checking
                log.exception("checking the other Bokeh processes failed")
            await asyncio.sleep(self.check_seconds)

    async def _answers(self, index: int) -> str:
        """``up``, ``down`` (nothing listens: the process is gone) or ``slow`` (no answer in time)."""
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        try:
            response = await AsyncHTTPClient().fetch(
                f"{self.url(index)}/healthz",
                request_timeout=CHECK_TIMEOUT_SECONDS,
                connect_timeout=CHECK_TIMEOUT_SECONDS,
            )
        except ConnectionRefusedError:
            return "down"
        except HTTPClientError as error:
            return "slow" if error.code == 599 else "down"
        except (TimeoutError, OSError):
            return "slow"
        return "up" if response.code == 200 else "down"

    def _set_up(self, up: set[int]) -> None:
        if up == self.up:
            return
        self.up = up
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("reacting to a change of the Bokeh processes failed")
