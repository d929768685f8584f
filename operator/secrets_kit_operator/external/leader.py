"""--enable-leader-election: client-go's Lease lock (coordination.k8s.io/v1), id
`external-secrets-controller` as ESO, lease 15 s, renew deadline 10 s, retry 2 s.

A replica reconciles only while it holds the Lease. Expiry is judged as client-go does, on the local
clock: a record (holder, renewTime) not seen to change for leaseDurationSeconds is expired, whatever
the other replica's clock says. A leader that cannot renew within the deadline stops the process (as
controller-runtime exits), so two replicas never reconcile at once for longer than the lease.
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


class LeaderElector:
    def __init__(self, kube: ExternalKube, namespace: str, name: str, *, lease: float = 15.0,
                 renew_deadline: float = 10.0, retry: float = 2.0, identity: str | None = None) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.lease, self.renew_deadline, self.retry = lease, renew_deadline, retry
        self.identity = identity or f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4()}"
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.leading = False

    @property
    def path(self) -> str:
        return LEASES.format(ns=self.namespace) + f"/{self.name}"

    async def try_acquire_or_renew(self) -> bool:
        now = dt.datetime.now(dt.UTC)
        stamp = _micro(now)
        try:
            current = await self.kube.request("GET", self.path, kind="Lease")
        except KubeError as err:
            if err.status != 404:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease),
                             "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}}
            try:
                await self.kube.request("POST", LEASES.format(ns=self.namespace), body, kind="Lease")
            except KubeError as again:
                if again.status == 409:
                    return False
                raise
            return True
        spec = dict(current.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("leaseDurationSeconds"))
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or self.lease)
        if holder and holder != self.identity and time.monotonic() - self._observed_at < duration:
            return False  # someone else holds a lease that has not expired
        if holder != self.identity:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        spec.update({"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease), "renewTime": stamp})
        current["spec"] = spec
        try:
            await self.kube.request("PUT", self.path, current, kind="Lease")
        except KubeError as err:
            if err.status == 409:
                return False
            raise
        return True

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
