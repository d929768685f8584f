"""`secrets-kit operator run --external-secrets --no-sealed-secrets` on a real kube-apiserver with ESO
v0.16.2's own CRDs (from the Go module cache) and the `fake` provider: the Secret ESO would write
(labels, annotations, ownerReference), Ready statuses, no kopf marks or finalizers on ExternalSecrets,
zero writes when nothing changed, force-sync, re-creation of a deleted managed Secret, refused
cross-namespace store references, and no plaintext in any log, event, status or metric."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.peers.kube import (
    KubeAPIError,
    KubeCluster,
    free_port,
    scratch_dir,
    start_process,
    stop_child,
    wait_until_ready,
)
from tests.peers.our_operator import _env, secrets_kit_binary

from .conftest import unique
from .support import KOPF_MARKS, assert_no_plaintext, b64, get_secret, marker, wait_for

pytestmark = pytest.mark.peer("kube")
ES_API = "/apis/external-secrets.io/v1"
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
ESO_MODULE = "github.com/external-secrets/external-secrets@v0.16.2"
MANAGED, CREATED_BY = "reconcile.external-secrets.io/managed", "reconcile.external-secrets.io/created-by"
DATA_HASH = "reconcile.external-secrets.io/data-hash"
PLAINTEXTS: list[str] = []


def value(what: str) -> str:
    text = marker(what)
    PLAINTEXTS.append(text)
    return text


def go_hash(text: str) -> str:
    """ESO's ObjectHash: hex(sha3-224(fmt %+v)) — written here, not taken from the core."""
    return hashlib.sha3_224(text.encode()).hexdigest()


def data_hash(data: dict[str, bytes]) -> str:
    inner = " ".join(f"{k}:[{' '.join(str(b) for b in data[k])}]" for k in sorted(data))
    return go_hash(f"map[{inner}]")


# ------------------------------------------------------------------------------------------ the CRDs


def eso_crds() -> list[dict[str, Any]]:
    """ESO v0.16.2's CRDs from the Go module cache (tests.peers.eso's loader)."""
    try:
        from tests.peers.eso import upstream_crds  # type: ignore[import-not-found,unused-ignore]

        return list(upstream_crds())
    except ImportError:
        pass
    import subprocess

    from secrets_kit.k8s.manifests import load_documents

    done = subprocess.run(["go", "mod", "download", "-json", ESO_MODULE], capture_output=True, text=True,
                          timeout=600, env={**_env(), "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-400:] or done.stdout[-400:])
    folder = Path(json.loads(done.stdout)["Dir"]) / "config" / "crds" / "bases"
    docs: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        docs += [dict(d) for d in load_documents(path.read_bytes(), source=str(path))
                 if d.get("kind") == "CustomResourceDefinition"]
    return docs


@pytest.fixture(scope="module")
def crds(op_cluster: KubeCluster) -> None:
    install_eso_crds(op_cluster)


def install_eso_crds(op_cluster: KubeCluster) -> None:
    """ESO's external-secrets.io CRDs on a cluster, established (skips without the Go module cache)."""
    try:
        docs = eso_crds()
    except (RuntimeError, OSError, KeyError, ValueError) as err:
        pytest.skip(f"ESO v0.16.2 CRDs not available from the Go module cache: {err}")
    wanted = {d["metadata"]["name"] for d in docs if d["spec"]["group"] == "external-secrets.io"}
    for doc in docs:
        if doc["spec"]["group"] != "external-secrets.io":
            continue
        with contextlib.suppress(KubeAPIError):
            op_cluster.request("POST", CRD_API, doc)

    def established() -> bool:
        for name in wanted:
            current = op_cluster.request("GET", f"{CRD_API}/{name}")
            if not any(c["type"] == "Established" and c["status"] == "True"
                       for c in (current.get("status") or {}).get("conditions") or []):
                return False
        try:
            op_cluster.request("GET", f"{ES_API}/externalsecrets")
            op_cluster.request("GET", f"{ES_API}/clusterexternalsecrets")
        except KubeAPIError:
            return False
        return True

    wait_for("ESO CRDs established", established, 60)


# ------------------------------------------------------------------------------------------ ours


@dataclass
class Ours:
    cluster: KubeCluster
    args: list[str]
    port: int
    log_file: Path
    proc: Any = field(default=None)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> None:
        self.proc = start_process(self.args, self.log_file, env=_env())
        wait_until_ready(self.ready, "secrets-kit operator --external-secrets", self.proc, self.log_file, timeout=90)

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as resp:
            return str(resp.read().decode())

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def sync_calls(self, ns: str, name: str) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("externalsecret_sync_calls_total{") and f'name="{name}"' in line \
                    and f'namespace="{ns}"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture(scope="module")
def ours(op_cluster: KubeCluster, crds: None) -> Iterator[Ours]:
    workdir = scratch_dir("secrets-kit-eso-runtime-")
    port = free_port()
    args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
            "--kubeconfig", str(op_cluster.kubeconfig), f"--metrics-addr=127.0.0.1:{port}", "--log-format=json"]
    controller = Ours(op_cluster, args, port, workdir / "operator.log")
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


# ------------------------------------------------------------------------------------------ objects


def fake_store(ns: str, name: str, data: dict[str, str], *, kind: str = "SecretStore",
               conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"provider": {"fake": {"data": [{"key": k, "value": v} for k, v in data.items()]}}}
    if conditions is not None:
        spec["conditions"] = conditions
    meta = {"name": name} if kind == "ClusterSecretStore" else {"name": name, "namespace": ns}
    return {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": meta, "spec": spec}


def external_secret(ns: str, name: str, store: str, keys: dict[str, str], *, kind: str = "SecretStore",
                    target: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    spec: dict[str, Any] = {"refreshInterval": "1h", "secretStoreRef": {"name": store, "kind": kind},
                            "data": [{"secretKey": k, "remoteRef": {"key": r}} for k, r in keys.items()]}
    if target:
        spec["target"] = {"name": target}
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": meta, "spec": spec}


def create(cluster: KubeCluster, doc: dict[str, Any]) -> dict[str, Any]:
    plural = {"SecretStore": "secretstores", "ClusterSecretStore": "clustersecretstores",
              "ExternalSecret": "externalsecrets"}[doc["kind"]]
    ns = doc["metadata"].get("namespace")
    path = f"{ES_API}/namespaces/{ns}/{plural}" if ns else f"{ES_API}/{plural}"
    return cluster.request("POST", path, doc)


def get_es(cluster: KubeCluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.request("GET", f"{ES_API}/namespaces/{ns}/externalsecrets/{name}")


def ready_of(doc: dict[str, Any]) -> dict[str, Any] | None:
    for condition in (doc.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return dict(condition)
    return None


def wait_ready(ours: Ours, ns: str, name: str, status: str = "True", timeout: float = 30) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = get_es(ours.cluster, ns, name)
        ready = ready_of(doc)
        return doc if ready is not None and ready["status"] == status else None
    return dict(wait_for(f"ExternalSecret {ns}/{name} Ready={status}", check, timeout, ours.log_text))


def events_for(cluster: KubeCluster, ns: str, name: str) -> list[dict[str, Any]]:
    listing = cluster.request("GET", f"/api/v1/namespaces/{ns}/events")
    return [e for e in listing.get("items", []) if e.get("involvedObject", {}).get("kind") == "ExternalSecret"
            and e["involvedObject"].get("name") == name]


@pytest.fixture
def space(op_cluster: KubeCluster) -> str:
    ns = unique("eso")
    op_cluster.ensure_namespace(ns)
    return ns


def synced_setup(ours: Ours, ns: str, *, es_name: str = "app", target: str | None = None) -> tuple[str, dict[str, Any]]:
    secret_value = value("pw")
    create(ours.cluster, fake_store(ns, "fake", {"/db/password": secret_value}))
    wait_for("the store Ready", lambda: (ready_of(ours.cluster.request(
        "GET", f"{ES_API}/namespaces/{ns}/secretstores/fake")) or {}).get("status") == "True", 20, ours.log_text)
    create(ours.cluster, external_secret(ns, es_name, "fake", {"password": "/db/password"}, target=target,
                                         labels={"team": "a"}))
    return secret_value, wait_ready(ours, ns, es_name)


# ------------------------------------------------------------------------------------------ tests


def test_secret_appears_as_eso_writes_it_and_the_status_is_ready(ours: Ours, space: str) -> None:
    secret_value, es = synced_setup(ours, space, target="app-secret")
    ready = ready_of(es)
    assert ready is not None and (ready["reason"], ready["message"]) == ("SecretSynced", "secret synced")
    status = es["status"]
    assert status["binding"] == {"name": "app-secret"} and status["refreshTime"]
    assert status["syncedResourceVersion"].startswith(f"{es['metadata']['generation']}-")
    secret = get_secret(ours.cluster, space, "app-secret")
    assert secret is not None
    assert secret["data"] == {"password": b64(secret_value)}
    assert secret["metadata"]["labels"] == {"team": "a", MANAGED: "true", CREATED_BY: go_hash(f"{space}/app")}
    assert secret["metadata"]["annotations"] == {DATA_HASH: data_hash({"password": secret_value.encode()})}
    assert secret.get("type") == "Opaque"
    (owner,) = secret["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "app",
                     "uid": es["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    managers = {f["manager"] for f in secret["metadata"].get("managedFields") or []}
    assert managers == {"externalsecrets.external-secrets.io/app"}
    # nothing of kopf's on the ExternalSecret, and no finalizer (ESO v0.16.2 adds none)
    assert not es["metadata"].get("finalizers")
    assert not any(mark in key for key in (es["metadata"].get("annotations") or {}) for mark in KOPF_MARKS)
    store = ours.cluster.request("GET", f"{ES_API}/namespaces/{space}/secretstores/fake")
    store_ready = ready_of(store)
    assert store_ready is not None and (store_ready["status"], store_ready["reason"], store_ready["message"]) == (
        "True", "Valid", "store validated")
    reasons = [(e["type"], e["reason"], e["message"], e["source"]["component"]) for e in events_for(
        ours.cluster, space, "app")]
    assert reasons == [("Normal", "Created", "secret created", "external-secrets")]


def test_nothing_is_written_when_nothing_changed(ours: Ours, space: str) -> None:
    _, es = synced_setup(ours, space)
    secret = get_secret(ours.cluster, space, "app")
    assert secret is not None
    time.sleep(1.0)  # let the echoes of our own writes come back through the watches
    es = get_es(ours.cluster, space, "app")
    versions = (es["metadata"]["resourceVersion"], get_secret(ours.cluster, space, "app")["metadata"]["resourceVersion"])  # type: ignore[index]
    before = ours.sync_calls(space, "app")
    # a label edit on the managed Secret makes ESO (and ours) reconcile: valid hash, not due → no write
    patched = ours.cluster.request("PATCH", f"/api/v1/namespaces/{space}/secrets/app",
                                   {"metadata": {"labels": {"touched": "yes"}}},
                                   content_type="application/merge-patch+json")
    wait_for("a reconcile after the label edit", lambda: ours.sync_calls(space, "app") > before, 20, ours.log_text)
    # and a restart reconciles everything once more, from the initial listing
    ours.stop()
    ours.start()
    wait_for("a reconcile after the restart", lambda: ours.sync_calls(space, "app") >= 1, 20, ours.log_text)
    time.sleep(1.0)
    es_after = get_es(ours.cluster, space, "app")
    secret_after = get_secret(ours.cluster, space, "app")
    assert secret_after is not None
    assert es_after["metadata"]["resourceVersion"] == versions[0], "the ExternalSecret was written"
    assert secret_after["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"], \
        "the Secret was written"
    assert len(events_for(ours.cluster, space, "app")) == 1  # Created, once
    assert versions[1] != patched["metadata"]["resourceVersion"]


def test_force_sync_refetches_now(ours: Ours, space: str) -> None:
    synced_setup(ours, space)
    newer = value("rotated")
    path = f"{ES_API}/namespaces/{space}/secretstores/fake"
    store = ours.cluster.request("GET", path)
    store["spec"]["provider"]["fake"]["data"] = [{"key": "/db/password", "value": newer}]
    ours.cluster.request("PUT", path, store)
    time.sleep(2.0)  # refreshInterval is 1h: a changed store alone does not refresh the ExternalSecret
    secret = get_secret(ours.cluster, space, "app")
    assert secret is not None and secret["data"]["password"] != b64(newer)
    ours.cluster.request("PATCH", f"{ES_API}/namespaces/{space}/externalsecrets/app",
                         {"metadata": {"annotations": {"force-sync": str(time.time())}}},
                         content_type="application/merge-patch+json")
    wait_for("the rotated value", lambda: (get_secret(ours.cluster, space, "app") or {}).get(
        "data", {}).get("password") == b64(newer), 20, ours.log_text)
    # the event is posted just after the Secret and status writes
    wait_for("the Updated event", lambda: sorted(e["reason"] for e in events_for(ours.cluster, space, "app"))
             == ["Created", "Updated"], 20, ours.log_text)


def test_a_deleted_managed_secret_is_recreated(ours: Ours, space: str) -> None:
    secret_value, _ = synced_setup(ours, space)
    first = get_secret(ours.cluster, space, "app")
    assert first is not None
    ours.cluster.request("DELETE", f"/api/v1/namespaces/{space}/secrets/app")
    again = wait_for("the Secret re-created", lambda: (s := get_secret(ours.cluster, space, "app")) is not None
                     and s["metadata"]["uid"] != first["metadata"]["uid"] and s, 20, ours.log_text)
    assert again["data"] == {"password": b64(secret_value)}


def test_a_store_of_another_namespace_cannot_be_used(ours: Ours, op_cluster: KubeCluster, space: str) -> None:
    other = unique("eso-other")
    op_cluster.ensure_namespace(other)
    create(op_cluster, fake_store(other, "theirs", {"/k": value("theirs")}))
    create(op_cluster, external_secret(space, "steal", "theirs", {"k": "/k"}))
    es = wait_ready(ours, space, "steal", status="False")
    ready = ready_of(es)
    assert ready is not None and (ready["reason"], ready["message"]) == (
        "SecretSyncedError", "could not get secret data from provider")
    assert get_secret(op_cluster, space, "steal") is None
    warnings = [e for e in events_for(op_cluster, space, "steal") if e["type"] == "Warning"]
    assert warnings and warnings[0]["reason"] == "UpdateFailed"
    assert 'SecretStore "theirs"' in warnings[0]["message"]


def test_a_cluster_store_condition_denies_other_namespaces(ours: Ours, op_cluster: KubeCluster, space: str) -> None:
    allowed = unique("eso-allowed")
    op_cluster.ensure_namespace(allowed)
    name = unique("css")
    create(op_cluster, fake_store("", name, {"/k": value("cluster")}, kind="ClusterSecretStore",
                                  conditions=[{"namespaces": [allowed]}]))
    create(op_cluster, external_secret(allowed, "ok", name, {"k": "/k"}, kind="ClusterSecretStore"))
    create(op_cluster, external_secret(space, "denied", name, {"k": "/k"}, kind="ClusterSecretStore"))
    wait_ready(ours, allowed, "ok")
    es = wait_ready(ours, space, "denied", status="False")
    assert get_secret(op_cluster, space, "denied") is None
    denial = f'using cluster store "{name}" is not allowed from namespace "{space}": denied by spec.condition'
    # the Warning event is posted just after the status write
    wait_for("the denial event", lambda: any(denial in e["message"] for e in events_for(op_cluster, space, "denied")
                                             if e["type"] == "Warning"), 30)
    assert ready_of(es)["reason"] == "SecretSyncedError"  # type: ignore[index]


def test_a_cluster_external_secret_fans_out_to_selected_namespaces(ours: Ours, op_cluster: KubeCluster) -> None:
    label = unique("team")
    chosen = [unique("eso-ces"), unique("eso-ces")]
    skipped = unique("eso-ces-no")
    for ns in chosen:
        op_cluster.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": ns, "labels": {"fanout": label}}})
    op_cluster.ensure_namespace(skipped)
    store = unique("css")
    create(op_cluster, fake_store("", store, {"/k": value("ces")}, kind="ClusterSecretStore"))
    name = unique("ces")
    op_cluster.request("POST", f"{ES_API}/clusterexternalsecrets", {
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret", "metadata": {"name": name},
        "spec": {"externalSecretName": "shared", "namespaceSelectors": [{"matchLabels": {"fanout": label}}],
                 "externalSecretSpec": external_secret("x", "x", store, {"k": "/k"}, kind="ClusterSecretStore")["spec"]}})
    for ns in chosen:
        es = wait_ready(ours, ns, "shared") if wait_for(
            f"ExternalSecret in {ns}", lambda ns=ns: _exists(op_cluster, ns, "shared"), 30, ours.log_text) else None
        assert es is not None
        (owner,) = es["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("ClusterExternalSecret", name, True)
        assert get_secret(op_cluster, ns, "shared") is not None
    assert not _exists(op_cluster, skipped, "shared")
    ces = wait_for("the ClusterExternalSecret status", lambda: (doc := op_cluster.request(
        "GET", f"{ES_API}/clusterexternalsecrets/{name}")).get("status", {}).get("provisionedNamespaces") and doc,
        30, ours.log_text)
    assert ces["status"]["provisionedNamespaces"] == sorted(chosen)
    assert ready_of(ces)["status"] == "True"  # type: ignore[index]


def _exists(cluster: KubeCluster, ns: str, name: str) -> bool:
    try:
        get_es(cluster, ns, name)
        return True
    except KubeAPIError as err:
        if err.status == 404:
            return False
        raise


def test_leader_election_one_replica_reconciles_and_the_other_takes_over(op_cluster: KubeCluster,
                                                                         crds: None) -> None:
    lease_ns, ns = unique("eso-lease"), unique("eso-le")
    for name in (lease_ns, ns):
        op_cluster.ensure_namespace(name)
    replicas = []
    for i in range(2):
        port = free_port()
        args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
                "--enable-leader-election", "--namespace", ns, "--kubeconfig", str(op_cluster.kubeconfig),
                f"--metrics-addr=127.0.0.1:{port}", "--log-format=json"]
        replica = Ours(op_cluster, args, port, scratch_dir(f"secrets-kit-eso-le{i}-") / "operator.log")
        replica.proc = start_process(args, replica.log_file, env={**_env(), "POD_NAMESPACE": lease_ns})
        wait_until_ready(replica.ready, "replica", replica.proc, replica.log_file, timeout=90)
        replicas.append(replica)
        if i == 0:
            wait_for("the first replica leads", lambda r=replica: "became leader" in r.log_text(), 30)
    try:
        lease = op_cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{lease_ns}/leases/"
                                          "external-secrets-controller")
        assert lease["spec"]["leaseDurationSeconds"] == 15
        assert "became leader" not in replicas[1].log_text()
        create(op_cluster, fake_store(ns, "fake", {"/k": value("le")}))
        create(op_cluster, external_secret(ns, "one", "fake", {"k": "/k"}))
        wait_ready(replicas[0], ns, "one")
        assert replicas[1].log_text().count("store validated") == 0  # the standby reconciles nothing
        replicas[0].stop()  # SIGTERM: no release, the standby waits for the lease to expire
        wait_for("the standby leads", lambda: "became leader" in replicas[1].log_text(), 40, replicas[1].log_text)
        create(op_cluster, external_secret(ns, "two", "fake", {"k": "/k"}))
        wait_ready(replicas[1], ns, "two")
        after = op_cluster.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{lease_ns}/leases/"
                                          "external-secrets-controller")
        assert after["spec"]["holderIdentity"] != lease["spec"]["holderIdentity"]
        assert after["spec"]["leaseTransitions"] == 1
    finally:
        for replica in replicas:
            replica.stop()


def test_zz_no_plaintext_in_logs_events_statuses_or_metrics(ours: Ours, op_cluster: KubeCluster) -> None:
    assert PLAINTEXTS, "the tests above put values in stores"
    texts = [ours.log_text(), ours.metrics(),
             json.dumps(op_cluster.request("GET", "/api/v1/events")),
             json.dumps([item.get("status") for item in op_cluster.request("GET", f"{ES_API}/externalsecrets")["items"]]),
             json.dumps([item.get("status") for item in op_cluster.request("GET", f"{ES_API}/secretstores")["items"]])]
    assert_no_plaintext(PLAINTEXTS, *texts)


def test_both_controllers_in_one_process(op_cluster: KubeCluster, crds: None) -> None:
    """`--external-secrets` next to the sealed controller: one process, one kopf operator; the sealed
    controller keeps its keys in $POD_NAMESPACE and the ExternalSecret metrics join its /metrics."""
    keys_ns, ns = unique("eso-keys"), unique("eso-both")
    for name in (keys_ns, ns):
        op_cluster.ensure_namespace(name)
    from tests.peers.sealed_controller import register_crd

    register_crd(op_cluster)
    workdir = scratch_dir("secrets-kit-eso-both-")
    port, metrics_port = free_port(), free_port()
    args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--kubeconfig", str(op_cluster.kubeconfig),
            f"--listen-addr=127.0.0.1:{port}", f"--listen-metrics-addr=127.0.0.1:{metrics_port}",
            "--all-namespaces=false", f"--additional-namespaces={ns}", "--key-size=2048", "--log-format=json"]
    log_file = workdir / "operator.log"
    proc = start_process(args, log_file, env={**_env(), "POD_NAMESPACE": keys_ns})

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    try:
        wait_until_ready(ready, "secrets-kit operator (both)", proc, log_file, timeout=90)
        keys = op_cluster.request("GET", f"/api/v1/namespaces/{keys_ns}/secrets")
        assert any(s["metadata"]["name"].startswith("sealed-secrets-key") for s in keys.get("items", []))
        secret_value = value("both")
        create(op_cluster, fake_store(ns, "fake", {"/k": secret_value}))
        create(op_cluster, external_secret(ns, "app", "fake", {"k": "/k"}))
        log_text = lambda: log_file.read_text(errors="replace")  # noqa: E731
        wait_for("the Secret", lambda: get_secret(op_cluster, ns, "app") is not None, 30, log_text)
        def metrics_text() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
                return str(resp.read().decode())

        # the sync counter is incremented when the reconcile returns, just after the Secret is written
        wait_for("the ExternalSecret metrics", lambda: "externalsecret_sync_calls_total{" in metrics_text(), 30,
                 log_text)
        text = metrics_text()
        assert "sealed_secrets_controller_build_info" in text and "externalsecret_sync_calls_total{" in text
        assert_no_plaintext([secret_value], log_text(), text)
    finally:
        stop_child(proc)
