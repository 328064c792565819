"""Where the Bokeh processes of every replica find each other: a list of members kept in Redis.

A supervisor knows its own processes by their ports; replicas (docker-compose services,
Kubernetes pods) do not know each other's. With ``BOKEH_PEER_REGISTRY_URL`` set, each process
registers its member name, ``address:own_port`` (``BOKEH_PEER_ADDRESS``: where the other replicas
reach it), under a lease that it renews at every round of peer checks, and reads the members whose
lease is alive: those are the processes ``bkruntime.view_owners`` checks and chooses owners among.

Each member is a key of its own that Redis expires (so no clock but Redis's decides when a
lease ends), plus its name in one set, which is how the members are listed; a name whose key
expired is taken out of the set by whoever reads it. A process that stops leaves its lease to
expire; the health checks of ``bkruntime.view_owners`` find it down before that.

Each member also holds a *slot*: the lowest number no live member holds, under the same lease. It
is the member's row in a shared view's count of viewers (``bkruntime.shared_views``), which needs
a number per process that is unique over the deployment (a supervisor's process indexes repeat
from replica to replica) and small (a slot is reused once its holder's lease has ended).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MEMBERS_KEY = "aperture:bokeh-peers"
SLOT_KEY = "aperture:bokeh-peer-slot"
# More processes than this in one deployment find no slot (and count in slot 0's row).
MAX_SLOTS = 1024
# Renew a slot's lease only while this member still holds it (atomically).
RENEW_SLOT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
# A member's lease lasts this many rounds of checks: it survives a round or two of a busy loop.
LEASE_ROUNDS = 5
MIN_LEASE_SECONDS = 3.0
# A Redis that does not answer within this is taken as down for the round.
REDIS_TIMEOUT_SECONDS = 1.0


def lease_seconds(check_seconds: float) -> float:
    """How long a member stays listed without renewing its lease."""
    return max(MIN_LEASE_SECONDS, LEASE_ROUNDS * check_seconds)


def member_key(member: str) -> str:
    return f"{MEMBERS_KEY}:{member}"


def slot_key(slot: int) -> str:
    return f"{SLOT_KEY}:{slot}"


def redis_client(url: str) -> Any:
    """An asyncio Redis client for ``url`` that gives up quickly (a check round must not stall)."""
    import redis.asyncio

    return redis.asyncio.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )


@dataclass
class PeerRegistry:
    """This process's membership in the registry, and the live members it last read."""

    client: Any
    member: str
    lease_seconds: float
    # Whether the last round reached Redis (a warning is logged when it stops, once).
    reachable: bool = True
    members: list[str] = field(default_factory=list)
    # This member's slot (None until Redis first answered).
    slot: int | None = None

    @classmethod
    def from_url(cls, url: str, member: str, check_seconds: float) -> PeerRegistry:
        return cls(redis_client(url), member, lease_seconds(check_seconds))

    async def renew_and_list(self) -> list[str] | None:
        """Renew this member's lease and return the live members (this one included), sorted;
        None when Redis cannot be reached (the caller falls back to the processes it knows)."""
        try:
            members = await self._renew_and_list()
        except Exception as error:  # redis' ConnectionError, TimeoutError, a refused command...
            if self.reachable:
                log.warning(
                    "the peer registry cannot be reached (%s): shared views are shared among this "
                    "replica's processes only until it answers again event=peer_registry_down",
                    error,
                )
            self.reachable = False
            return None
        if not self.reachable:
            log.info("the peer registry answers again: rejoined %d members event=peer_registry_back", len(members))
        self.reachable = True
        self.members = members
        return members

    async def _renew_and_list(self) -> list[str]:
        await self._hold_slot()
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(member_key(self.member), "1", px=int(self.lease_seconds * 1000))
            pipe.sadd(MEMBERS_KEY, self.member)
            pipe.smembers(MEMBERS_KEY)
            *_, listed = await pipe.execute()
        names = sorted(name.decode() if isinstance(name, bytes) else name for name in listed)
        alive = await self.client.mget([member_key(name) for name in names]) if names else []
        expired = [name for name, lease in zip(names, alive, strict=True) if lease is None]
        if expired:
            await self.client.srem(MEMBERS_KEY, *expired)
        return [name for name in names if name not in expired]

    async def _hold_slot(self) -> None:
        """Renew this member's slot, or take the lowest free one if it has none (or lost it)."""
        lease = int(self.lease_seconds * 1000)
        if self.slot is not None and await self.client.eval(RENEW_SLOT, 1, slot_key(self.slot), self.member, lease):
            return
        for slot in range(MAX_SLOTS):
            key = slot_key(slot)
            if await self.client.set(key, self.member, px=lease, nx=True) or await self._holds(key):
                if slot != self.slot and self.slot is not None:
                    log.info("this Bokeh process's viewer-count slot is now %d event=peer_slot_moved", slot)
                self.slot = slot
                return
        log.warning("no free slot among %d in the peer registry", MAX_SLOTS)

    async def _holds(self, key: str) -> bool:
        holder = await self.client.get(key)
        return holder is not None and holder.decode() == self.member
