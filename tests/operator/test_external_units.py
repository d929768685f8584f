"""The ExternalSecret controller's runtime without a cluster: the reconcile flow against an in-memory API
(create, then zero writes; a provider error leaves the Secret alone and backs off; missing and foreign
stores), the jittered scheduler, the token bucket, the Secret slimming and the CLI's flags."""

from __future__ import annotations

import asyncio
import base64
import copy
import random
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("kopf")

from secrets_kit_operator.external.controller import ES, SS, ExternalSecretsController
from secrets_kit_operator.external.kube import ExternalKube, slim_secret
from secrets_kit_operator.external.metrics import ExternalMetrics
from secrets_kit_operator.external.options import ExternalOptions
from secrets_kit_operator.external.scheduler import Scheduler
from secrets_kit_operator.kube import KubeError
from secrets_kit_operator.workqueue import WorkQueue


class FakeApi(ExternalKube):
    """An in-memory API server for the few paths the controller calls; counts every call."""

    def __init__(self) -> None:
        super().__init__(kube=None)  # type: ignore[arg-type]
        self.objects: dict[str, dict[str, Any]] = {}
        self.version = 100
        self.log: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, body: Any = None, *, kind: str,
                      query: dict[str, str] | None = None, content_type: str = "application/json") -> dict[str, Any]:
        self.calls[f"{method} {kind}"] += 1
        self.log.append((method, path))
        if method == "GET":
            if path not in self.objects:
                raise KubeError(method, path, 404, "NotFound", "not found")
            return copy.deepcopy(self.objects[path])
        if method == "POST":
            name = body["metadata"]["name"]
            full = f"{path}/{name}"
            if full in self.objects and kind != "Event":
                raise KubeError(method, path, 409, "AlreadyExists", "exists")
            return self._store(full, body, query)
        if method == "PUT":
            return self._store(path, body, query)
        if method == "PATCH":
            target = path.removesuffix("/status")
            current = self.objects[target]
            current["status"] = body["status"]
            return self._store(target, current, None)
        if method == "DELETE":
            self.objects.pop(path, None)
            return {}
        raise AssertionError(method)

    def _store(self, path: str, body: dict[str, Any], query: dict[str, str] | None) -> dict[str, Any]:
        self.version += 1
        doc = copy.deepcopy(body)
        meta = doc.setdefault("metadata", {})
        meta["resourceVersion"] = str(self.version)
        meta.setdefault("uid", f"uid-{self.version}")
        if query and query.get("fieldManager") and doc.get("kind") == "Secret":
            meta["managedFields"] = [{"manager": query["fieldManager"], "operation": "Update",
                                      "fieldsType": "FieldsV1",
                                      "fieldsV1": {"f:data": {f"f:{k}": {} for k in doc.get("data") or {}}}}]
        self.objects[path] = doc
        return copy.deepcopy(doc)


def store(ns: str, data: dict[str, str], ready: bool | None = True) -> dict[str, Any]:
    """ready None: never validated (no status yet)."""
    doc: dict[str, Any] = {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
                           "metadata": {"name": "fake", "namespace": ns, "uid": "s1", "generation": 1},
                           "spec": {"provider": {"fake": {"data": [{"key": k, "value": v} for k, v in data.items()]}}}}
    if ready is not None:
        doc["status"] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                         "reason": "Valid" if ready else "InvalidProviderConfig",
                                         "message": "store validated" if ready else "unable to validate store"}]}
    return doc


def es(ns: str, name: str = "app", store_name: str = "fake") -> dict[str, Any]:
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": ns, "uid": "e1", "generation": 1, "resourceVersion": "1"},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": store_name, "kind": "SecretStore"},
                     "target": {"name": name}, "data": [{"secretKey": "pw", "remoteRef": {"key": "/pw"}}]}}


def controller(api: FakeApi, **options: Any) -> ExternalSecretsController:
    return ExternalSecretsController(ExternalOptions(**options), api, ExternalMetrics(process=False))


def put(ctl: ExternalSecretsController, kind: str, doc: dict[str, Any]) -> None:
    ctl.informers[kind].items[(doc["metadata"].get("namespace", ""), doc["metadata"]["name"])] = doc


def refresh_es(ctl: ExternalSecretsController, api: FakeApi, ns: str, name: str = "app") -> None:
    """What the watch would deliver: the ExternalSecret as the API now holds it."""
    current = api.objects.get(f"/apis/external-secrets.io/v1/namespaces/{ns}/externalsecrets/{name}")
    if current is not None:
        put(ctl, ES, current)


def test_create_then_nothing_is_written() -> None:
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        put(ctl, SS, store("a", {"/pw": "s3cret"}))
        body = es("a")
        api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"] = body
        put(ctl, ES, body)
        await ctl.reconcile_es("a", "app")
        await ctl.events.drain()
        secret = api.objects["/api/v1/namespaces/a/secrets/app"]
        assert base64.b64decode(secret["data"]["pw"]) == b"s3cret"
        assert secret["metadata"]["labels"]["reconcile.external-secrets.io/managed"] == "true"
        assert api.writes("Secret") == 1 and api.writes("ExternalSecret") == 1 and api.writes("Event") == 1
        status = api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"]["status"]
        assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
            ("Ready", "True", "SecretSynced")]
        assert len(ctl.scheduler) == 1  # the next refresh is scheduled
        text = ctl.metrics.exposition().decode()
        assert 'externalsecret_provider_api_calls_count{call="GetSecret",provider="Fake",status="success"} 1.0' in text
        assert 'externalsecret_sync_calls_total{name="app",namespace="a"} 1.0' in text
        assert 'externalsecret_status_condition{condition="Ready",name="app",namespace="a",status="True"} 1.0' in text
        assert "externalsecret_sync_calls_error{" not in text
        refresh_es(ctl, api, "a")
        before = sum(api.calls.values())
        for _ in range(3):
            await ctl.reconcile_es("a", "app")
            await ctl.events.drain()
        assert sum(api.calls.values()) == before, "a reconcile that is not due made API calls"
        ctl.scheduler.close()

    asyncio.run(main())


def test_provider_error_leaves_the_secret_and_backs_off() -> None:
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        put(ctl, SS, store("a", {"/other": "x"}))
        body = es("a")
        api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"] = body
        put(ctl, ES, body)
        await ctl.reconcile_es("a", "app")
        await ctl.events.drain()
        assert "/api/v1/namespaces/a/secrets/app" not in api.objects
        status = api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"]["status"]
        ready = status["conditions"][-1]
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "False", "SecretSyncedError", "could not get secret data from provider")
        assert ctl.scheduler.failures(("ExternalSecret", "a", "app")) == 1
        assert 'externalsecret_sync_calls_error{name="app",namespace="a"} 1.0' in ctl.metrics.exposition().decode()
        events = [o for p, o in api.objects.items() if "/events/" in p]
        assert [e["reason"] for e in events] == ["UpdateFailed"] and events[0]["type"] == "Warning"
        ctl.scheduler.close()

    asyncio.run(main())


def test_an_externalsecret_waits_for_its_stores_first_validation_without_writing() -> None:
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        put(ctl, SS, store("a", {"/pw": "v"}, ready=None))
        api.objects["/apis/external-secrets.io/v1/namespaces/a/secretstores/fake"] = store("a", {"/pw": "v"}, ready=None)
        body = es("a")
        api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"] = body
        put(ctl, ES, body)
        await ctl.reconcile_es("a", "app")  # parked: no Secret, no status, no event
        await ctl.events.drain()
        assert not [p for p in api.objects if "/secrets/" in p or "/events/" in p]
        assert "status" not in api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"]
        await ctl.reconcile_store(SS, "a", "fake")  # the first validation wakes it
        await ctl.events.drain()
        assert (ES, "a", "app") in ctl.queue
        ctl.scheduler.close()

    asyncio.run(main())


@pytest.mark.parametrize(("store_ns", "ready", "message"), [
    ("b", True, 'could not get SecretStore "fake"'),  # only another namespace has it
    ("a", False, 'SecretStore "fake" is not ready'),  # flood gate
])
def test_store_refusals(store_ns: str, ready: bool, message: str) -> None:
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        put(ctl, SS, store(store_ns, {"/pw": "v"}, ready=ready))
        body = es("a")
        api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"] = body
        put(ctl, ES, body)
        await ctl.reconcile_es("a", "app")
        await ctl.events.drain()
        assert "/api/v1/namespaces/a/secrets/app" not in api.objects
        events = [o for p, o in api.objects.items() if "/events/" in p]
        assert events and message in events[0]["message"], events
        ctl.scheduler.close()

    asyncio.run(main())


def test_an_es_of_another_controller_class_is_left_alone() -> None:
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        other = store("a", {"/pw": "v"})
        other["spec"]["controller"] = "other"
        put(ctl, SS, other)
        put(ctl, ES, es("a"))
        await ctl.reconcile_es("a", "app")
        await ctl.events.drain()
        assert sum(api.calls.values()) == 0

    asyncio.run(main())


def test_scheduler_jitter_never_early_and_keeps_the_earliest() -> None:
    async def main() -> None:
        queue: WorkQueue[str] = WorkQueue()
        sched: Scheduler[str] = Scheduler(queue, rng=random.Random(1))
        delays = [sched.refresh(f"k{i}", 100.0, jitter=0.1, jitter_max=300) for i in range(50)]
        assert all(100.0 <= d <= 110.0 for d in delays) and len(set(delays)) > 40
        assert sched.at("k0", 5.0) == 5.0  # sooner wins
        assert sched.at("k0", 50.0) <= 5.0  # later does not postpone
        first = []
        for _ in range(12):
            first.append(sched.backoff("x", 1.0, 420.0))
            sched._timers.pop("x")[1].cancel()  # as if it fired
        assert first[0] <= 1.0 and max(first) <= 420.0 and first[-1] >= 210.0
        assert first == sorted(first[:9]) + first[9:]  # grows until the cap
        sched.close()

    asyncio.run(main())


def test_urgent_keys_are_handed_out_before_routine_ones() -> None:
    async def main() -> None:
        queue: WorkQueue[str] = WorkQueue()
        for i in range(5):
            await queue.put(f"refresh{i}")
        await queue.put("new", urgent=True)
        await queue.put("refresh3", urgent=True)  # a waiting routine key made urgent moves ahead
        await queue.put("new")  # a routine put never demotes it
        assert len(queue) == 6
        order = [await queue.get() for _ in range(6)]
        assert order == ["new", "refresh3", "refresh0", "refresh1", "refresh2", "refresh4"]
        for key in order:
            await queue.done(key)
        await queue.put("x")
        held = await queue.get()
        await queue.put("y")
        await queue.put("x", urgent=True)  # held by a worker: again after it, urgent
        await queue.done(held)
        assert await queue.get() == "x"

    asyncio.run(main())


def test_overdue_refreshes_seen_first_are_spread_not_fired_together() -> None:
    """After a restart, ExternalSecrets not due cost nothing; overdue ones (Secret valid) wait a random
    part of the jitter window first; a never-synced one syncs at once."""
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        ctl.scheduler.rng = random.Random(3)
        put(ctl, SS, store("a", {"/pw": "s3cret"}))
        for name in ("due1", "due2", "due3", "fresh"):
            body = es("a", name)
            api.objects[f"/apis/external-secrets.io/v1/namespaces/a/externalsecrets/{name}"] = body
            put(ctl, ES, body)
            await ctl.reconcile_es("a", name)
            await ctl.events.drain()
            refresh_es(ctl, api, "a", name)
        ctl.scheduler.close()
        restarted = controller(api)
        restarted.scheduler.rng = random.Random(4)
        put(restarted, SS, store("a", {"/pw": "s3cret"}))
        for name in ("due1", "due2", "due3", "fresh"):
            path = f"/apis/external-secrets.io/v1/namespaces/a/externalsecrets/{name}"
            if name != "fresh":  # refreshed two hours ago: overdue (refreshInterval 1h)
                api.objects[path]["status"]["refreshTime"] = "2000-01-01T00:00:00Z"
            put(restarted, ES, api.objects[path])
            secret = api.objects[f"/api/v1/namespaces/a/secrets/{name}"]
            restarted.secrets.put(secret)
        body = es("a", "never")
        api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/never"] = body
        put(restarted, ES, body)
        fetches = restarted.provider_fetches
        for name in ("due1", "due2", "due3", "fresh"):
            await restarted.reconcile_es("a", name)
        assert restarted.provider_fetches == fetches, "a restart read the provider for a valid Secret"
        delays = {name: restarted.scheduler._timers[(ES, "a", name)][0] - asyncio.get_running_loop().time()
                  for name in ("due1", "due2", "due3", "fresh")}
        assert all(0 <= delays[n] <= 300 for n in ("due1", "due2", "due3")), delays  # 10% of 1h, capped at 5 min
        assert len({round(delays[n]) for n in ("due1", "due2", "due3")}) == 3, delays
        assert delays["fresh"] > 3000  # not due: its next refresh, about an hour away
        await restarted.reconcile_es("a", "never")
        assert restarted.provider_fetches == fetches + 1
        await restarted.reconcile_es("a", "due1")  # the spread timer fired: now it refreshes
        assert restarted.provider_fetches == fetches + 2
        restarted.scheduler.close()

    asyncio.run(main())


def test_the_secret_informer_indexes_secrets_by_their_created_by_label() -> None:
    from secrets_kit_operator.external.kube import SecretInformer

    async def changed(*_: Any) -> None:
        pass

    informer = SecretInformer(FakeApi(), None, changed)

    def secret(ns: str, name: str, owner: str | None, managed: bool = True) -> dict[str, Any]:
        labels = {"reconcile.external-secrets.io/managed": "true"} if managed else {}
        if owner:
            labels["reconcile.external-secrets.io/created-by"] = owner
        return {"metadata": {"namespace": ns, "name": name, "labels": labels, "resourceVersion": "1"}}

    informer.put(secret("a", "old", "h1"))
    informer.put(secret("a", "new", "h1"))
    informer.put(secret("b", "other", "h1"))
    informer.put(secret("a", "unmanaged", "h1", managed=False))  # not what the informer holds
    assert informer.lookup(("a", "h1")) == {("a", "old"), ("a", "new")}
    informer.put(secret("a", "old", "h2"))  # relabelled: moves
    assert informer.lookup(("a", "h1")) == {("a", "new")} and informer.lookup(("a", "h2")) == {("a", "old")}
    informer.drop("a", "new")
    assert informer.lookup(("a", "h1")) == set() and ("a", "h1") not in informer.indexed


def test_slim_secret_keeps_only_what_reconcile_reads() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"a": "YQ=="},
              "metadata": {"name": "s", "namespace": "n", "uid": "u", "resourceVersion": "7",
                           "labels": {"l": "1"}, "annotations": {"x": "y"}, "creationTimestamp": "t",
                           "managedFields": [{"manager": "kubectl"},
                                             {"manager": "externalsecrets.external-secrets.io/app",
                                              "operation": "Update", "time": "t", "fieldsV1": {
                                                  "f:data": {".": {}, "f:a": {}}, "f:type": {},
                                                  "f:metadata": {"f:labels": {".": {}, "f:l": {}},
                                                                 "f:ownerReferences": {".": {}}}}}]}}
    slim = slim_secret(secret)
    assert "creationTimestamp" not in slim["metadata"]
    assert slim["metadata"]["managedFields"] == [{"manager": "externalsecrets.external-secrets.io/app", "fieldsV1": {
        "f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:l": {}}}}}]
    from secrets_kit.externalsecrets.managed_fields import managed_keys

    assert managed_keys(slim, "app") == managed_keys(secret, "app")
    assert (managed_keys(slim, "app").data, managed_keys(slim, "app").labels) == ({"a"}, {"l"})
    assert slim["data"] == {"a": "YQ=="} and slim["type"] == "Opaque"


def test_token_bucket_limits_the_rate() -> None:
    from secrets_kit_operator.external.kube import TokenBucket

    async def main() -> float:
        bucket = TokenBucket(qps=50, burst=5)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(15):
            await bucket.take()
        return loop.time() - start

    elapsed = asyncio.run(main())
    assert 0.15 <= elapsed < 1.0  # 5 at once, then 10 at 50/s


def test_cli_flags() -> None:
    from secrets_kit_cli.commands.operator import operator

    runner = CliRunner()
    helptext = runner.invoke(operator, ["run", "--help"]).output
    for flag in ("--external-secrets", "--controller-class", "--concurrent", "--client-qps", "--client-burst",
                 "--metrics-addr", "--enable-leader-election", "--store-requeue-interval", "--enable-flood-gate",
                 "--template-left-delimiter", "--template-right-delimiter", "--refresh-jitter",
                 "--refresh-jitter-max"):
        assert flag in helptext, flag
    assert "not built yet" not in helptext
    refused = runner.invoke(operator, ["run", "--external-secrets", "--enable-leader-election"])
    assert refused.exit_code != 0 and "--no-sealed-secrets" in refused.output  # not with the sealed controller
    bad = runner.invoke(operator, ["run", "--external-secrets", "--no-sealed-secrets", "--store-requeue-interval",
                                   "5 minutes"])
    assert bad.exit_code != 0 and "--store-requeue-interval" in bad.output
    for flag, value in (("--refresh-jitter", "1.5"), ("--refresh-jitter-max", "soon")):
        wrong = runner.invoke(operator, ["run", "--external-secrets", "--no-sealed-secrets", flag, value])
        assert wrong.exit_code != 0 and flag in wrong.output, (flag, wrong.output)
    nothing = runner.invoke(operator, ["run", "--no-sealed-secrets"])
    assert nothing.exit_code != 0 and "nothing to run" in nothing.output


def test_an_unlabelled_secret_of_that_name_is_taken_over_after_a_conflict() -> None:
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        put(ctl, SS, store("a", {"/pw": "new"}))
        api.objects["/api/v1/namespaces/a/secrets/app"] = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"pw": "b2xk"},
            "metadata": {"name": "app", "namespace": "a", "uid": "old", "resourceVersion": "5"}}
        body = es("a")
        api.objects["/apis/external-secrets.io/v1/namespaces/a/externalsecrets/app"] = body
        put(ctl, ES, body)
        await ctl.reconcile_es("a", "app")
        await ctl.events.drain()
        secret = api.objects["/api/v1/namespaces/a/secrets/app"]
        assert secret["metadata"]["uid"] == "old" and base64.b64decode(secret["data"]["pw"]) == b"new"
        assert api.calls["POST Secret"] == 1 and api.calls["PUT Secret"] == 1  # one conflict, then an update
        assert api.calls["GET SecretStore"] == 0  # stores come from the index
        ctl.scheduler.close()

    asyncio.run(main())


def test_read_max_age_is_fresh_after_a_failure_or_a_force_sync() -> None:
    from secrets_kit_operator.external.engine import read_max_age

    from secrets_kit.externalsecrets.hashing import synced_resource_version

    meta = {"name": "app", "namespace": "a", "generation": 1, "annotations": {}}
    ready = {"type": "Ready", "status": "True", "reason": "SecretSynced"}
    synced = {"syncedResourceVersion": synced_resource_version(meta), "conditions": [ready]}
    spec = {"refreshInterval": "10s"}
    assert read_max_age({"metadata": meta, "spec": spec}, 30.0) == 30.0  # first sync: the burst window
    assert read_max_age({"metadata": meta, "spec": spec, "status": synced}, 30.0) == 5.0  # periodic: ≤ half
    failed = {**synced, "conditions": [{**ready, "status": "False"}]}
    assert read_max_age({"metadata": meta, "spec": spec, "status": failed}, 30.0) == 0.0
    forced = {**meta, "annotations": {"force-sync": "1"}}
    assert read_max_age({"metadata": forced, "spec": spec, "status": synced}, 30.0) == 0.0


def test_metrics_are_written_under_esos_names_and_types() -> None:
    """Every series belongs to a family of its own name with ESO's type (Prometheus's parser agrees), labels
    sorted and escaped, no `_created` series; a forgotten ExternalSecret leaves no series behind."""
    from prometheus_client.parser import text_string_to_metric_families

    metrics = ExternalMetrics(process=False)
    metrics.provider_call("Fake", "GetSecret", True)
    metrics.sync_calls.labels('we"ird\\name', "ns").inc()
    metrics.sync_errors.labels("app", "ns").inc()
    metrics.observe_es("ns", "app", {"conditions": [{"type": "Ready", "status": "True"}]})
    text = metrics.exposition().decode()
    types = {f.name: f.type for f in text_string_to_metric_families(text) for _ in f.samples}
    assert types == {"externalsecret_provider_api_calls_count": "counter", "externalsecret_sync_calls": "counter",
                     "externalsecret_sync_calls_error": "counter", "externalsecret_status_condition": "gauge"}, types
    assert "_created" not in text
    assert 'externalsecret_sync_calls_total{name="we\\"ird\\\\name",namespace="ns"} 1.0' in text
    metrics.forget_es("ns", "app")
    assert 'name="app"' not in metrics.exposition().decode()


def test_reconciles_wait_while_an_informer_relists() -> None:
    """After a watch broke, no object is reconciled until every informer has its relist (an ExternalSecret
    whose watch came back first would otherwise be synced against its store's old spec)."""
    async def main() -> None:
        api = FakeApi()
        ctl = controller(api)
        done: list[Any] = []

        async def process(item: Any) -> None:
            done.append(item)

        ctl.process = process  # type: ignore[method-assign]
        for informer in (ctl.secrets, *ctl.informers.values()):
            informer.synced.set()
        ctl.ready.set()
        ctl.informers[SS].synced.clear()  # the SecretStore watch is relisting
        worker = asyncio.create_task(ctl.work())
        await ctl.queue.put((ES, "a", "app"))
        await asyncio.sleep(0.05)
        assert done == []
        ctl.informers[SS].synced.set()
        await asyncio.sleep(0.05)
        assert done == [(ES, "a", "app")]
        await ctl.queue.close()
        await worker

    asyncio.run(main())


def test_a_relist_after_a_broken_watch_reports_what_changed_meanwhile() -> None:
    """The managed-Secret informer reports nothing for its first listing, but after a watch broke (its
    `synced` cleared) the relist reports a Secret deleted meanwhile, so the ExternalSecret repairs it."""
    from secrets_kit_operator.external.kube import SecretInformer

    class Lists:
        def __init__(self) -> None:
            self.pages: list[list[dict[str, Any]]] = []

        async def request(self, method: str, path: str, body: Any = None, *, kind: str,
                          query: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
            return {"metadata": {"resourceVersion": "9"}, "items": self.pages.pop(0)}

    def secret(name: str, version: str) -> dict[str, Any]:
        return {"metadata": {"namespace": "a", "name": name, "resourceVersion": version,
                             "labels": {"reconcile.external-secrets.io/managed": "true"}}}

    async def main() -> None:
        api = Lists()
        seen: list[tuple[Any, bool]] = []

        async def changed(key: Any, obj: Any) -> None:
            seen.append((key, obj is None))

        informer = SecretInformer(api, "a", changed)  # type: ignore[arg-type]
        api.pages = [[secret("kept", "1"), secret("gone", "2")], [secret("kept", "1")]]
        await informer._list()
        informer.synced.set()
        assert seen == []
        informer.synced.clear()  # the watch broke
        await informer._list()
        assert seen == [(("a", "gone"), True)]

    asyncio.run(main())
