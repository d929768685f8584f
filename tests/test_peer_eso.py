"""The real ESO v0.16.2 peer itself: it starts on one namespace, syncs a fake-store ExternalSecret the
way reference §10 says (data-hash, created-by, managed, ownerReference), ignores other namespaces,
and stops cleanly on SIGTERM."""

from __future__ import annotations

import base64
import time

from tests.externalsecrets.harness import created_by, go_data_hash
from tests.peers.eso import ES_API, EsoController
from tests.peers.kube import KubeAPIError, KubeCluster


def _create(cluster: KubeCluster, ns: str, name: str, *, watched: bool = True) -> None:
    cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "fake"},
        "spec": {"provider": {"fake": {"data": [{"key": "k", "value": "HELLO1"}]}}}})
    cluster.request("POST", f"{ES_API}/namespaces/{ns}/externalsecrets", {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
        "spec": {"secretStoreRef": {"name": "fake", "kind": "SecretStore"},
                 "data": [{"secretKey": "foo_bar", "remoteRef": {"key": "k"}}]}})


def _wait_for_store_ready(cluster: KubeCluster, ns: str, timeout: float = 30.0) -> None:
    """ESO's store controller and its ExternalSecret controller share one fake-provider instance
    (its data map is rebuilt by each NewClient): an ExternalSecret reconciled while the store is
    still being validated can miss the key (seen once in CI as "could not get secret data from
    provider"). A user applies the store first and the ExternalSecret once it is Ready; so do we."""
    deadline = time.monotonic() + timeout
    while True:
        store = cluster.request("GET", f"{ES_API}/namespaces/{ns}/secretstores/fake")
        conditions = (store.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"SecretStore {ns}/fake not Ready after {timeout:.0f}s: {store.get('status')}")
        time.sleep(0.1)


def test_eso_syncs_a_fake_store_as_reference_10_says(kube_cluster: KubeCluster,
                                                      eso_controller: EsoController) -> None:
    ns = eso_controller.namespace
    _create(kube_cluster, ns, "es1")
    es = eso_controller.wait_for_ready_condition("es1")
    ready = next(c for c in es["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "SecretSynced", "secret synced")
    secret = kube_cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets/es1")
    meta = secret["metadata"]
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert data == {"foo_bar": b"HELLO1"}
    assert meta["annotations"]["reconcile.external-secrets.io/data-hash"] == go_data_hash(data)
    assert meta["labels"] == {"reconcile.external-secrets.io/managed": "true",
                              "reconcile.external-secrets.io/created-by": created_by(ns, "es1")}
    (owner,) = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"], owner["blockOwnerDeletion"]) == (
        "ExternalSecret", "es1", True, True)
    assert eso_controller.stop_process() == 0


def test_eso_handles_only_its_namespace(kube_cluster: KubeCluster, eso_controller: EsoController) -> None:
    other = f"{eso_controller.namespace}-other"
    kube_cluster.ensure_namespace(other)
    _create(kube_cluster, other, "elsewhere", watched=False)
    _create(kube_cluster, eso_controller.namespace, "here")
    eso_controller.wait_for_ready_condition("here")
    time.sleep(2)
    assert not (eso_controller.external_secret("elsewhere", other).get("status") or {}).get("conditions")
    try:
        kube_cluster.request("GET", f"/api/v1/namespaces/{other}/secrets/elsewhere")
        raise AssertionError("ESO wrote a Secret outside its --namespace")
    except KubeAPIError as err:
        assert err.status == 404
