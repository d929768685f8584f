"""The ExternalSecret controller's runtime: one informer (LIST+WATCH, in memory) per kind — the four
external-secrets.io kinds, Namespaces and the managed Secrets (label-filtered) —, one bounded
de-duplicating two-lane work queue, N workers. No annotation or finalizer is added to users' objects
(ESO v0.16.2 adds none to an ExternalSecret either); workers start only once every informer holds its
first listing, so nothing is reconciled against a half-known cluster.

Not kopf's watches: at 10,000 ExternalSecrets its per-object machinery was the largest cost of the
event loop (see informer.py and bench/RESULTS.md); the sealed controller keeps kopf.

One queue carries four kinds of item: ("ExternalSecret", ns, name), ("SecretStore", ns, name),
("ClusterSecretStore", "", name), ("ClusterExternalSecret", "", name).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from secrets_kit.externalsecrets.hashing import field_manager
from secrets_kit.externalsecrets.refs import READ_MAX_AGE

from ..kube import Kube, KubeError
from ..workqueue import WorkQueue
from . import core as facts
from . import engine
from .events import EventSink
from .informer import Informer
from .kube import WRITE_GUARD, ExternalKube, KubeReadsAdapter, NotOwner, SecretInformer
from .metrics import ExternalMetrics
from .options import ExternalOptions
from .scheduler import Scheduler
from .shards import item_shard

if TYPE_CHECKING:
    from .shards import Sharder

CREATED_BY = "reconcile.external-secrets.io/created-by"
log = logging.getLogger("secrets_kit_operator.external")
Item = tuple[str, str, str]
GROUP, VERSION = "external-secrets.io", "v1"
ES, SS, CSS, CES = "ExternalSecret", "SecretStore", "ClusterSecretStore", "ClusterExternalSecret"
FORCE_SYNC = "force-sync"


_last_stamp = 0


def _next_stamp() -> int:
    """time.time_ns(), strictly increasing within the process (two events in one tick keep distinct names)."""
    global _last_stamp
    _last_stamp = max(time.time_ns(), _last_stamp + 1)
    return _last_stamp


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """managedFields are never read: not worth holding for every object."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    return {**obj, "metadata": meta}


def _namespace(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"metadata": {"name": meta.get("name"), "resourceVersion": meta.get("resourceVersion"),
                         "labels": dict(meta.get("labels") or {})}}


def event_body(obj: dict[str, Any], kind: str, event: Any, now: dt.datetime) -> dict[str, Any]:
    """A core/v1 Event as client-go's recorder writes it (component external-secrets)."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"  # events about cluster-scoped objects: default, as client-go
    stamp = facts.stamp(now)
    return {
        "apiVersion": "v1", "kind": "Event",
        # client-go's name: <object>.<unix nanoseconds, hex> (and no urandom read per event)
        "metadata": {"name": f"{meta['name']}.{_next_stamp():x}", "namespace": namespace},
        "involvedObject": {"apiVersion": obj.get("apiVersion") or f"{GROUP}/{VERSION}", "kind": kind,
                           "name": meta["name"], **({"namespace": meta["namespace"]} if meta.get("namespace") else {}),
                           "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
        "reason": event.reason, "message": event.message, "type": event.type,
        "source": {"component": "external-secrets"}, "reportingComponent": "external-secrets",
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }


class ExternalSecretsController:
    def __init__(self, options: ExternalOptions, kube: Kube | ExternalKube, metrics: ExternalMetrics) -> None:
        self.options, self.metrics = options, metrics
        self.kube = kube if isinstance(kube, ExternalKube) else ExternalKube(
            kube, qps=options.client_qps, burst=options.client_burst, cache_ttl=options.credentials_cache_ttl)
        self.queue: WorkQueue[Item] = WorkQueue(options.queue_size)
        self.scheduler: Scheduler[Item] = Scheduler(self.queue)
        self.secrets = SecretInformer(self.kube, options.namespace, self._secret_changed)
        self.informers = {kind: self._watch(kind, plural, namespaced) for kind, plural, namespaced in (
            (ES, "externalsecrets", True), (SS, "secretstores", True), (CSS, "clustersecretstores", False),
            (CES, "clusterexternalsecrets", False))}
        # Namespaces: their labels, for ClusterExternalSecret selectors
        self.namespaces = Informer(self.kube, "/api/v1/namespaces", kind="Namespace",
                                   on_change=self._namespace_changed, transform=_namespace)
        self.informers["Namespace"] = self.namespaces
        self.events = EventSink(self.kube)
        self.reads = KubeReadsAdapter(self.kube)
        self.clients = engine.store_clients(self.reads, self.metrics, options)
        self.by_target: dict[tuple[str, str], set[str]] = {}  # (ns, secret name) → ES names
        self._targets: dict[tuple[str, str], str] = {}  # (ns, ES name) → its target Secret's name
        # our latest validation of each store (what decides the flood gate, whatever the watch shows yet)
        self._store_ready: dict[Item, bool] = {}
        self._seen_versions: dict[Item, str] = {}
        self._paced: set[Item] = set()  # ExternalSecrets whose refresh timing this process has taken over
        self.ready = asyncio.Event()
        self.reconciled = 0  # reconciles run (tests/bench)
        self.provider_fetches = 0
        self.sharder: Sharder | None = None  # --shards: only objects of held shards are handled
        self._busy: Counter[int] = Counter()  # reconciles in flight per shard
        self._foreign_ready: set[str] = set()  # ClusterSecretStores of other shards seen Ready

    # -- --shards -----------------------------------------------------------------------------------

    def attach(self, sharder: Sharder) -> None:
        self.sharder = sharder
        sharder.on_gained, sharder.on_lost, sharder.drained = self._shard_gained, self._shard_lost, self._drained
        sharder.on_change = self.metrics.shards_held
        self.metrics.shards_held(0)

    def _shard(self, item: Item) -> int | None:
        if self.sharder is None:
            return None
        return item_shard(*item, self.sharder.count)

    def _items_of(self, shard: int) -> list[Item]:
        return [(kind, *key) for kind in (SS, CSS, ES, CES) for key in list(self.informers[kind].items)
                if self._shard((kind, *key)) == shard]

    async def _shard_gained(self, shard: int) -> None:
        """Every object of the shard goes through the queue once: what is not due is only rescheduled
        (status.refreshTime), so taking a shard over costs no provider call for valid Secrets."""
        for item in self._items_of(shard):
            await self.queue.put(item)

    def _shard_lost(self, shard: int) -> None:
        for item in self._items_of(shard):
            self.scheduler.cancel(item)
            self._store_ready.pop(item, None)  # the new owner's validation comes back through the index

    async def _drained(self, shard: int) -> None:
        while self._busy[shard]:
            await asyncio.sleep(0.02)

    async def _foreign(self, item: Item) -> None:
        """An object of a shard we do not hold: nothing is written. A store another replica validated can
        still unpark our ExternalSecrets reading through it (a ClusterSecretStore's shard is by name)."""
        kind, _, name = item
        if kind != CSS:
            return  # a SecretStore's ExternalSecrets share its namespace, hence its shard
        if not facts.is_ready(self.get(CSS, "", name) or {}):
            self._foreign_ready.discard(name)
        elif name not in self._foreign_ready:
            self._foreign_ready.add(name)
            await self._wake_waiting(CSS, "", name)

    # -- watches ------------------------------------------------------------------------------------

    def _watch(self, kind: str, plural: str, namespaced: bool) -> Informer:
        scope = f"/namespaces/{self.options.namespace}" if namespaced and self.options.namespace else ""
        return Informer(self.kube, f"/apis/{GROUP}/{VERSION}{scope}/{plural}", kind=kind,
                        on_change=functools.partial(self._object_changed, kind), transform=_without_managed_fields,
                        report_initial=True)

    async def run_watches(self, stop: asyncio.Event) -> None:
        """Every watch until stop; `ready` once each holds its first listing (nothing is reconciled
        against a half-known cluster)."""
        informers = [self.secrets, *self.informers.values()]
        tasks = [asyncio.create_task(informer.run(stop)) for informer in informers]
        tasks.append(asyncio.create_task(self.events.run()))

        async def all_synced() -> None:
            for informer in informers:
                await informer.synced.wait()

        async def stopped() -> None:
            await stop.wait()

        waits = [asyncio.create_task(all_synced()), asyncio.create_task(stopped())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if not stop.is_set():
                self.ready.set()
            await stop.wait()
        finally:
            for task in (*waits, *tasks):
                task.cancel()
            await asyncio.gather(*waits, *tasks, return_exceptions=True)

    async def _caught_up(self) -> None:
        """After a watch broke (an API server restart), wait until every informer has relisted: an
        ExternalSecret whose watch came back first must not be reconciled against its store's old spec."""
        for informer in (self.secrets, *self.informers.values()):
            if not informer.synced.is_set():
                await informer.synced.wait()

    async def _object_changed(self, kind: str, key: tuple[str, str], obj: dict[str, Any] | None) -> None:
        ns, name = key
        item = (kind, ns, name)
        if kind == ES:
            self._track_target(ns, name, obj, deleted=obj is None)
        if obj is None:
            self.scheduler.cancel(item)
            self._seen_versions.pop(item, None)
            self._store_ready.pop(item, None)
            self._paced.discard(item)
            if kind == ES:
                self.metrics.forget_es(ns, name)
            if kind == CES:
                await self.queue.put(item)  # its ExternalSecrets go with their ownerReferences
            return
        # stores gate their ExternalSecrets, and a never-synced ExternalSecret must not queue behind
        # routine refreshes (ESO #4180): both go ahead
        await self.queue.put(item, urgent=kind != ES or not facts.status_of(obj).get("refreshTime"))

    async def _namespace_changed(self, key: tuple[str, str], obj: dict[str, Any] | None) -> None:
        # a namespace's labels decide ClusterExternalSecret fan-out: re-check every CES
        for ces in list(self.informers[CES].items):
            await self.queue.put((CES, "", ces[1]))

    def _track_target(self, ns: str, name: str, body: Any, *, deleted: bool) -> None:
        before = self._targets.pop((ns, name), None)
        if before is not None:
            names = self.by_target.get((ns, before))
            if names is not None:
                names.discard(name)
                if not names:
                    del self.by_target[(ns, before)]
        if not deleted:
            target = facts.target_name(dict(body))
            self._targets[(ns, name)] = target
            self.by_target.setdefault((ns, target), set()).add(name)

    async def _secret_changed(self, key: tuple[str, str], secret: dict[str, Any] | None) -> None:
        """A managed Secret changed or went away (drift, deletion): reconcile the ExternalSecrets targeting it."""
        for name in sorted(self.by_target.get(key, ())):
            item = (ES, key[0], name)
            if secret is not None and self._seen_versions.get(item) == secret["metadata"].get("resourceVersion"):
                continue  # our own write coming back through the watch
            await self.queue.put(item, urgent=True)  # a Secret deleted or edited: repair before refreshes

    # -- lookups ------------------------------------------------------------------------------------

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.informers[kind].get(namespace, name)
        return None if found is None else dict(found)

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        found = self.namespaces.get("", name)
        return None if found is None else dict(found["metadata"].get("labels") or {})

    def store_for(self, es: dict[str, Any], kind: str, name: str) -> dict[str, Any] | None:
        ns = es["metadata"]["namespace"]
        return self.get(CSS, "", name) if kind == CSS else self.get(SS, ns, name)

    def ours(self, obj: dict[str, Any] | None) -> bool:
        """ESO's ShouldProcessStore: no class, or ours."""
        if obj is None:
            return True
        wanted = str((obj.get("spec") or {}).get("controller") or "")
        return wanted in ("", self.options.controller_class)

    # -- workers ------------------------------------------------------------------------------------

    async def work(self) -> None:
        await self.secrets.synced.wait()
        await self.ready.wait()
        while (item := await self.queue.get()) is not None:
            await self._caught_up()
            shard = self._shard(item)
            guard = None
            try:
                if shard is not None:
                    assert self.sharder is not None
                    if not self.sharder.holds(shard):
                        await self._foreign(item)
                        continue
                    self._busy[shard] += 1
                    guard = WRITE_GUARD.set(functools.partial(self.sharder.holds, shard))
                await self.process(item)
            except NotOwner:  # the shard went to another replica mid-reconcile: it reconciles the object
                log.info("shard lost during a reconcile; left to its new owner",
                         extra={"fields": {"kind": item[0], "object": f"{item[1]}/{item[2]}"}})
            except Exception:  # a bug or an unexpected API answer: logged, retried, never fatal
                log.exception("reconcile failed", extra={"fields": {"kind": item[0], "object": f"{item[1]}/{item[2]}"}})
                self.scheduler.backoff(item, self.options.error_backoff_base, self.options.error_backoff_max)
            finally:
                if guard is not None:
                    WRITE_GUARD.reset(guard)
                    self._busy[shard] -= 1  # type: ignore[index]
                await self.queue.done(item)
            self.metrics.queue_depth.labels("externalsecret").set(len(self.queue))

    async def process(self, item: Item) -> None:
        kind, ns, name = item
        if kind == ES:
            await self.reconcile_es(ns, name)
        elif kind in (SS, CSS):
            await self.reconcile_store(kind, ns, name)
        elif kind == CES:
            await self.reconcile_ces(name)

    # -- ExternalSecret -----------------------------------------------------------------------------

    async def reconcile_es(self, ns: str, name: str) -> None:
        item = (ES, ns, name)
        es = self.get(ES, ns, name)
        if es is None or es["metadata"].get("deletionTimestamp"):
            return
        # skip an ExternalSecret that reads through any store of another controller class (ESO)
        for kind, store_name in facts.store_refs(es):
            if not self.ours(self.store_for(es, kind, store_name)):
                return
        if self.options.enable_flood_gate and self._store_unvalidated(es):
            return  # parked: woken by the store's first validation, not failed and backed off (no write)
        started, now = time.perf_counter(), utcnow()
        self.reconciled += 1
        labels = (name, ns)
        try:
            target = facts.target_name(es)
            existing = self.secrets.get(ns, target)
            if existing is None and facts.creation_policy(es) in ("Merge", "Orphan", "None", "CreateOrMerge"):
                existing = await self.kube.get_secret(ns, target)  # not labelled yet: ask the API
                if existing is not None and ((existing["metadata"].get("labels") or {}).get(
                        "reconcile.external-secrets.io/managed") != "true"):
                    # as ESO's Reconcile: label it first (whatever the sync's outcome), so the informer sees it
                    existing = await self.kube.label_secret_managed(ns, target, field_manager(name))
                    self.secrets.put(existing)
            refresh = engine.needs_refresh(es, existing, now)
            if not refresh.due:
                self._schedule_refresh(item, refresh.next_at, now)
                return
            if refresh.routine and item not in self._paced:
                # overdue when this process first sees it (after a restart or an outage): spread such
                # refreshes over the jitter window instead of firing them all at start-up (ESO #4231)
                self._paced.add(item)
                spread = min(refresh.interval * self.options.refresh_jitter, self.options.refresh_jitter_max)
                self.scheduler.at(item, self.scheduler.rng.uniform(0.0, spread.total_seconds()))
                return
            self._paced.add(item)
            await self._sync(item, es, existing, now)
        finally:
            self.metrics.sync_calls.labels(*labels).inc()
            self.metrics.es_duration.labels(*labels).set((time.perf_counter() - started) * 1e9)

    def _store_unvalidated(self, es: dict[str, Any]) -> bool:
        """A store this ExternalSecret reads through exists but was never validated (no Ready condition,
        none from us yet). At start-up every ExternalSecret would otherwise fail the flood gate, write a
        Ready=False status and wait out a backoff before the store's first validation lands."""
        for kind, store_name in facts.store_refs(es):
            store = self.store_for(es, kind, store_name)
            if store is None:
                continue
            meta = store["metadata"]
            key = (kind, "" if kind == CSS else str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            if key not in self._store_ready and facts.ready_condition(store) is None:
                return True
        return False

    def _schedule_refresh(self, item: Item, next_at: dt.datetime | None, now: dt.datetime) -> None:
        if next_at is None:
            return
        self._paced.add(item)  # its refreshes are timed by this process from now on
        self.scheduler.refresh(item, (next_at - now).total_seconds(), jitter=self.options.refresh_jitter,
                               jitter_max=self.options.refresh_jitter_max.total_seconds())

    async def _sync(self, item: Item, es: dict[str, Any], existing: dict[str, Any] | None,
                    now: dt.datetime) -> None:
        _, ns, name = item
        fetched: Any
        self.provider_fetches += 1
        READ_MAX_AGE.set(engine.read_max_age(es, self.options.provider_read_window))  # this worker's reconcile
        try:
            fetched = await engine.fetch(es, lambda ref: self._client_for(es, ref))
        except Exception as err:  # a ProviderError / ConfigError the plan turns into Ready=False
            if not engine.is_expected_error(err):
                raise
            fetched = err
        sources: dict[tuple[str, str], dict[str, bytes]] = {}
        if not isinstance(fetched, BaseException) and facts.template_from(es):
            try:
                sources = await self._template_sources(es)
            except Exception as err:
                if not engine.is_expected_error(err):
                    raise
                fetched = err
        for attempt in range(3):
            plan = await engine.plan(es, existing, fetched, sources, now, self.options)
            status: dict[str, Any] | None = plan.status if plan.status_changed else None
            events = list(plan.events)
            retry = bool(plan.retry)
            action = "cleanup_orphans"
            try:
                if plan.cleanup_orphans:
                    events += await self._cleanup_orphans(plan.cleanup_orphans)
                action = str(plan.secret_action or "")
                written = await self._write_secret(es, existing, plan)
                break
            except KubeError as err:
                if err.status == 409 and attempt < 2:
                    # our view lagged (an unlabelled Secret of that name, or a newer version): plan again on
                    # what the API holds now, with the data already fetched (no second provider read)
                    existing = await self.kube.get_secret(ns, facts.target_name(es))
                    continue
                log.error("writing the Secret failed", extra={"fields": {
                    "externalsecret": f"{ns}/{name}", "action": action, "status": err.status,
                    "reason": err.reason}})
                failed = engine.write_failed(es, f"{err.status} {err.reason}: {err.message}", now, action)
                status = failed.status if failed.status_changed else None
                events, retry, written = list(failed.events), True, None
                break
        if written is not None:
            self._seen_versions[item] = str(written["metadata"].get("resourceVersion"))
        await self._report(item, es, status, events)
        if retry:
            self.metrics.sync_errors.labels(name, ns).inc()
            delay = self.scheduler.backoff(item, self.options.error_backoff_base,
                                           engine.retry_cap(es, self.options.error_backoff_max))
            log.warning("sync failed; retrying", extra={"fields": {"externalsecret": f"{ns}/{name}",
                                                                   "retry_in_s": round(delay, 1)}})
            return
        if not plan.ready:
            self.metrics.sync_errors.labels(name, ns).inc()
        self.scheduler.succeeded(item)
        if plan.requeue_after:
            self.scheduler.refresh(item, float(plan.requeue_after), jitter=self.options.refresh_jitter,
                                   jitter_max=self.options.refresh_jitter_max.total_seconds())

    async def _cleanup_orphans(self, cleanup: dict[str, Any]) -> list[Any]:
        """Owner: delete other Secrets carrying this ExternalSecret's created-by label (an old target name).
        ESO LISTs the namespace's Secrets by label on every sync; the managed-Secret informer already holds
        them (created-by is only ever set together with managed=true), indexed by that label, so neither a
        LIST nor a scan of every Secret is made."""
        ns, keep = cleanup["namespace"], cleanup["keep"]
        wanted = dict(cleanup.get("labels") or {})
        created_by = wanted.get(CREATED_BY)
        candidates = (self.secrets.lookup((ns, created_by)) if created_by is not None
                      else {key for key in self.secrets.items if key[0] == ns})
        events = []
        for secret_ns, secret_name in sorted(candidates):
            secret = self.secrets.get(secret_ns, secret_name)
            if secret is None or secret_name == keep:
                continue
            labels = secret["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in wanted.items()):
                await self.kube.delete_secret(ns, secret_name)
                self.secrets.drop(ns, secret_name)
                events.append(engine.Event("Normal", "Deleted", "secret deleted because it was orphaned"))
        return events

    async def _client_for(self, es: dict[str, Any], ref: Any) -> Any:
        """The StoreClient for one store reference, with ESO's checks in ESO's order (store found, class,
        ClusterSecretStore conditions, flood gate). Each refusal is a ProviderError the plan reports."""
        from secrets_kit.errors import ProviderError

        if ref is None:
            spec_ref = (es.get("spec") or {}).get("secretStoreRef") or {}
            kind, store_name = str(spec_ref.get("kind") or SS), str(spec_ref.get("name") or "")
        else:
            kind, store_name = str(getattr(ref, "kind", "") or SS), str(ref.name)
        ns = es["metadata"]["namespace"]
        store = self.store_for(es, kind, store_name)
        if store is None:
            raise ProviderError(facts.ERR_GET_STORE.format(kind=kind, name=store_name,
                                                           plural=kind.lower() + "s"))
        if not self.ours(store):
            raise ProviderError(facts.ERR_UNMANAGED_STORE)
        if kind == CSS and not engine.namespace_allowed(store, ns, self.namespace_labels(ns) or {}):
            raise ProviderError(engine.denied_message(store, ns))
        store_key = (kind, "" if kind == CSS else ns, store_name)
        if self.options.enable_flood_gate and not self._store_ready.get(store_key, facts.is_ready(store)):
            raise ProviderError(facts.ERR_STORE_NOT_READY.format(kind=kind, name=store_name))
        client = await self.clients.client_for(store, ns)
        return engine.CountingClient(client, engine.provider_name(store), self.metrics.provider_call)

    async def _template_sources(self, es: dict[str, Any]) -> dict[tuple[str, str], dict[str, bytes]]:
        """ConfigMaps/Secrets `templateFrom` names, read in the ExternalSecret's own namespace only (a
        missing one is left out: the template engine reports it as ESO does)."""
        import base64

        ns = es["metadata"]["namespace"]
        out: dict[tuple[str, str], dict[str, bytes]] = {}
        for kind, name in facts.template_from(es):
            if kind == "ConfigMap":
                found = await self.kube.get_configmap(ns, name)
                if found is not None:
                    out[(kind, name)] = {k: str(v).encode() for k, v in (found.get("data") or {}).items()}
            else:
                secret = await self.kube.get_secret(ns, name)
                if secret is not None:
                    out[(kind, name)] = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        return out

    async def _write_secret(self, es: dict[str, Any], existing: dict[str, Any] | None,
                            plan: Any) -> dict[str, Any] | None:
        action = plan.secret_action
        ns, es_name = es["metadata"]["namespace"], es["metadata"]["name"]
        manager = field_manager(es_name)
        if action is None:
            return None
        if action == "delete":
            name = facts.target_name(es)
            uid = ((existing or {}).get("metadata") or {}).get("uid")
            await self.kube.delete_secret(ns, name, uid=uid)
            self.secrets.drop(ns, name)
            return None
        body = dict(plan.secret)
        meta = dict(body.get("metadata") or {})
        meta.pop("managedFields", None)
        if action == "update" and existing is not None and not meta.get("resourceVersion"):
            meta["resourceVersion"] = existing["metadata"].get("resourceVersion")
        body["metadata"] = meta
        if action == "create":
            written = await self.kube.create_secret(ns, body, manager)
        else:
            written = await self.kube.update_secret(ns, meta["name"], body, manager)
        self.secrets.put(written)
        return written

    async def _report(self, item: Item, obj: dict[str, Any], status: dict[str, Any] | None,
                      events: list[Any]) -> None:
        kind, ns, name = item
        where = {"kind": kind, "object": f"{ns}/{name}" if ns else name}
        for event in events:
            level = logging.INFO if event.type == "Normal" else logging.WARNING
            log.log(level, event.message, extra={"fields": {**where, "reason": event.reason}})
        current = facts.status_of(obj)
        if status is not None and not facts.same_status(current, status):
            try:
                answer = await self.kube.patch_status(kind, ns or None, name, status)
                self.informers[kind].put(answer)  # its watch event, when it comes, is not a change
                current = status
            except KubeError as err:
                log.error("updating the status failed", extra={"fields": {**where, "status": err.status,
                                                                           "reason": err.reason}})
                if err.status == 409:
                    await self.queue.put(item)
        for event in events:
            self.events.record(ns or "default", event_body(obj, kind, event, utcnow()))
        if kind == ES:
            self.metrics.observe_es(ns, name, current)
        elif kind in (SS, CSS):
            self.metrics.observe_store(kind, ns, name, current)
        elif kind == CES:
            self.metrics.observe_ces(name, current)

    # -- SecretStore / ClusterSecretStore ---------------------------------------------------------

    async def reconcile_store(self, kind: str, ns: str, name: str) -> None:
        item = (kind, ns, name)
        store = self.get(kind, ns, name)
        if store is None or not self.ours(store):
            return
        started, now = time.perf_counter(), utcnow()
        status, events, ok = await engine.validate_store(self.clients, store, now)
        was_ready = self._store_ready.get(item, facts.is_ready(store))
        first = item not in self._store_ready and facts.ready_condition(store) is None
        await self._report(item, store, status, events)
        self._store_ready[item] = facts.is_ready({"status": status})
        self.metrics.store_duration[kind].labels(name, ns).set((time.perf_counter() - started) * 1e9)
        if ok:
            self.scheduler.succeeded(item)
            self.scheduler.at(item, engine.store_interval(store, self.options.store_requeue_interval))
        else:
            self.scheduler.backoff(item, self.options.error_backoff_base, self.options.error_backoff_max)
        if first or (not was_ready and self._store_ready[item]):
            await self._wake_waiting(kind, ns, name)  # parked ones, and those the flood gate held back

    async def _wake_waiting(self, kind: str, ns: str, name: str) -> None:
        """A store just became Ready: ExternalSecrets the flood gate held back need not wait for their backoff."""
        for key in list(self.informers[ES].items):
            es = self.get(ES, *key)
            if es is None or facts.is_ready(es):
                continue
            if kind == SS and key[0] != ns:
                continue
            if (kind, name) in facts.store_refs(es):
                await self.queue.put((ES, key[0], key[1]), urgent=True)

    # -- ClusterExternalSecret --------------------------------------------------------------------

    async def reconcile_ces(self, name: str) -> None:
        """ClusterExternalSecret fan-out (the core's plan_fanout): ExternalSecrets created, updated and deleted
        per selected namespace, then the status (namespaces whose write failed are reported failed)."""
        item = (CES, "", name)
        ces = self.get(CES, "", name)
        if ces is None:
            return
        started = time.perf_counter()
        namespaces = [n for key, n in list(self.namespaces.items.items())
                      if self.options.namespace is None or key[1] == self.options.namespace]
        es_name = engine.fanout_es_name(ces)
        existing = {n["metadata"]["name"]: self.get(ES, n["metadata"]["name"], es_name) for n in namespaces}
        try:
            fan = engine.fanout_plan(ces, namespaces, existing)
        except Exception as err:
            if not engine.is_expected_error(err):
                raise
            log.error("ClusterExternalSecret is invalid", extra={"fields": {"clusterexternalsecret": name,
                                                                            "error": str(err)}})
            return
        failed: dict[str, str] = {}
        for body in fan.creates:
            await self._ces_write(failed, body["metadata"]["namespace"],
                                  self.kube.create_object(ES, body["metadata"]["namespace"], body))
        for body in fan.updates:
            meta = body["metadata"]
            await self._ces_write(failed, meta["namespace"],
                                  self.kube.replace_object(ES, meta["namespace"], meta["name"], body))
        for ns, es in fan.deletes:
            if engine.fanout_owned(self.get(ES, ns, es), name):
                await self._ces_write(failed, ns, self.kube.delete_object(ES, ns, es))
        status = fan.status
        if failed:
            provisioned = [ns for ns in status.get("provisionedNamespaces") or [] if ns not in failed]
            for entry in status.get("failedNamespaces") or []:
                failed.setdefault(entry["namespace"], entry.get("reason", ""))
            status = engine.fanout_status(ces, provisioned, failed)
        changed = fan.status_changed or bool(failed)
        await self._report(item, ces, status if changed else None, [])
        self.metrics.ces_duration.labels(name, "").set((time.perf_counter() - started) * 1e9)
        if failed:
            self.scheduler.backoff(item, self.options.error_backoff_base, self.options.error_backoff_max)
        else:
            self.scheduler.succeeded(item)
            if fan.requeue_after:
                self.scheduler.at(item, float(fan.requeue_after))

    async def _ces_write(self, failed: dict[str, str], namespace: str, call: Any) -> None:
        try:
            await call
        except KubeError as err:
            failed[namespace] = f"{err.reason or err.status}: {err.message}"[:200]
            log.error("ClusterExternalSecret fan-out write failed", extra={"fields": {
                "namespace": namespace, "status": err.status, "reason": err.reason}})

    async def close(self) -> None:
        self.scheduler.close()
        await self.queue.close()
        await self.events.drain()
        await self.clients.close()


