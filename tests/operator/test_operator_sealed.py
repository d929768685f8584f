"""`secrets-kit operator run` on a real kube-apiserver: SealedSecrets sealed by the real kubeseal and
by `secrets-kit seal` become the right Secrets, and every upstream rule holds (scopes, ownerReference,
managed/patch, unowned and immutable Secrets, re-creating deleted Secrets), with nothing written
when nothing changed and no plaintext in any log, event, status or metric."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.sealed.model import seal_secret
from tests.peers.kube import KubeCluster
from tests.peers.our_operator import OurController, start_operator
from tests.sealed.helpers import secret

from .conftest import unique
from .support import (
    KOPF_MARKS,
    assert_no_plaintext,
    b64,
    cert_file,
    events_for,
    get_secret,
    marker,
    seal,
    synced,
    wait_for,
)

pytestmark = pytest.mark.peer("kube")
SCOPES = ("strict", "namespace-wide", "cluster-wide")
PLAINTEXTS: list[str] = []  # every value sealed in this module: grepped for at the end


def value(what: str) -> str:
    text = marker(what)
    PLAINTEXTS.append(text)
    return text


@pytest.fixture(scope="module")
def spaces() -> tuple[str, str]:
    return unique("op-a"), unique("op-b")


@pytest.fixture(scope="module")
def ours(op_cluster: KubeCluster, spaces: tuple[str, str], proxy_ok: None) -> Iterator[OurController]:
    controller = start_operator(op_cluster, namespace=unique("op-keys"), watch=spaces)
    try:
        yield controller
    finally:
        controller.stop()


def put_sealed(ours: OurController, doc: dict[str, Any]) -> dict[str, Any]:
    return ours.create_sealed_secret(doc)


def moved(doc: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    out["metadata"]["name"], out["metadata"]["namespace"] = name, namespace
    meta = (out["spec"].get("template") or {}).get("metadata") or {}
    meta.pop("name", None)
    meta.pop("namespace", None)
    return out


def test_first_key_is_made_like_upstreams(ours: OurController) -> None:
    keys = ours.key_secrets()
    assert len(keys) == 1
    key = keys[0]
    assert key["type"] == "kubernetes.io/tls"
    assert key["metadata"]["labels"]["sealedsecrets.bitnami.com/sealed-secrets-key"] == "active"
    assert key["metadata"]["name"].startswith("sealed-secrets-key")
    assert ours.served_cert() == ours.newest_cert()


@pytest.mark.parametrize("tool", ["seal", "kubeseal"])
@pytest.mark.parametrize("scope", SCOPES)
def test_unseals_every_scope(ours: OurController, op_cluster: KubeCluster, spaces: tuple[str, str],
                             kubeseal_bin: Path, tmp_path: Path, tool: str, scope: str) -> None:
    ns, other_ns = spaces
    password = value("password")
    name = unique("creds")
    src = secret(name, ns, string_data={"password": password, "empty": ""},
                 labels={"app": "web"}, annotations={"team": "payments"})
    doc = seal(tool, src, cert_file(ours, tmp_path), scope=scope, kubeseal_bin=kubeseal_bin)
    target_ns, target = ns, name
    if scope == "namespace-wide":
        target = unique("renamed")
    elif scope == "cluster-wide":
        target_ns, target = other_ns, unique("elsewhere")
    created = put_sealed(ours, moved(doc, target_ns, target))

    condition = synced(ours, target_ns, target)
    assert condition["status"] == "True", condition
    out = ours.wait_for_secret(target_ns, target)
    assert out["data"] == {"password": b64(password), "empty": ""}
    assert out["type"] == "Opaque"
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["annotations"]["team"] == "payments"
    assert out["metadata"]["ownerReferences"] == [{
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": target,
        "uid": created["metadata"]["uid"], "controller": True}]
    # kopf leaves no trace on the user's object: only a status is added, as Bitnami's does
    now = ours.sealed_secret(target_ns, target)
    assert not now["metadata"].get("finalizers")
    marks = [k for k in {**(now["metadata"].get("annotations") or {}), **(now["metadata"].get("labels") or {})}
             if any(m in k for m in KOPF_MARKS)]
    assert marks == []
    assert now["status"]["observedGeneration"] == now["metadata"]["generation"]
    assert [e["reason"] for e in events_for(op_cluster, target_ns, target)] == ["Unsealed"]
    assert events_for(op_cluster, target_ns, target)[0]["source"]["component"] == "sealed-secrets"


def test_update_propagates(ours: OurController, spaces: tuple[str, str], tmp_path: Path) -> None:
    ns = spaces[0]
    name = unique("rotating")
    first, second = value("first"), value("second")
    cert = cert_file(ours, tmp_path)
    put_sealed(ours, seal("seal", secret(name, ns, string_data={"k": first}), cert))
    assert synced(ours, ns, name)["status"] == "True"
    assert ours.wait_for_secret(ns, name)["data"] == {"k": b64(first)}
    current = ours.sealed_secret(ns, name)
    current["spec"] = seal("seal", secret(name, ns, string_data={"k": second}, labels={"v": "2"}), cert)["spec"]
    ours.cluster.request("PUT", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets/{name}", current)
    assert synced(ours, ns, name, generation=2)["status"] == "True"
    out = wait_for("the new value", lambda: (s := get_secret(ours.cluster, ns, name)) and
                   s["data"] == {"k": b64(second)} and s)
    assert out["metadata"]["labels"] == {"v": "2"}


def test_wrong_scope_and_wrong_key_say_why(ours: OurController, spaces: tuple[str, str], other_pair: Any,
                                           tmp_path: Path) -> None:
    ns = spaces[0]
    secret_value = value("scoped")
    cert = cert_file(ours, tmp_path)
    strict = seal("seal", secret("orig", ns, string_data={"k": secret_value}), cert)
    moved_name = unique("moved")
    put_sealed(ours, moved(strict, ns, moved_name))
    condition = synced(ours, ns, moved_name)
    assert condition["status"] == "False"
    assert "no key could decrypt secret" in condition["message"]
    assert get_secret(ours.cluster, ns, moved_name) is None

    foreign_name = unique("foreign")
    foreign = seal_secret(secret(foreign_name, ns, string_data={"k": secret_value}), other_pair.cert.public_key)
    put_sealed(ours, foreign)
    condition = synced(ours, ns, foreign_name)
    assert condition["status"] == "False" and "no key could decrypt secret" in condition["message"]
    # the event follows the status write: wait for it, then check it is the only one
    wait_for("the ErrUnsealFailed event", lambda: events_for(ours.cluster, ns, foreign_name), 10)
    assert [e["reason"] for e in events_for(ours.cluster, ns, foreign_name)] == ["ErrUnsealFailed"]
    assert get_secret(ours.cluster, ns, foreign_name) is None


def test_unowned_secret_is_never_overwritten(ours: OurController, spaces: tuple[str, str], tmp_path: Path) -> None:
    ns = spaces[0]
    name = unique("taken")
    ours.cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"mine": "keep"}})
    before = get_secret(ours.cluster, ns, name)
    assert before is not None
    put_sealed(ours, seal("seal", secret(name, ns, string_data={"k": value("unowned")}), cert_file(ours, tmp_path)))
    condition = synced(ours, ns, name)
    assert condition["status"] == "False"
    assert f'Resource "{name}" already exists and is not managed by SealedSecret' in condition["message"]
    assert "ErrUpdateFailed" in [e["reason"] for e in events_for(ours.cluster, ns, name)]
    after = get_secret(ours.cluster, ns, name)
    assert after is not None and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


@pytest.mark.parametrize("annotation", ["managed", "patch"])
def test_managed_and_patch_annotations(ours: OurController, spaces: tuple[str, str], tmp_path: Path,
                                       annotation: str) -> None:
    ns = spaces[0]
    name = unique(annotation)
    ours.cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"old": "label"},
                     "annotations": {f"sealedsecrets.bitnami.com/{annotation}": "true"}},
        "data": {"existing": b64("kept")}})
    new = value(annotation)
    created = put_sealed(ours, seal("seal", secret(name, ns, string_data={"k": new}, labels={"new": "label"}),
                                    cert_file(ours, tmp_path)))
    assert synced(ours, ns, name)["status"] == "True"
    out = wait_for("the unsealed value", lambda: (s := get_secret(ours.cluster, ns, name)) and
                   "k" in (s.get("data") or {}) and s)
    if annotation == "managed":  # replaced and adopted
        assert out["data"] == {"k": b64(new)}
        assert out["metadata"]["labels"] == {"new": "label"}
        assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == [created["metadata"]["uid"]]
    else:  # merged, not adopted
        assert out["data"] == {"existing": b64("kept"), "k": b64(new)}
        assert out["metadata"]["labels"] == {"old": "label", "new": "label"}
        assert not out["metadata"].get("ownerReferences")


def test_immutable_secret_is_a_clear_status_and_the_controller_goes_on(
        ours: OurController, spaces: tuple[str, str], tmp_path: Path) -> None:
    ns = spaces[0]
    name = unique("frozen")
    cert = cert_file(ours, tmp_path)
    src = secret(name, ns, string_data={"k": value("frozen1")})
    src["immutable"] = True
    put_sealed(ours, seal("seal", src, cert))
    assert synced(ours, ns, name)["status"] == "True"
    assert ours.wait_for_secret(ns, name)["immutable"] is True
    current = ours.sealed_secret(ns, name)
    src2 = secret(name, ns, string_data={"k": value("frozen2")})
    src2["immutable"] = True
    current["spec"] = seal("seal", src2, cert)["spec"]
    ours.cluster.request("PUT", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets/{name}", current)
    condition = synced(ours, ns, name, generation=2)
    assert condition["status"] == "False"
    assert "immutable" in condition["message"]
    assert "ErrUpdateFailed" in [e["reason"] for e in events_for(ours.cluster, ns, name)]
    assert ours.healthy()


def test_malformed_sealed_secret_is_a_clear_status(ours: OurController, spaces: tuple[str, str]) -> None:
    ns = spaces[0]
    name = unique("garbled")
    put_sealed(ours, {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                      "metadata": {"name": name, "namespace": ns},
                      "spec": {"encryptedData": {"k": "%%% not base64 %%%"}}})
    condition = synced(ours, ns, name)
    assert condition["status"] == "False"
    assert "k" in condition["message"] and condition["message"]
    assert ours.healthy()


def test_deleted_secret_is_recreated(ours: OurController, spaces: tuple[str, str], tmp_path: Path) -> None:
    ns = spaces[0]
    name = unique("phoenix")
    secret_value = value("phoenix")
    put_sealed(ours, seal("seal", secret(name, ns, string_data={"k": secret_value}), cert_file(ours, tmp_path)))
    first = ours.wait_for_secret(ns, name)
    ours.cluster.request("DELETE", f"/api/v1/namespaces/{ns}/secrets/{name}")
    again = wait_for("the re-created Secret", lambda: (s := get_secret(ours.cluster, ns, name)) and
                     s["metadata"]["uid"] != first["metadata"]["uid"] and s, log=ours.log_text)
    assert again["data"] == {"k": b64(secret_value)}


def test_metrics_use_upstreams_names(ours: OurController) -> None:
    text = ours.metrics_text()
    for name in ("sealed_secrets_controller_build_info", "sealed_secrets_controller_unseal_requests_total",
                 "sealed_secrets_controller_unseal_errors_total", "sealed_secrets_controller_condition_info",
                 "sealed_secrets_controller_http_requests_total",
                 "sealed_secrets_controller_http_request_duration_seconds_bucket"):
        assert name in text, name
    assert 'reason="unseal"' in text and 'reason="unmanaged"' in text
    assert 'condition="Synced"' in text


def _snapshot(cluster: KubeCluster, spaces: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for ns in spaces:
        for kind, path in (("secret", f"/api/v1/namespaces/{ns}/secrets"),
                           ("sealed", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets"),
                           ("event", f"/api/v1/namespaces/{ns}/events")):
            for item in cluster.request("GET", path).get("items", []):
                out[f"{kind}/{ns}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


def test_nothing_is_written_when_nothing_changed_even_across_a_restart(
        ours: OurController, op_cluster: KubeCluster, spaces: tuple[str, str], tmp_path: Path) -> None:
    ns = spaces[1]
    names = [unique("steady") for _ in range(5)]
    cert = cert_file(ours, tmp_path)
    for name in names:
        put_sealed(ours, seal("seal", secret(name, ns, string_data={"k": value("steady")}), cert))
    for name in names:
        assert synced(ours, ns, name)["status"] == "True"
    time.sleep(2)
    before = _snapshot(op_cluster, spaces)
    time.sleep(3)
    assert _snapshot(op_cluster, spaces) == before
    ours.restart()
    time.sleep(5)  # the restart lists and reconciles everything again
    assert _snapshot(op_cluster, spaces) == before


def test_no_plaintext_anywhere(ours: OurController, op_cluster: KubeCluster, spaces: tuple[str, str]) -> None:
    """Logs, events, SealedSecret statuses and metrics hold none of this module's plaintexts."""
    assert PLAINTEXTS
    texts = [ours.log_text(), ours.metrics_text()]
    for ns in spaces:
        texts.append(json.dumps(op_cluster.request("GET", f"/api/v1/namespaces/{ns}/events")))
        sealed = op_cluster.request("GET", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets")
        texts.append(json.dumps([s.get("status") for s in sealed.get("items", [])]))
    assert_no_plaintext(PLAINTEXTS, *texts)
