"""Issue 12: "Cross-namespace and ClusterSecretStore-condition attempts are all denied", on the real
ESO v0.16.2 and on ours, each controller watching its own namespace:

- an ExternalSecret naming a SecretStore that exists only in another namespace;
- a SecretStore whose Vault tokenSecretRef names another namespace (the token Secret exists there,
  with a working token: a controller that read it would sync);
- a ClusterSecretStore whose conditions exclude the ExternalSecret's namespace, by namespaceSelector,
  by namespaces and by namespaceRegexes (each beside a control whose condition admits it, so the
  conditions are shown to be read, not just the store refused).

Each denied attempt gives no Secret and Ready=False; ours gives ESO's reason and message (namespace
normalised). The stores and the other namespace's objects hold values that must not be synced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.externalsecrets.case import Case
from tests.externalsecrets.harness import (
    CaseResult,
    Harness,
    VaultAccess,
    describe,
    ours_missing,
    ready_condition,
    side_class,
    start_ours,
)
from tests.peers.kube import KubeCluster

OTHER_VALUE = "other-namespace-value"
FAKE = {"fake": {"data": [{"key": "k", "value": "cluster-store-value"}]}}
SYNC = {"refreshInterval": "1h", "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}
OTHER = "{{OTHER_NAMESPACE}}"


def _css(case_id: str, conditions: list[dict[str, Any]], allowed: bool) -> Case:
    return Case(id=case_id, store=FAKE, external_secret=SYNC, store_spec={"conditions": conditions},
                expect={"data": {"k": "cluster-store-value"}} if allowed else None,
                ready="True" if allowed else "False", reason="SecretSynced" if allowed else "",
                tags=frozenset({"fake", "cluster-store"}))


FAKE_CASES = [
    Case(id="iso-store-in-other-namespace", store=FAKE,
         external_secret={**SYNC, "secretStoreRef": {"name": "elsewhere", "kind": "SecretStore"}},
         expect=None, ready="False", reason="", tags=frozenset({"fake"})),
    _css("iso-css-namespace-selector-denies", [{"namespaceSelector": {"matchLabels": {"esdiff-allowed": "yes"}}}],
         False),
    _css("iso-css-namespaces-deny", [{"namespaces": ["{{NAMESPACE}}-elsewhere"]}], False),
    _css("iso-css-namespace-regexes-deny", [{"namespaceRegexes": ["^{{NAMESPACE}}-elsewhere$"]}], False),
    _css("iso-css-namespace-selector-allows",
         [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "{{NAMESPACE}}"}}}], True),
    _css("iso-css-namespace-regexes-allow", [{"namespaceRegexes": ["^{{NAMESPACE}}$"]}], True),
]
VAULT_CASE = Case(
    id="iso-token-secret-in-other-namespace",
    store={"vault": {"server": "{{VAULT_ADDR}}", "path": "secret", "version": "v2",
                     "auth": {"tokenSecretRef": {"name": "other-token", "key": "token", "namespace": OTHER}}}},
    remote={"secret/iso/token-namespace": {"v": OTHER_VALUE}},
    external_secret={"refreshInterval": "1h",
                     "data": [{"secretKey": "v", "remoteRef": {"key": "iso/token-namespace", "property": "v"}}]},
    expect=None, ready="False", reason="", tags=frozenset({"vault"}))


def _starters(cluster: KubeCluster, eso_runner: Callable[..., Any]) -> dict[str, Callable[[str], Any]]:
    reason = ours_missing()
    if reason:
        pytest.fail(reason)
    return {"eso": lambda ns: eso_runner(ns, f"--controller-class={side_class('eso')}"),
            "ours": lambda ns: start_ours(cluster, ns, extra_args=("--controller-class", side_class("ours")))}


def _other_namespace(cluster: KubeCluster, harness: Harness, token: str | None) -> str:
    """The namespace neither controller watches, with a SecretStore `elsewhere` and a Secret `other-token`."""
    ns = f"{harness.prefix}-other"
    cluster.ensure_namespace(ns)
    harness.create({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
                    "metadata": {"name": "elsewhere", "namespace": ns},
                    "spec": {"provider": {"fake": {"data": [{"key": "k", "value": OTHER_VALUE}]}}}})
    if token is not None:
        harness.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other-token", "namespace": ns},
                        "stringData": {"token": token}})
    return ns


def _check(results: dict[str, CaseResult]) -> None:
    bad = []
    for result in results.values():
        lines = [describe(result)] if any(result.problems.values()) or result.diffs else []
        if result.case.ready == "False":
            for side, obs in result.observed.items():
                cond = ready_condition(obs.es) or {}
                if obs.secret is not None:
                    lines.append(f"  {side}: a Secret was written for a denied attempt")
                if not cond.get("message"):
                    lines.append(f"  {side}: Ready=False without a message")
        if lines:
            bad.append("\n".join(dict.fromkeys([f"case {result.case.id}:", *lines])))
    if bad:
        pytest.fail("\n".join(bad))


def test_cross_namespace_and_cluster_store_conditions_are_denied(kube_cluster: KubeCluster,
                                                                 eso_runner: Callable[..., Any]) -> None:
    harness = Harness(kube_cluster, _starters(kube_cluster, eso_runner))
    _other_namespace(kube_cluster, harness, None)
    _check(harness.run(FAKE_CASES))


def test_a_token_secret_in_another_namespace_is_denied(kube_cluster: KubeCluster, eso_runner: Callable[..., Any],
                                                       vault_dev: Any) -> None:
    vault = VaultAccess(addr=vault_dev.server.url, token=vault_dev.server.root_token, client=vault_dev.server.client())
    harness = Harness(kube_cluster, _starters(kube_cluster, eso_runner), vault=vault)
    other = _other_namespace(kube_cluster, harness, vault.token)
    original = harness.replacements
    harness.replacements = lambda: {**original(), OTHER: other}  # type: ignore[method-assign]
    _check(harness.run([VAULT_CASE]))
