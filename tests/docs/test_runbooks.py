"""Every runbook in docs/runbooks/ runs as written against the real peers, so none goes stale.

Each runbook's ```sh blocks run in order in one bash session (tests/docs/runbook_text.py has the
convention: `# expect:` lines are checked) with KUBECONFIG on a real kube-apiserver, kubectl 1.32,
kubeseal and the venv's `secrets-kit` on PATH, in a scratch folder. The controllers run as real
processes behind Deployments (tests/docs/standin.py): a block that scales or restarts a Deployment
stops, starts or restarts the real controller before the next block runs.

One kube-apiserver serves every runbook of the module (each uses its own namespaces); the disaster
recovery runbook adds a second, empty one (the "new cluster").
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.cache import bin_dir, find_binary
from tests.peers.kube import KubeAPIError, KubeCluster, missing_binaries, start_cluster, write_kubeconfig

from .runbook_text import sh_blocks
from .shell import Session
from .standin import STARTERS, Workloads

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks"
# Every example value in the runbooks starts so; none may appear in anything a block prints
# (describe, events, statuses, logs the runbook shows).
PLAINTEXT = "not-a-real-password"

pytestmark = [pytest.mark.peer("kube"), pytest.mark.slow]


def _need_peers(*names: str) -> None:
    absent = missing_binaries()
    if absent:
        pytest.skip(f"real kube-apiserver peer missing ({', '.join(absent)}): run `python -m tests.peers.install kube`")
    if "sealed-controller" in names:
        from tests.peers.sealed_controller import missing

        if reason := missing():
            pytest.skip(f"real sealed-secrets controller peer unavailable: {reason}")
    if "eso" in names:
        from tests.peers.eso import missing as eso_missing

        if reason := eso_missing():
            pytest.skip(f"real ESO controller peer unavailable: {reason}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeCluster]:
    _need_peers()
    started = start_cluster()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def crds(cluster: KubeCluster) -> None:
    """Bitnami's SealedSecret CRD and ESO's external-secrets.io CRDs, as a cluster running both has."""
    from tests.peers.eso import register_crds
    from tests.peers.sealed_controller import register_crd

    register_crd(cluster)
    register_crds(cluster)


@pytest.fixture(scope="module")
def workloads(cluster: KubeCluster, crds: None) -> Iterator[Workloads]:
    running = Workloads(cluster)
    try:
        yield running
    finally:
        running.stop()


def only(workloads: Workloads, **replicas: int) -> None:
    """Scale every controller Deployment that exists to 0 except those named (their replicas given)."""
    for name in STARTERS:
        if name not in replicas:
            try:
                workloads.cluster.request("GET", f"/apis/apps/v1/namespaces/{STARTERS[name][0]}/deployments/{name}")
            except KubeAPIError:  # not installed
                continue
            workloads.install(name, 0)
    for name, count in replicas.items():
        workloads.install(name.replace("_", "-"), count)


def shell_env(home: Path, kubeconfig: Path) -> dict[str, str]:
    keep = ("LANG", "LC_ALL", "TERM", "TZ")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(bin_dir()), os.environ.get("PATH", "")])
    env["HOME"] = str(home)
    env["KUBECONFIG"] = str(kubeconfig)
    return env


def run_runbook(name: str, cluster: KubeCluster, workloads: Workloads, tmp_path: Path,
                kubeconfig: Path | None = None, also: tuple[Workloads, ...] = ()) -> list[str]:
    """Run every ```sh block of docs/runbooks/NAME in order; the outputs. After each block the
    Deployments are followed (the module cluster's, and those of `also`)."""
    blocks = sh_blocks((RUNBOOKS / name).read_text())
    assert blocks, f"{name} has no ```sh blocks"
    code = "".join(b.code for b in blocks)
    for tool, peer in (("kubeseal", "kubeseal"), ("age", "age")):
        if re.search(rf"(^|[|(\s]){tool}\s", code, re.M) and find_binary(tool) is None:
            pytest.skip(f"{name} runs {tool}: run `python -m tests.peers.install {peer}`")
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    if kubeconfig is None:
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, cluster.url, cluster.ca_file, "admin", cluster.admin_token)
    session = Session(work, shell_env(home, kubeconfig))
    outputs: list[str] = []
    try:
        for block in blocks:
            outputs.append(session.run(block, name))
            print(f"--- {name} block {block.number}:\n{outputs[-1]}")  # shown with -s or on a failure
            for followed in (workloads, *also):
                followed.follow()
    finally:
        session.close()
    for number, text in enumerate(outputs, 1):
        assert PLAINTEXT not in text, f"{name} block {number} printed a secret value:\n{text}"
        for bad in ("Traceback", "command not found"):
            assert bad not in text, f"{name} block {number}:\n{text}"
    return outputs


def test_runbook_index_lists_every_runbook_and_each_has_a_test() -> None:
    index = (REPO / "docs" / "README.md").read_text()
    for path in sorted(RUNBOOKS.glob("*.md")):
        assert f"runbooks/{path.name}" in index, f"docs/README.md does not link {path.name}"
        runner = f"test_{path.stem.replace('-', '_')}"
        assert runner in globals(), f"{path.name} has no {runner} here: its commands would never run"


def test_sync_failing(cluster: KubeCluster, workloads: Workloads, tmp_path: Path) -> None:
    only(workloads, secrets_kit_external=1)
    run_runbook("sync-failing.md", cluster, workloads, tmp_path)
    secret = cluster.request("GET", "/api/v1/namespaces/shop/secrets/shop-db")
    assert sorted(secret["data"]) == ["password", "username"]
    assert secret["metadata"]["labels"]["reconcile.external-secrets.io/managed"] == "true"


def test_force_refresh(cluster: KubeCluster, workloads: Workloads, tmp_path: Path) -> None:
    only(workloads, secrets_kit_external=1)
    run_runbook("force-refresh.md", cluster, workloads, tmp_path)
    secret = cluster.request("GET", "/api/v1/namespaces/billing/secrets/billing-api")
    assert base64.b64decode(secret["data"]["token"]).endswith(b"-v2")


def key_names(cluster: KubeCluster) -> set[str]:
    listing = cluster.request("GET", "/api/v1/namespaces/kube-system/secrets?labelSelector="
                              "sealedsecrets.bitnami.com/sealed-secrets-key")
    return {s["metadata"]["name"] for s in listing["items"]}


def test_sealing_keys(cluster: KubeCluster, workloads: Workloads, tmp_path: Path) -> None:
    _need_peers("sealed-controller")
    only(workloads, secrets_kit=1)
    first = key_names(cluster)
    run_runbook("sealing-keys.md", cluster, workloads, tmp_path)
    after = key_names(cluster)
    assert first <= after and len(after) > len(first), "the rotated and restored keys are all there"
    assert not (tmp_path / "work" / "sealing-keys.yaml").exists(), "the plaintext backup was removed"


def secret_versions(cluster: KubeCluster, namespace: str) -> dict[str, str]:
    listing = cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets")
    return {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in listing["items"]}


def test_migrate_bitnami(cluster: KubeCluster, workloads: Workloads, tmp_path: Path) -> None:
    _need_peers("sealed-controller")
    only(workloads, sealed_secrets_controller=1, secrets_kit=0)
    run_runbook("migrate-bitnami.md", cluster, workloads, tmp_path)
    # checked here too, not only by the runbook's own awk: the first two Secrets were never written again
    versions = secret_versions(cluster, "orders")
    assert sorted(versions) == ["orders-api", "orders-cache", "orders-db", "orders-queue"]
    before = dict(line.split() for line in (tmp_path / "work" / "before.txt").read_text().splitlines())
    assert all(before[f"orders/{name}"] == versions[name] for name in ("orders-db", "orders-queue"))


def test_migrate_eso(cluster: KubeCluster, workloads: Workloads, tmp_path: Path) -> None:
    _need_peers("eso")
    workloads.install("external-secrets", 0, args=["--namespace=inventory"])
    only(workloads, external_secrets=1, secrets_kit_external=0)
    run_runbook("migrate-eso.md", cluster, workloads, tmp_path)
    assert sorted(secret_versions(cluster, "inventory")) == ["inventory-api", "inventory-api-copy", "inventory-db"]
    # the snapshots the runbook took, compared here too (not only by its awk)
    work = tmp_path / "work"
    for first, second in (("before", "after-ours"), ("before-back", "after-back")):
        one, two = (snapshot(work / f"{n}.txt") for n in (first, second))
        assert {k: v for k, v in one.items() if k in two} == {k: two[k] for k in one if k in two}
        assert "inventory/inventory-db" in one
    refreshed = snapshot(work / "after-refresh.txt")
    assert refreshed["inventory/inventory-db"] != snapshot(work / "after-back.txt")["inventory/inventory-db"]


def snapshot(path: Path) -> dict[str, str]:
    return dict(line.split() for line in path.read_text().splitlines())


def test_stuck_secret(cluster: KubeCluster, workloads: Workloads, tmp_path: Path) -> None:
    _need_peers("sealed-controller")
    only(workloads, secrets_kit=1, secrets_kit_external=1)
    run_runbook("stuck-secret.md", cluster, workloads, tmp_path)
    api = cluster.request("GET", "/api/v1/namespaces/catalog/secrets/catalog-api")
    assert base64.b64decode(api["data"]["token"]).endswith(b"-v2") and api["immutable"] is True
    db = cluster.request("GET", "/api/v1/namespaces/catalog/secrets/catalog-db")  # the ExternalSecret left it alone
    assert [r["kind"] for r in db["metadata"]["ownerReferences"]] == ["SealedSecret"]
    assert "reconcile.external-secrets.io/managed" not in (db["metadata"].get("labels") or {})


def two_cluster_kubeconfig(path: Path, old: KubeCluster, new: KubeCluster) -> None:
    """One kubeconfig, contexts old-cluster (current) and new-cluster, as an operator has after creating
    the replacement cluster."""

    def entry(name: str, cluster: KubeCluster) -> tuple[dict[str, object], ...]:
        ca = base64.b64encode(cluster.ca_file.read_bytes()).decode()
        return ({"name": name, "cluster": {"server": cluster.url, "certificate-authority-data": ca}},
                {"name": f"{name}-admin", "user": {"token": cluster.admin_token}},
                {"name": name, "context": {"cluster": name, "user": f"{name}-admin"}})

    parts = [entry("old-cluster", old), entry("new-cluster", new)]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "old-cluster",
              "clusters": [p[0] for p in parts], "users": [p[1] for p in parts], "contexts": [p[2] for p in parts]}
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)


def test_disaster_recovery(cluster: KubeCluster, workloads: Workloads, tmp_path: Path) -> None:
    _need_peers("sealed-controller")
    from tests.peers.eso import register_crds
    from tests.peers.sealed_controller import register_crd

    only(workloads, secrets_kit=1, secrets_kit_external=1)
    new = start_cluster()
    fresh = Workloads(new)
    try:
        register_crd(new)
        register_crds(new)
        fresh.install("secrets-kit", 0)
        fresh.install("secrets-kit-external", 0)
        kubeconfig = tmp_path / "kubeconfig"
        two_cluster_kubeconfig(kubeconfig, cluster, new)
        run_runbook("disaster-recovery.md", cluster, workloads, tmp_path, kubeconfig=kubeconfig, also=(fresh,))
        old_keys, new_keys = key_names(cluster), key_names(new)
        assert old_keys == new_keys, "the new cluster holds exactly the old cluster's keys (none generated)"
        for name in ("ledger-db", "ledger-api"):
            mine, theirs = (c.request("GET", f"/api/v1/namespaces/ledger/secrets/{name}") for c in (cluster, new))
            assert mine["data"] == theirs["data"], f"{name}: the new cluster's Secret equals the old one's"
    finally:
        fresh.stop()
        new.stop()


def bitnami_metrics(controller: object) -> str:
    """Bitnami's /metrics (the peer fixture picks its metrics port; it is in the command line)."""
    import urllib.request

    args = getattr(getattr(controller, "proc", None), "args", None) or []
    address = next(a.split("=", 1)[1] for a in args if str(a).startswith("--listen-metrics-addr="))
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def test_alert_rules_read_only_exported_metrics(cluster: KubeCluster, workloads: Workloads) -> None:
    """Every metric an alert rule or a dashboard panel reads is exported by our operator, and each by at least one running
    controller, ours or the upstream one, after the runbooks above left failures and syncs behind (so the
    labelled series exist). `up` is Prometheus's own."""
    from .alert_rules import SYNTHETIC, dashboard_metric_names, exported_names, metric_names

    _need_peers("sealed-controller", "eso")
    wanted = set().union(*metric_names().values(), *dashboard_metric_names().values()) - SYNTHETIC
    only(workloads, secrets_kit=1, secrets_kit_external=1)
    ours = set()
    for name in ("secrets-kit", "secrets-kit-external"):
        ours |= exported_names(workloads.process(name).metrics_text())  # type: ignore[union-attr]
    assert wanted <= ours, f"our operator does not export {sorted(wanted - ours)}"
    # ESO as the ESO migration runbook left it (watching `inventory`, with a store there), also when run alone
    workloads.install("external-secrets", 0, args=["--namespace=inventory"])
    cluster.ensure_namespace("inventory")
    with contextlib.suppress(KubeAPIError):
        cluster.request("POST", "/apis/external-secrets.io/v1/namespaces/inventory/secretstores", {
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "inventory-store"},
            "spec": {"provider": {"fake": {"data": []}}}})
    only(workloads, sealed_secrets_controller=1, external_secrets=1)
    # Go's client exports a labelled family only once it has a series: give Bitnami's an unseal error
    # (a SealedSecret no key opens) and ESO's a failing ExternalSecret in the namespace it watches
    garbled = base64.b64encode(b"\x00\x02" + bytes(600)).decode()
    cluster.request("POST", "/apis/bitnami.com/v1alpha1/namespaces/inventory/sealedsecrets", {
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "unopenable"},
        "spec": {"encryptedData": {"k": garbled}}})
    cluster.request("POST", "/apis/external-secrets.io/v1/namespaces/inventory/externalsecrets", {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "no-such-key"},
        "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "inventory-store", "kind": "SecretStore"},
                 "data": [{"secretKey": "k", "remoteRef": {"key": "inventory/none"}}]}})
    bitnami, eso = workloads.process("sealed-secrets-controller"), workloads.process("external-secrets")
    # ESO in namespaced mode (--namespace) does not reconcile ClusterSecretStores; the fake provider makes no
    # provider API calls (ours counts none for it either, but declares the family)
    allowed = {"clustersecretstore_status_condition", "externalsecret_provider_api_calls_count"}
    upstream: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not wanted - upstream <= allowed:
        time.sleep(1)
        upstream = exported_names(bitnami_metrics(bitnami)) | exported_names(eso.metrics_text())  # type: ignore[union-attr]
    only(workloads)
    assert wanted - upstream <= allowed, sorted(wanted - upstream)
