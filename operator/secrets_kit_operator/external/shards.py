"""`--shards N`: replicas share the ExternalSecret controller's work by namespace.

An object belongs to shard sha256(namespace) mod N (cluster-scoped kinds: by name), so the split is the
same in every replica and every run. Each shard is a Lease (`secrets-kit-external-shard-<i>-of-<N>` in the
controller's namespace) held with client-go's lock semantics (leader.py); a replica handles an object only
while `holds()` is true for its shard, which lapses at the renew deadline, before any other replica may
judge the Lease expired.

Balance: every replica renews a membership Lease of its own; with M live members a replica keeps at most
ceil(N/M) shards, releases the rest (emptied holder: taken at once) and takes free or expired ones up to
that share. A replica that stops renewing (killed) loses its membership and its shards after one lease
period, and the others take them at their next retry. Members announcing another N (a rollout that
changes --shards) make every replica hold nothing until they are gone: never two splits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from ..kube import KubeError
from .kube import ExternalKube
from .leader import LEASES, LeaderElector, default_identity

log = logging.getLogger("secrets_kit_operator.external")
LABEL = "secrets-kit.io/external-shards"  # "shard" or "member": one LIST reads both
SHARDS_ANNOTATION = "secrets-kit.io/shards"
SHARD_META = {"labels": {LABEL: "shard"}}
CLUSTER_SCOPED = ("ClusterSecretStore", "ClusterExternalSecret")


def shard_of(key: str, shards: int) -> int:
    """A stable shard number (not Python's hash(): that one changes per process)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % shards


def item_shard(kind: str, namespace: str, name: str, shards: int) -> int:
    return shard_of(name if kind in CLUSTER_SCOPED else namespace, shards)


def fair_share(shards: int, members: int) -> int:
    return math.ceil(shards / max(members, 1))


class Sharder:
    def __init__(self, kube: ExternalKube, namespace: str, shards: int, *, lease: float = 15.0,
                 renew_deadline: float | None = None, retry: float | None = None,
                 identity: str | None = None) -> None:
        self.kube, self.namespace, self.count = kube, namespace, shards
        self.lease = lease
        self.renew_deadline = renew_deadline if renew_deadline is not None else lease * 2 / 3
        self.retry = retry if retry is not None else lease / 7.5  # 15 s → 10 s deadline, 2 s retry (as ESO)
        timing = {"lease": lease, "renew_deadline": self.renew_deadline, "retry": self.retry}
        self.identity = identity or default_identity()
        member = "secrets-kit-external-member-" + hashlib.sha256(self.identity.encode()).hexdigest()[:12]
        self.member = LeaderElector(kube, namespace, member, identity=self.identity, **timing)
        self.locks = [LeaderElector(kube, namespace, f"secrets-kit-external-shard-{i}-of-{shards}",
                                    identity=self.identity, **timing) for i in range(shards)]
        self._others: dict[str, LeaderElector] = {}  # other members' Leases, observed on our clock
        self._foreign: set[str] = set()  # live members announcing another shard count
        self._had: list[tuple[bool, int]] = [(False, 0)] * shards  # (holding, term) last reported
        # hooks the controller sets: a shard gained (queue its objects), lost (drop its timers), and a
        # wait for its in-flight reconciles before a Lease is handed over
        self.on_gained: Callable[[int], Awaitable[None]] | None = None
        self.on_lost: Callable[[int], None] | None = None
        self.drained: Callable[[int], Awaitable[None]] | None = None
        self.on_change: Callable[[int], None] | None = None  # shards held now (the metric)

    # -- what the controller asks ------------------------------------------------------------------

    def holds(self, shard: int) -> bool:
        return self.locks[shard].holds()

    def held(self) -> list[int]:
        return [i for i, lock in enumerate(self.locks) if lock.holds()]

    def _leading(self) -> list[int]:
        return [i for i, lock in enumerate(self.locks) if lock.leading]

    # -- the loop ------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """One balancing round every retry period until stop; then hand every held shard over."""
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except (KubeError, OSError) as err:
                    log.warning("shards: cannot reach the Leases", extra={"fields": {"error": str(err)[:200]}})
                await self._transitions()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry)
        finally:
            await self.release_all()

    async def tick(self) -> None:
        listing = await self.kube.request("GET", LEASES.format(ns=self.namespace), kind="Lease",
                                          query={"labelSelector": LABEL})
        leases = {str(item["metadata"]["name"]): item for item in listing.get("items") or []}
        mine = leases.get(self.member.name)
        if mine is not None:
            mine.setdefault("metadata", {}).setdefault("annotations", {})[SHARDS_ANNOTATION] = str(self.count)
        try:  # a failed membership renewal must not hold up the shards' renewals below
            await self.member.try_acquire_or_renew(mine, meta={
                "labels": {LABEL: "member"}, "annotations": {SHARDS_ANNOTATION: str(self.count)}})
        except (KubeError, OSError) as err:
            log.warning("shards: membership renewal failed", extra={"fields": {"error": str(err)[:200]}})
        members, foreign = await self._members(leases)
        if foreign != self._foreign:
            self._foreign = foreign
            if foreign:
                log.warning("shards: a live replica runs with another --shards; holding none until it is gone",
                            extra={"fields": {"shards": self.count, "other": ",".join(sorted(foreign))}})
        if foreign:
            await self._release(self._leading())
            return
        share = fair_share(self.count, members)
        for i, lock in enumerate(self.locks):  # renew ours, observe the others
            current = leases.get(lock.name)
            if lock.leading:
                try:
                    if not await lock.try_acquire_or_renew(current, meta=SHARD_META):
                        log.warning("shards: lost a shard", extra={"fields": {"shard": i}})
                except (KubeError, OSError) as err:  # retried next round; holds() lapses at the deadline
                    log.warning("shards: renewal failed", extra={"fields": {"shard": i, "error": str(err)[:200]}})
            elif current is not None:
                lock.observe(current)
        held = self._leading()  # renewed or not: a missed renewal is not a reason to take one more
        await self._release(sorted(held, reverse=True)[:max(len(held) - share, 0)])
        wanted = share - min(len(held), share)
        for i in self._order():
            if wanted <= 0:
                break
            lock = self.locks[i]
            if lock.leading:
                continue
            current = leases.get(lock.name)
            if current is not None and lock.holder not in ("", self.identity):
                continue  # held by a live replica
            with contextlib.suppress(KubeError):
                if await lock.try_acquire_or_renew(current, meta=SHARD_META):
                    wanted -= 1

    async def _members(self, leases: dict[str, dict[str, Any]]) -> tuple[int, set[str]]:
        """Live members (us included) and the live ones announcing another shard count. A member Lease
        unchanged for two lease periods is deleted (a killed replica never comes back under its name)."""
        live, foreign = 1, set()
        for name, lease in leases.items():
            if (lease["metadata"].get("labels") or {}).get(LABEL) != "member" or name == self.member.name:
                continue
            observer = self._others.setdefault(name, LeaderElector(self.kube, self.namespace, name,
                                                                   lease=self.lease, identity=self.identity))
            if not observer.observe(lease):
                live += 1
                announced = (lease["metadata"].get("annotations") or {}).get(SHARDS_ANNOTATION)
                if announced not in (None, str(self.count)):
                    foreign.add(name)
            elif observer.unchanged_for() > 2 * self.lease:
                version = lease["metadata"].get("resourceVersion")
                with contextlib.suppress(KubeError):
                    await self.kube.request("DELETE", observer.path, {
                        "kind": "DeleteOptions", "apiVersion": "v1",
                        "preconditions": {"resourceVersion": version}}, kind="Lease")
                self._others.pop(name, None)
        for gone in set(self._others) - set(leases):
            self._others.pop(gone, None)
        return live, foreign

    def _order(self) -> list[int]:
        """Free shards are tried from a point of our own, so two replicas do not race for the same one."""
        start = shard_of(self.identity, self.count)
        return [(start + k) % self.count for k in range(self.count)]

    async def _release(self, shards: list[int]) -> None:
        if not shards:
            return
        for shard in shards:
            self.locks[shard].leading = False  # first stop handling them (holds() is false from here) ...
        await self._transitions()
        if self.drained is not None:  # ... let reconciles already past the check finish (all at once) ...
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(self.drained(s) for s in shards)), self.renew_deadline / 2)
        for shard in shards:
            await self.locks[shard].release()  # ... then hand them over
            log.info("shards: released a shard", extra={"fields": {"shard": shard}})

    async def _transitions(self) -> None:
        """Tell the controller what changed since the last call (also a lapse past the renew deadline)."""
        changed = False
        for i, lock in enumerate(self.locks):
            now = (lock.holds(), lock.terms)
            if now == self._had[i]:
                continue
            # a new term counts as gained even if no round saw the lapse: workers dropped its objects meanwhile
            gained, lost = now[0] and now != self._had[i], self._had[i][0] and not now[0]
            self._had[i], changed = now, True
            if not gained and not lost:
                continue
            if gained:
                log.info("shards: holding a shard", extra={"fields": {"shard": i, "of": self.count,
                                                                     "identity": self.identity}})
                if self.on_gained is not None:
                    await self.on_gained(i)
            else:
                log.info("shards: no longer holding a shard", extra={"fields": {"shard": i}})
                if self.on_lost is not None:
                    self.on_lost(i)
        if changed and self.on_change is not None:
            self.on_change(len(self.held()))

    async def release_all(self) -> None:
        """On shut-down: stop handling, wait briefly for reconciles in flight, hand the Leases over, and
        delete our membership so the others' fair share grows at once."""
        with contextlib.suppress(Exception):  # shutting down: whatever fails, the Leases expire
            await self._release(self._leading())
        with contextlib.suppress(KubeError, OSError):
            await self.kube.request("DELETE", self.member.path, kind="Lease")
