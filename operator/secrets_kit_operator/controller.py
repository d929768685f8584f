"""The SealedSecret controller's runtime: kopf low-level handlers feed a de-duplicating work queue,
N workers call the core's reconcile and carry out its plan.

Only `@kopf.index` and `@kopf.on.event` handlers: kopf writes no progress or diff-base annotations
and no finalizers. The indexes are kopf's in-memory view of SealedSecrets and Secrets (one LIST+WATCH
each, no GET per object), and kopf calls the event handlers only once every index holds the initial
listing, so nothing is reconciled against a half-known cluster.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets as _random
from typing import Any

import kopf

from secrets_kit.sealed import reconcile as core

from .keystate import KeyState, utcnow
from .kube import Kube, KubeError
from .metrics import Metrics
from .options import Options
from .selectors import compile_selector

log = logging.getLogger("secrets_kit_operator.sealed")
Key = tuple[str, str]
OWNER_KIND = ("bitnami.com/v1alpha1", "SealedSecret")
MANAGED = "sealedsecrets.bitnami.com/managed"


def _first(index: Any, key: Key) -> dict[str, Any] | None:
    if index is None or key not in index:
        return None
    for value in index[key]:
        return dict(value)
    return None


def event_body(sealed: dict[str, Any], event: Any, now: dt.datetime) -> dict[str, Any]:
    """A core/v1 Event about the SealedSecret, as client-go's recorder writes it (component sealed-secrets)."""
    meta = sealed["metadata"]
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{_random.token_hex(8)}", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta.get("uid"),
                           "resourceVersion": meta.get("resourceVersion")},
        "reason": event.reason, "message": event.message, "type": event.type,
        "source": {"component": "sealed-secrets"}, "reportingComponent": "sealed-secrets",
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }


def _owned_or_managed(secret: dict[str, Any]) -> bool:
    meta = secret.get("metadata") or {}
    if (meta.get("annotations") or {}).get(MANAGED) == "true":
        return True
    return any((ref.get("apiVersion"), ref.get("kind")) == OWNER_KIND and ref.get("controller")
               for ref in meta.get("ownerReferences") or [])


def _synced_false(sealed: dict[str, Any]) -> bool:
    for condition in (sealed.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Synced":
            return condition.get("status") != "True"
    return True


class SealedSecretController:
    def __init__(self, options: Options, kube: Kube, keys: KeyState, metrics: Metrics) -> None:
        self.options, self.kube, self.keys, self.metrics = options, kube, keys, metrics
        from .workqueue import WorkQueue

        self.queue: WorkQueue[Key] = WorkQueue(options.queue_size)
        self.sealed_index: Any = None
        self.secret_index: Any = None
        self.generations: dict[Key, Any] = {}
        self.reconcile_options = core.ReconcileOptions(update_status=options.update_status,
                                                       accept_v1_data=options.accept_v1_data)
        self._matches = compile_selector(options.label_selector)
        self._background: set[asyncio.Task[None]] = set()
        self.reconciled = 0  # reconciles run (for tests/bench: duplicates collapse in the queue)
        keys.on_change.append(self._keys_changed)

    # -- kopf wiring --------------------------------------------------------------------------------

    def register(self, registry: kopf.OperatorRegistry) -> None:
        def selected(labels: Any, **_: Any) -> bool:
            return self._matches(dict(labels))

        # kopf passes every handler its keyword set (plus the indexes by handler name): **kw keeps
        # the signatures honest for mypy without listing what a handler does not use.
        @kopf.index("bitnami.com", "v1alpha1", "sealedsecrets", id="sealedsecrets", registry=registry, when=selected)
        def sealedsecrets(**kw: Any) -> dict[Key, dict[str, Any]]:
            return {(kw["namespace"], kw["name"]): dict(kw["body"])}

        @kopf.index("", "v1", "secrets", id="secrets", registry=registry)
        def secrets(**kw: Any) -> dict[Key, dict[str, Any]]:
            return {(kw["namespace"], kw["name"]): dict(kw["body"])}

        @kopf.on.event("bitnami.com", "v1alpha1", "sealedsecrets", id="sealed_event", registry=registry,
                       when=selected)
        async def sealed_event(**kw: Any) -> None:
            self._capture(kw["sealedsecrets"], kw["secrets"])
            key = (kw["namespace"], kw["name"])
            if kw["type"] == "DELETED":
                # the Secret goes with its ownerReference (the garbage collector's job, as upstream)
                self.generations.pop(key, None)
                self.metrics.forget(*key)
                return
            generation = kw["meta"].get("generation")
            if self.generations.get(key) == generation:
                return  # status or metadata only (our own status write among them): nothing to unseal
            self.generations[key] = generation
            await self.queue.put(key)

        @kopf.on.event("", "v1", "secrets", id="secret_event", registry=registry)
        async def secret_event(**kw: Any) -> None:
            self._capture(kw["sealedsecrets"], kw["secrets"])
            raw = kw["event"].get("object") or dict(kw["body"])
            if self.keys.is_key_secret(raw):
                self.keys.observe(kw["type"], raw)
                return
            if kw["type"] == "DELETED" and not self.options.skip_recreate and _owned_or_managed(raw):
                key = (kw["namespace"], kw["name"])
                if _first(self.sealed_index, key) is not None:
                    log.info("managed Secret deleted: re-creating", extra={"fields": {"secret": f"{key[0]}/{key[1]}"}})
                    await self.queue.put(key)

    def _capture(self, sealed_index: Any, secret_index: Any) -> None:
        self.sealed_index, self.secret_index = sealed_index, secret_index

    def _keys_changed(self) -> None:
        """A new or changed key may open what failed before: queue every SealedSecret not Synced."""
        if self.sealed_index is None:
            return
        failed = [key for key in list(self.sealed_index)
                  if (sealed := _first(self.sealed_index, key)) is not None and _synced_false(sealed)]

        async def requeue() -> None:
            for key in failed:
                await self.queue.put(key)

        task = asyncio.get_running_loop().create_task(requeue())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- workers ------------------------------------------------------------------------------------

    async def work(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                retry = await self.process(key)
            except Exception:  # a bug or an unexpected API answer: logged, retried, never fatal
                log.exception("reconcile failed", extra={"fields": {"sealedsecret": f"{key[0]}/{key[1]}"}})
                retry = True
            finally:
                await self.queue.done(key)
            if retry and self.queue.failures(key) < self.options.max_unseal_retries:
                self.queue.retry_later(key)
            else:
                self.queue.forget(key)

    async def process(self, key: Key) -> bool:
        """Reconcile one SealedSecret; True when a failed API write should be retried."""
        sealed = _first(self.sealed_index, key)
        if sealed is None:
            return False
        existing = _first(self.secret_index, key)
        self.metrics.unseal_requests.inc()
        self.reconciled += 1
        plan = await self._plan(sealed, existing)
        retry = False
        try:
            await self._write(key, plan)
        except KubeError as err:
            if err.status == 409:
                # our view lagged (the Secret exists, or changed): decide again on what the API holds now
                existing = await self.kube.get_secret(*key)
                plan = await self._plan(sealed, existing)
                try:
                    await self._write(key, plan)
                except KubeError as again:
                    plan, retry = self._failed(sealed, again)
            else:
                plan, retry = self._failed(sealed, err)
        await self._report(key, sealed, plan)
        return retry

    async def _plan(self, sealed: dict[str, Any], existing: dict[str, Any] | None) -> Any:
        # RSA and templates are CPU work: off the event loop, so watches and HTTP keep flowing
        return await asyncio.to_thread(core.reconcile, sealed, existing, self.keys.keyring, now=utcnow(),
                                       options=self.reconcile_options)

    async def _write(self, key: Key, plan: Any) -> None:
        ns, name = key
        if plan.action == "create":
            await self.kube.create_secret(ns, plan.secret)
        elif plan.action == "update":
            await self.kube.replace_secret(ns, name, plan.secret)

    def _failed(self, sealed: dict[str, Any], err: KubeError) -> tuple[Any, bool]:
        immutable = core.is_immutable_error(err.message)
        log.error("writing the Secret failed", extra={"fields": {
            "sealedsecret": f"{sealed['metadata']['namespace']}/{sealed['metadata']['name']}",
            "status": err.status, "reason": err.reason}})
        plan = core.write_failed(sealed, err.message, now=utcnow(), immutable=immutable,
                                 options=self.reconcile_options)
        return plan, not immutable

    async def _report(self, key: Key, sealed: dict[str, Any], plan: Any) -> None:
        ns, name = key
        where = {"sealedsecret": f"{ns}/{name}"}
        if plan.error_reason:
            self.metrics.unseal_errors.labels(plan.error_reason, ns).inc()
        if plan.event is not None:
            level = logging.INFO if plan.event.type == "Normal" else logging.WARNING
            log.log(level, plan.event.message, extra={"fields": {**where, "reason": plan.event.reason}})
        status = sealed.get("status")
        if plan.status is not None and self.options.update_status:
            try:
                await self.kube.patch_sealed_status(ns, name, plan.status)
                status = plan.status
            except KubeError as err:
                self.metrics.unseal_errors.labels("status", ns).inc()
                log.error("updating the SealedSecret status failed",
                          extra={"fields": {**where, "status": err.status, "reason": err.reason}})
        if plan.event is not None:
            try:
                await self.kube.post_event(ns, event_body(sealed, plan.event, utcnow()))
            except KubeError as err:
                log.error("posting an event failed", extra={"fields": {**where, "status": err.status}})
        self.metrics.observe_conditions(sealed, status)
