"""ClusterExternalSecret fan-out: namespace selection, the ExternalSecrets, the status."""

from __future__ import annotations

from typing import Any

import pytest

from secrets_kit.errors import ConfigError
from secrets_kit.externalsecrets import fanout


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}}}


NAMESPACES = [ns("b", team="x"), ns("a", team="x", env="prod"), ns("c", team="y"), ns("d")]


def ces(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "external-secrets.io/v1", "kind": "ClusterExternalSecret",
            "metadata": {"name": "shared", "uid": "ces-uid"},
            "spec": {"externalSecretSpec": {"secretStoreRef": {"name": "css", "kind": "ClusterSecretStore"},
                                            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}, **spec}}


def test_selectors_are_ored() -> None:
    c = ces(namespaceSelectors=[{"matchLabels": {"team": "x"}}, {"matchExpressions": [
        {"key": "team", "operator": "In", "values": ["y"]}]}], namespaces=["d"])
    assert fanout.select_namespaces(c, NAMESPACES) == ["d", "a", "b", "c"]


def test_deprecated_selector_and_expressions() -> None:
    c = ces(namespaceSelector={"matchExpressions": [{"key": "env", "operator": "DoesNotExist"},
                                                    {"key": "team", "operator": "Exists"}]})
    assert fanout.select_namespaces(c, NAMESPACES) == ["b", "c"]
    assert fanout.select_namespaces(ces(namespaceSelectors=[{}]), NAMESPACES) == ["a", "b", "c", "d"]
    assert fanout.select_namespaces(ces(), NAMESPACES) == []
    c = ces(namespaceSelectors=[{"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["x"]}]}])
    assert fanout.select_namespaces(c, NAMESPACES) == ["c", "d"]


def test_bad_selector() -> None:
    c = ces(namespaceSelectors=[{"matchExpressions": [{"key": "team", "operator": "In", "values": []}]}])
    with pytest.raises(ConfigError):
        fanout.select_namespaces(c, NAMESPACES)
    p = fanout.plan_fanout(c, NAMESPACES, {})
    assert p.status["failedNamespaces"][0]["namespace"] == "unknown" and p.creates == []


def test_plan_creates_with_owner_and_metadata() -> None:
    c = ces(namespaceSelectors=[{"matchLabels": {"team": "x"}}], externalSecretName="out",
            externalSecretMetadata={"labels": {"l": "1"}, "annotations": {"a": "2"}}, refreshTime="10m")
    p = fanout.plan_fanout(c, NAMESPACES, {})
    assert [b["metadata"]["namespace"] for b in p.creates] == ["a", "b"]
    body = p.creates[0]
    assert body["apiVersion"] == "external-secrets.io/v1" and body["kind"] == "ExternalSecret"
    assert body["metadata"]["name"] == "out"
    assert body["metadata"]["labels"] == {"l": "1"} and body["metadata"]["annotations"] == {"a": "2"}
    assert body["metadata"]["ownerReferences"] == [{"apiVersion": "external-secrets.io/v1",
                                                    "kind": "ClusterExternalSecret", "name": "shared",
                                                    "uid": "ces-uid", "controller": True,
                                                    "blockOwnerDeletion": True}]
    assert body["spec"] == c["spec"]["externalSecretSpec"]
    assert p.status == {"externalSecretName": "out", "provisionedNamespaces": ["a", "b"],
                        "conditions": [{"type": "Ready", "status": "True"}]}
    assert p.requeue_after == 600 and p.status_changed


def test_existing_foreign_es_fails_namespace_and_unchanged_is_not_updated() -> None:
    c = ces(namespaceSelectors=[{"matchLabels": {"team": "x"}}])
    mine = fanout.external_secret_for(c, "a")
    mine["metadata"]["resourceVersion"] = "3"
    foreign = {"metadata": {"name": "shared", "namespace": "b"}, "spec": {}}
    p = fanout.plan_fanout(c, NAMESPACES, {"a": mine, "b": foreign})
    assert p.creates == [] and p.updates == []
    assert p.status["failedNamespaces"] == [{"namespace": "b", "reason": "external secret already exists in namespace"}]
    assert p.status["provisionedNamespaces"] == ["a"]
    assert p.status["conditions"] == [{"type": "Ready", "status": "False", "message": "one or more namespaces failed"}]
    changed = ces(namespaceSelectors=[{"matchLabels": {"team": "x"}}], externalSecretMetadata={"labels": {"n": "1"}})
    p = fanout.plan_fanout(changed, NAMESPACES, {"a": mine})
    assert len(p.updates) == 1 and p.updates[0]["metadata"]["resourceVersion"] == "3"


def test_deselected_and_renamed() -> None:
    c = ces(namespaceSelectors=[{"matchLabels": {"team": "y"}}])
    c["status"] = {"externalSecretName": "shared", "provisionedNamespaces": ["a", "c"]}
    p = fanout.plan_fanout(c, NAMESPACES, {})
    assert p.deletes == [("a", "shared")]
    c["spec"]["externalSecretName"] = "renamed"
    p = fanout.plan_fanout(c, NAMESPACES, {})
    assert ("a", "shared") in p.deletes and ("c", "shared") in p.deletes and ("a", "renamed") in p.deletes


def test_owned_by() -> None:
    c = ces()
    assert fanout.owned_by(fanout.external_secret_for(c, "a"), "shared")
    assert not fanout.owned_by(fanout.external_secret_for(c, "a"), "other")
    assert not fanout.owned_by({"metadata": {}}, "shared")
