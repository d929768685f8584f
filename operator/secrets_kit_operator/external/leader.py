"""--enable-leader-election: client-go's Lease lock (coordination.k8s.io/v1), id
`external-secrets-controller` as ESO, lease 15 s, renew deadline 10 s, retry 2 s.

A replica reconciles only while it holds the Lease. Expiry is judged as client-go does, on the local
clock: a record (holder, renewTime) not seen to change for leaseDurationSeconds is expired, whatever
the other replica's clock says. A leader that cannot renew within the deadline stops the process (as
controller-runtime exits), so two replicas never reconcile at once for longer than the lease.

`--shards` (shards.py) holds one such lock per shard: `holds()` turns false once the renew deadline has
passed without a renewal, whatever the renewing task is doing, and `release()` hands a Lease over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..kube import KubeError
from .kube import ExternalKube

log = logging.getLogger("secrets_kit_operator.external")
LEASES = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"


def _micro(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """client-go's: the Pod's name (or host name) plus a UUID, unique per process."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4()}"


class LeaderElector:
    def __init__(self, kube: ExternalKube, namespace: str, name: str, *, lease: float = 15.0,
                 renew_deadline: float = 10.0, retry: float = 2.0, identity: str | None = None) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.lease, self.renew_deadline, self.retry = lease, renew_deadline, retry
        self.identity = identity or default_identity()
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.leading = False
        self.renewed_at = 0.0  # monotonic time our last successful write was sent
        self.holder = ""  # the holder last seen ("" : none, or expired)
        self.terms = 0  # times holding began (after not holding, or after a lapse past the renew deadline)

    @property
    def path(self) -> str:
        return LEASES.format(ns=self.namespace) + f"/{self.name}"

    def holds(self) -> bool:
        """Ours, renewed within the renew deadline: others cannot take it before lease - deadline from now."""
        return self.leading and time.monotonic() - self.renewed_at < self.renew_deadline

    def unchanged_for(self) -> float:
        """Seconds since the observed record last changed (our clock)."""
        return time.monotonic() - self._observed_at

    def observe(self, current: dict[str, Any]) -> bool:
        """Note a Lease as read; True when it is free (no holder, or its record unchanged for a lease period
        of our clock). Called on every read, so expiry always counts from the last change we saw."""
        spec = current.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or self.lease)
        free = not holder or time.monotonic() - self._observed_at >= duration
        self.holder = "" if free else holder
        return free

    async def try_acquire_or_renew(self, current: dict[str, Any] | None = None, *,
                                   meta: dict[str, Any] | None = None) -> bool:
        """One attempt; `current` is the Lease as just listed (None: GET it). A missing Lease is created
        (with `meta`'s labels and annotations)."""
        started = time.monotonic()
        stamp = _micro(dt.datetime.now(dt.UTC))
        if current is None:
            try:
                current = await self.kube.request("GET", self.path, kind="Lease")
            except KubeError as err:
                if err.status != 404:
                    raise
        if current is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {**(meta or {}), "name": self.name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease),
                             "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}}
            try:
                created = await self.kube.request("POST", LEASES.format(ns=self.namespace), body, kind="Lease")
            except KubeError as again:
                if again.status == 409:
                    return False
                raise
            self._won(created, started)
            return True
        spec = dict(current.get("spec") or {})
        holder = str(spec.get("holderIdentity") or "")
        if not self.observe(current) and holder != self.identity:
            self.leading = False
            return False  # someone else holds a lease that has not expired
        if holder != self.identity:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        spec.update({"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease), "renewTime": stamp})
        current["spec"] = spec
        try:
            written = await self.kube.request("PUT", self.path, current, kind="Lease")
        except KubeError as err:
            if err.status == 409:
                self.leading = False  # changed under us: read again before claiming it
                return False
            raise
        self._won(written, started)
        return True

    def _won(self, written: dict[str, Any], started: float) -> None:
        if not self.holds():
            self.terms += 1
        self.observe(written)
        self.leading, self.renewed_at = True, started

    async def release(self) -> None:
        """Stop holding now, then hand the Lease over: holder emptied, so others take it without waiting
        (client-go's ReleaseOnCancel). A failed release is left to expire."""
        self.leading = False
        try:
            current = await self.kube.request("GET", self.path, kind="Lease")
            spec = dict(current.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update({"holderIdentity": "", "leaseDurationSeconds": 1,
                         "renewTime": _micro(dt.datetime.now(dt.UTC))})
            current["spec"] = spec
            self.observe(await self.kube.request("PUT", self.path, current, kind="Lease"))
        except (KubeError, OSError) as err:
            log.warning("cannot release a Lease; it expires instead", extra={"fields": {
                "lease": f"{self.namespace}/{self.name}", "error": str(err)[:200]}})

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True), or until stop (False)."""
        announced = False
        while not stop.is_set():
            try:
                if await self.try_acquire_or_renew():
                    self.leading = True
                    log.info("became leader", extra={"fields": {"lease": f"{self.namespace}/{self.name}",
                                                                "identity": self.identity}})
                    return True
            except (KubeError, OSError) as err:
                log.warning("leader election: cannot reach the Lease", extra={"fields": {"error": str(err)[:200]}})
            if not announced:
                log.info("waiting for leadership", extra={"fields": {"lease": f"{self.namespace}/{self.name}"}})
                announced = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry)
        return False

    async def keep(self, stop: asyncio.Event, lost: Callable[[], None]) -> None:
        """Renew every retry period; past the renew deadline without a renewal, call `lost` and return."""
        renewed = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry)
            if stop.is_set():
                return
            try:
                if await self.try_acquire_or_renew():
                    renewed = time.monotonic()
                    continue
            except (KubeError, OSError) as err:
                log.warning("leader election: renewal failed", extra={"fields": {"error": str(err)[:200]}})
            if time.monotonic() - renewed > self.renew_deadline:
                self.leading = False
                log.error("leader election lost", extra={"fields": {"lease": f"{self.namespace}/{self.name}"}})
                lost()
                return
