"""Faults of issue 12 on the real kube-apiserver (+ OpenBao):

- ours SIGKILLed in the middle of its first sync of a few hundred ExternalSecrets (fake and Vault),
  then started again: every ExternalSecret ends Ready, every Secret carries its whole data, and the
  second run writes only what the first one did not (a Secret watch sees each missing Secret ADDED
  once and no Secret MODIFIED; the ExternalSecrets that were Ready keep their resourceVersion);
- the kube-apiserver process stopped and started again (same etcd, same port) under a running ours,
  on a private cluster: ours reconnects its watches, then syncs a force-synced change and a new
  ExternalSecret; no Secret emptied, no plaintext in its log."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.peers.kube import KubeAPIError, KubeCluster, running_cluster
from tests.peers.vault import VaultServer, start_vault, vault_binary

from .conftest import unique
from .faults_support import create_many, list_es, private_ours, ready_counts
from .support import assert_no_plaintext, b64, get_secret, marker, wait_for
from .test_external_operator import CRD_API, ES_API, crds, eso_crds, fake_store, ready_of  # noqa: F401

pytestmark = pytest.mark.peer("kube")
FAKE_ES, VAULT_ES, VAULT_PATHS, KEYS = 300, 60, 12, 24


class SecretWatch:
    """Every Secret event of a namespace from a resourceVersion on, in a thread (re-watching in
    short windows so it stops within a few seconds of `stop()`)."""

    def __init__(self, cluster: KubeCluster, ns: str, resource_version: str) -> None:
        self.cluster, self.path, self.rv = cluster, f"/api/v1/namespaces/{ns}/secrets", resource_version
        self.events: list[tuple[str, str, str]] = []  # (type, name, resourceVersion)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for ev in self.cluster.watch(self.path, resource_version=self.rv, timeout=2):
                    meta = ev["object"].get("metadata") or {}
                    if ev["type"] == "ERROR":
                        self.errors.append(str(ev["object"].get("message")))
                        continue
                    self.rv = meta.get("resourceVersion") or self.rv
                    self.events.append((ev["type"], meta.get("name", ""), self.rv))
            except OSError as err:  # the apiserver restarting under the watch
                self.errors.append(type(err).__name__)
                time.sleep(0.2)

    def stop(self) -> list[tuple[str, str, str]]:
        self._stop.set()
        self.thread.join(timeout=10)
        return list(self.events)


def secrets_of(cluster: KubeCluster, ns: str) -> tuple[dict[str, dict[str, Any]], str]:
    listing = cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets")
    return {s["metadata"]["name"]: s for s in listing["items"]}, listing["metadata"]["resourceVersion"]


@pytest.fixture
def bao() -> Iterator[VaultServer]:
    if vault_binary() is None:
        pytest.skip("real Vault-API server (OpenBao) missing: run `python -m tests.peers.install`")
    server = start_vault()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------------- killed mid-sync


def test_killed_mid_sync_then_restarted(op_cluster: KubeCluster, crds: None,  # noqa: F811
                                        bao: VaultServer) -> None:
    started = time.monotonic()
    ns = unique("eso-kill")
    op_cluster.ensure_namespace(ns)
    fake_values = {f"/k/{i}": marker(f"fake{i}") for i in range(KEYS)}
    vault_values = {i: (marker(f"a{i}"), marker(f"b{i}")) for i in range(VAULT_PATHS)}
    root = bao.client()
    root.sys.enable_secrets_engine("kv", path="kv-v2", options={"version": "2"})
    for i, (a, b) in vault_values.items():
        root.secrets.kv.v2.create_or_update_secret(path=f"p{i}", secret={"a": a, "b": b}, mount_point="kv-v2")
    op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", fake_store(ns, "fake", fake_values))
    op_cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-token"},
        "data": {"token": b64(bao.root_token)}})
    op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "bao"},
        "spec": {"provider": {"vault": {"server": bao.url, "path": "kv-v2", "version": "v2",
                                        "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}}}}})

    def es(name: str, store: str, data: list[tuple[str, str, str]]) -> dict[str, Any]:
        return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
                "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": store, "kind": "SecretStore"},
                         "data": [{"secretKey": k, "remoteRef": {"key": r, **({"property": p} if p else {})}}
                                  for k, r, p in data]}}

    # the stores validated first (a run of ours that only sees them): a store created with its
    # ExternalSecrets is "not ready" for the first reconciles, in ESO too (flood gate) — not this test's point
    first = private_ours(op_cluster, ns)
    second = private_ours(op_cluster, ns)
    first.start()
    for store in ("fake", "bao"):
        wait_for(f"store {store} Ready", lambda store=store: (ready_of(op_cluster.request(  # type: ignore[misc]
            "GET", f"{ES_API}/namespaces/{ns}/secretstores/{store}")) or {}).get("status") == "True",
                 30, first.log_text)
    first.stop()

    expected: dict[str, dict[str, str]] = {}
    docs: list[dict[str, Any]] = []
    for n in range(FAKE_ES):
        k1, k2 = f"/k/{n % KEYS}", f"/k/{(n + 1) % KEYS}"
        docs.append(es(f"f-{n:03d}", "fake", [("one", k1, ""), ("two", k2, "")]))
        expected[f"f-{n:03d}"] = {"one": b64(fake_values[k1]), "two": b64(fake_values[k2])}
    for n in range(VAULT_ES):
        i = n % VAULT_PATHS
        docs.append(es(f"v-{n:03d}", "bao", [("a", f"p{i}", "a"), ("b", f"p{i}", "b")]))
        expected[f"v-{n:03d}"] = {"a": b64(vault_values[i][0]), "b": b64(vault_values[i][1])}
    create_many(op_cluster, f"{ES_API}/namespaces/{ns}/externalsecrets", docs)
    total = len(docs)

    try:
        first.start()
        ready_at_kill = wait_for("a first sync under way", lambda: (
            lambda r: r if total // 10 <= r < total * 8 // 10 else 0)(ready_counts(op_cluster, ns)[0]),
            60, first.log_text)
        first.proc.kill()  # SIGKILL: no cleanup, writes in flight are cut
        first.proc.wait(10)
        first.proc = None
        time.sleep(0.5)  # requests already sent land
        before, list_rv = secrets_of(op_cluster, ns)
        es_before = {e["metadata"]["name"]: e for e in list_es(op_cluster, ns)}
        ready_before = {n for n, e in es_before.items() if (ready_of(e) or {}).get("status") == "True"}
        managed_before = {n: s for n, s in before.items() if n in expected}
        # nothing half-written: a Secret ours created carries its whole data from its first write
        for name, secret in managed_before.items():
            assert secret.get("data") == expected[name], f"{name} half-written at the kill"
        assert ready_before <= set(managed_before)
        assert len(managed_before) < total, "the first sync had finished before the kill"

        watch = SecretWatch(op_cluster, ns, list_rv)
        t0 = time.monotonic()
        second.start()
        wait_for("every ExternalSecret Ready after the restart",
                 lambda: ready_counts(op_cluster, ns) == (total, total), 60, second.log_text)
        resumed_in = time.monotonic() - t0
        time.sleep(2.0)  # any needless rewrite would come now
        events = watch.stop()

        after, _ = secrets_of(op_cluster, ns)
        for name, data in expected.items():
            assert name in after and after[name].get("data") == data, f"{name}: data not whole after restart"
        assert set(after) - {"vault-token"} == set(expected), "a stray or duplicate Secret"
        writes = Counter((kind, name) for kind, name, _ in events)
        added = {name for (kind, name) in writes if kind == "ADDED"}
        assert added == set(expected) - set(managed_before), "each missing Secret created once, no other"
        assert all(c == 1 for (kind, _), c in writes.items() if kind == "ADDED"), writes
        assert not [k for k in writes if k[0] in ("MODIFIED", "DELETED")], f"needless writes: {writes}"
        for name in managed_before:
            assert after[name]["metadata"]["resourceVersion"] == before[name]["metadata"]["resourceVersion"]
        es_after = {e["metadata"]["name"]: e for e in list_es(op_cluster, ns)}
        rewritten = [n for n in ready_before
                     if es_after[n]["metadata"]["resourceVersion"] != es_before[n]["metadata"]["resourceVersion"]]
        assert not rewritten, f"{len(rewritten)} Ready ExternalSecrets had their status rewritten"
        # no event storm: one "Created" per Secret across both runs, no "Updated", and the
        # warnings a first sync may give (store not validated yet) counted, not repeated
        ev = op_cluster.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]
        reasons: Counter[tuple[str, str]] = Counter()
        for e in ev:
            if e["involvedObject"].get("kind") == "ExternalSecret":
                reasons[(e["involvedObject"]["name"], e["reason"])] += int(e.get("count") or 1)
        by_reason = Counter(reason for (_, reason) in reasons.elements())
        created = Counter(name for (name, reason) in reasons.elements() if reason == "Created")
        assert max(created.values()) == 1, created.most_common(3)
        assert added <= set(created), "a Secret created by the second run without its event"
        assert set(by_reason) == {"Created"}, by_reason
        plaintexts = [*fake_values.values(), *(v for pair in vault_values.values() for v in pair), bao.root_token]
        assert_no_plaintext(plaintexts, first.log_text(), second.log_text(), second.metrics(), str(ev))
        print(f"\nkilled with {ready_at_kill}/{total} Ready ({len(managed_before)} Secrets written); "
              f"restart: {len(added)} created, 0 rewritten, all Ready in {resumed_in:.1f}s; "
              f"events {dict(by_reason)}; test {time.monotonic() - started:.1f}s")
    finally:
        first.stop()
        second.stop()


# ----------------------------------------------------------------------------- apiserver restart


def install_crds(cluster: KubeCluster) -> None:
    docs = [d for d in eso_crds() if d["spec"]["group"] == "external-secrets.io"]
    for doc in docs:
        cluster.request("POST", CRD_API, doc)

    def established() -> bool:
        for doc in docs:
            current = cluster.request("GET", f"{CRD_API}/{doc['metadata']['name']}")
            if not any(c["type"] == "Established" and c["status"] == "True"
                       for c in (current.get("status") or {}).get("conditions") or []):
                return False
        try:
            cluster.request("GET", f"{ES_API}/externalsecrets")
        except KubeAPIError:
            return False
        return True

    wait_for("ESO CRDs established", established, 60)


@pytest.fixture
def own_cluster() -> Iterator[KubeCluster]:
    """A private cluster: its kube-apiserver is restarted, which the session's cluster must not see."""
    with running_cluster() as cluster:
        yield cluster


def test_apiserver_restart_under_a_running_operator(own_cluster: KubeCluster) -> None:
    started = time.monotonic()
    cluster = own_cluster
    install_crds(cluster)
    ns = unique("eso-apirestart")
    cluster.ensure_namespace(ns)
    old, new = marker("old"), marker("new")
    values = {f"/k/{i}": marker(f"k{i}") for i in range(5)} | {"/rotating": old}
    cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", fake_store(ns, "fake", values))

    def es(name: str, key: str) -> dict[str, Any]:
        return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
                "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "fake", "kind": "SecretStore"},
                         "data": [{"secretKey": "v", "remoteRef": {"key": key}}]}}

    docs = [es(f"e-{n:02d}", f"/k/{n % 5}") for n in range(20)] + [es("rot", "/rotating")]
    create_many(cluster, f"{ES_API}/namespaces/{ns}/externalsecrets", docs)
    ours = private_ours(cluster, ns)
    try:
        ours.start()
        wait_for("all Ready", lambda: ready_counts(cluster, ns) == (len(docs), len(docs)), 30, ours.log_text)
        before, _ = secrets_of(cluster, ns)

        t0 = time.monotonic()
        cluster.restart_apiserver(down_seconds=3.0)
        restarted_in = time.monotonic() - t0
        assert ours.proc.poll() is None, "ours died with the apiserver"

        # after the restart: a changed remote value + force-sync, and a new ExternalSecret
        store = cluster.request("GET", f"{ES_API}/namespaces/{ns}/secretstores/fake")
        store["spec"]["provider"]["fake"]["data"] = [{"key": k, "value": new if k == "/rotating" else v}
                                                    for k, v in values.items()]
        cluster.request("PUT", f"{ES_API}/namespaces/{ns}/secretstores/fake", store)
        t1 = time.monotonic()
        cluster.request("PATCH", f"{ES_API}/namespaces/{ns}/externalsecrets/rot",
                        {"metadata": {"annotations": {"force-sync": str(time.time())}}},
                        content_type="application/merge-patch+json")
        cluster.request("POST", f"{ES_API}/namespaces/{ns}/externalsecrets", es("late", "/k/3"))
        wait_for("the force-synced change", lambda: (get_secret(cluster, ns, "rot") or {}).get(
            "data") == {"v": b64(new)}, 45, ours.log_text)
        wait_for("the new ExternalSecret", lambda: (get_secret(cluster, ns, "late") or {}).get(
            "data") == {"v": b64(values["/k/3"])}, 45, ours.log_text)
        wait_for("every ExternalSecret Ready", lambda: ready_counts(cluster, ns) == (len(docs) + 1, len(docs) + 1),
                 30, ours.log_text)
        caught_up_in = time.monotonic() - t1

        after, _ = secrets_of(cluster, ns)
        for name, secret in after.items():
            if name.startswith("e-"):
                assert secret.get("data") == before[name]["data"], f"{name} changed or emptied"
                assert secret["metadata"]["resourceVersion"] == before[name]["metadata"]["resourceVersion"]
        assert set(after) == set(before) | {"late"}
        assert ours.proc.poll() is None
        assert_no_plaintext([*values.values(), new], ours.log_text(), ours.metrics())
        print(f"\napiserver down 3 s, back in {restarted_in:.1f}s; force-sync + new ES synced "
              f"{caught_up_in:.1f}s after; test {time.monotonic() - started:.1f}s")
    finally:
        with contextlib.suppress(Exception):
            ours.stop()
