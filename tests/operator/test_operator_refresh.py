"""`secrets-kit operator refresh` against the real kube-apiserver: ESO's force-sync annotation set on the
named ExternalSecrets (or --all), a missing one named in the error with exit 1, no target exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.peers.kube import KubeCluster
from tests.peers.our_operator import secrets_kit_binary

from .conftest import unique
from .support import context_namespace_kubeconfig
from .test_external_operator import ES_API, crds  # noqa: F401

pytestmark = pytest.mark.peer("kube")


def run(cluster: KubeCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([secrets_kit_binary(), "operator", "refresh", "--kubeconfig", str(cluster.kubeconfig),
                           *args], capture_output=True, text=True, timeout=60)


def force_sync(cluster: KubeCluster, ns: str, name: str) -> str | None:
    es = cluster.request("GET", f"{ES_API}/namespaces/{ns}/externalsecrets/{name}")
    return (es["metadata"].get("annotations") or {}).get("force-sync")


def test_refresh_sets_esos_force_sync_annotation(op_cluster: KubeCluster, crds: None) -> None:  # noqa: F811
    ns = unique("es-refresh")
    op_cluster.ensure_namespace(ns)
    for name in ("a", "b"):
        op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/externalsecrets", {
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
            "spec": {"secretStoreRef": {"name": "none", "kind": "SecretStore"},
                     "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}})

    one = run(op_cluster, "a", "-n", ns)
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() == f"ExternalSecret {ns}/a: refresh requested"
    first = force_sync(op_cluster, ns, "a")
    assert first is not None and float(first) > 0 and force_sync(op_cluster, ns, "b") is None

    every = run(op_cluster, "--all", "-n", ns, "-o", "json")
    assert every.returncode == 0, every.stderr
    rows = json.loads(every.stdout)
    assert [(r["name"], r["refreshed"], r["error"]) for r in rows] == [("a", True, None), ("b", True, None)]
    assert force_sync(op_cluster, ns, "b") is not None and force_sync(op_cluster, ns, "a") != first  # a new value

    missing = run(op_cluster, "a", "ghost", "-n", ns)
    assert missing.returncode == 1
    assert f"ExternalSecret {ns}/ghost: not found" in missing.stderr and f"{ns}/a: refresh requested" in missing.stdout

    nothing = run(op_cluster, "-n", ns)
    assert nothing.returncode == 2 and "--all" in nothing.stderr


def test_refresh_without_n_uses_the_contexts_namespace(op_cluster: KubeCluster, crds: None,  # noqa: F811
                                                       tmp_path: Path) -> None:
    """As kubectl: no -n means the kubeconfig context's namespace, not `default`."""
    ns = unique("es-refresh-ctx")
    op_cluster.ensure_namespace(ns)
    op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/externalsecrets", {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "ctx"},
        "spec": {"secretStoreRef": {"name": "none", "kind": "SecretStore"},
                 "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}})
    kubeconfig = context_namespace_kubeconfig(op_cluster.kubeconfig, ns, tmp_path / "kubeconfig")
    done = subprocess.run([secrets_kit_binary(), "operator", "refresh", "ctx", "--kubeconfig", str(kubeconfig)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ExternalSecret {ns}/ctx: refresh requested"
    assert force_sync(op_cluster, ns, "ctx") is not None
