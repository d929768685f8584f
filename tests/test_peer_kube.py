"""Smoke tests proving the Kubernetes peer is a real kube-apiserver (not an emulator)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tests.peers import versions
from tests.peers.kube import KubeAPIError, KubeCluster

pytestmark = pytest.mark.peer("kube")

GROUP = "peers.secrets-kit.test"
CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "required": ["size"],
                             "properties": {"size": {"type": "integer", "minimum": 1}}},
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                },
            }},
        }],
    },
}


@pytest.fixture(scope="module")
def widgets(kube_cluster: KubeCluster) -> str:
    """The Widget CRD, established; returns the API prefix of its group version."""
    try:
        kube_cluster.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    except KubeAPIError as err:
        if err.status != 409:
            raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        crd = kube_cluster.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{GROUP}")
        conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
        if conditions.get("Established") == "True":
            return f"/apis/{GROUP}/v1"
        time.sleep(0.2)
    raise AssertionError("CRD not established in 30 s")


def widget(name: str, size: int) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": size}}


@pytest.mark.usefixtures("kubectl")
def test_version_is_the_pinned_release(kube_cluster: KubeCluster) -> None:
    info = kube_cluster.request("GET", "/version")
    assert info["gitVersion"] == versions.KUBE_APISERVER
    assert (info["major"], info["minor"]) == ("1", versions.KUBE_APISERVER.split(".")[1])
    out = kube_cluster.kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["gitVersion"] == versions.KUBE_APISERVER


def test_custom_resource_create_validate_and_watch(kube_cluster: KubeCluster, widgets: str,
                                                   kube_namespace: str) -> None:
    collection = f"{widgets}/namespaces/{kube_namespace}/widgets"
    start_rv = kube_cluster.request("GET", collection)["metadata"]["resourceVersion"]
    created = kube_cluster.request("POST", collection, widget("w1", 3))
    assert created["metadata"]["uid"] and created["metadata"]["generation"] == 1
    with pytest.raises(KubeAPIError) as invalid:  # the CRD's schema is enforced
        kube_cluster.request("POST", collection, widget("w2", 0))
    assert invalid.value.status == 422
    events = kube_cluster.watch(collection, resource_version=start_rv, timeout=5)
    first = next(events)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "w1")
    events.close()


def test_status_subresource_only_changes_status(kube_cluster: KubeCluster, widgets: str,
                                                kube_namespace: str) -> None:
    path = f"{widgets}/namespaces/{kube_namespace}/widgets/w"
    kube_cluster.request("POST", f"{widgets}/namespaces/{kube_namespace}/widgets", widget("w", 1))
    merge = "application/merge-patch+json"
    patched = kube_cluster.request("PATCH", path + "/status",
                                   {"spec": {"size": 9}, "status": {"phase": "Ready"}}, content_type=merge)
    assert patched["status"] == {"phase": "Ready"}
    assert patched["spec"] == {"size": 1}  # spec is ignored on /status
    assert patched["metadata"]["generation"] == 1
    main = kube_cluster.request("PATCH", path, {"spec": {"size": 2}, "status": {"phase": "Lost"}},
                                content_type=merge)
    assert main["spec"] == {"size": 2} and main["status"] == {"phase": "Ready"}  # status ignored here
    assert main["metadata"]["generation"] == 2


def test_stale_resource_version_conflicts(kube_cluster: KubeCluster, kube_namespace: str) -> None:
    path = f"/api/v1/namespaces/{kube_namespace}/configmaps"
    first = kube_cluster.request("POST", path, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    kube_cluster.request("PUT", f"{path}/cm", {**first, "data": {"a": "2"}})
    with pytest.raises(KubeAPIError) as conflict:
        kube_cluster.request("PUT", f"{path}/cm", {**first, "data": {"a": "3"}})
    assert conflict.value.status == 409


@pytest.mark.usefixtures("kubectl")
def test_server_side_apply_tracks_managers_and_conflicts(kube_cluster: KubeCluster,
                                                         kube_namespace: str) -> None:
    path = f"/api/v1/namespaces/{kube_namespace}/secrets/applied"
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "applied"}}
    kube_cluster.apply(path, {**manifest, "data": {"user": base64.b64encode(b"app").decode()}},
                       field_manager="first")
    changed = {**manifest, "data": {"user": base64.b64encode(b"other").decode()}}
    with pytest.raises(KubeAPIError) as conflict:
        kube_cluster.apply(path, changed, field_manager="second")
    assert conflict.value.status == 409
    forced = kube_cluster.apply(path, changed, field_manager="second", force=True)
    assert base64.b64decode(forced["data"]["user"]) == b"other"
    assert "second" in {entry["manager"] for entry in forced["metadata"]["managedFields"]}
    out = kube_cluster.kubectl("apply", "--server-side", "--field-manager=kubectl-test", "-f", "-",
                               input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "ssa", "namespace": kube_namespace},
                                                 "data": {"k": "v"}}))
    assert "serverside-applied" in out.stdout


@pytest.mark.usefixtures("kubectl")
def test_limited_service_account_is_denied_by_rbac(kube_cluster: KubeCluster, kube_namespace: str) -> None:
    user = kube_cluster.create_service_account(
        kube_namespace, "writer", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get"]}],
    )
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}, "stringData": {"k": "v"}}
    created = kube_cluster.request("POST", f"/api/v1/namespaces/{kube_namespace}/secrets", secret,
                                   token=user.token)
    assert created["metadata"]["name"] == "s1"
    assert kube_cluster.request("GET", f"/api/v1/namespaces/{kube_namespace}/secrets/s1", token=user.token)
    for method, path in (("GET", f"/api/v1/namespaces/{kube_namespace}/secrets"),  # list not granted
                         ("DELETE", f"/api/v1/namespaces/{kube_namespace}/secrets/s1"),
                         ("POST", "/api/v1/namespaces/default/secrets")):
        with pytest.raises(KubeAPIError) as denied:
            kube_cluster.request(method, path, secret if method == "POST" else None, token=user.token)
        assert denied.value.status == 403, (method, path)
        assert user.username in str(denied.value)
    # kubectl 1.32 with the service account's own kubeconfig sees the same decisions
    can = kube_cluster.kubectl("auth", "can-i", "create", "secrets", kubeconfig=user.kubeconfig)
    assert can.stdout.strip() == "yes"
    cannot = kube_cluster.kubectl("auth", "can-i", "list", "secrets", kubeconfig=user.kubeconfig, check=False)
    assert cannot.stdout.strip() == "no"


def test_token_review_authenticates_service_account_tokens(kube_cluster: KubeCluster,
                                                           kube_namespace: str) -> None:
    user = kube_cluster.create_service_account(kube_namespace, "reviewed")
    review = kube_cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": user.token},
    })
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == user.username
