"""--shards without an API server: the shard rule is stable across processes, spreads namespaces, keys
cluster-scoped kinds by name; the fair share; the CLI's flags and refusals."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter

from click.testing import CliRunner
from secrets_kit_operator.external.shards import fair_share, item_shard, shard_of


def test_the_shard_of_a_namespace_is_the_same_in_every_process() -> None:
    code = "from secrets_kit_operator.external.shards import shard_of; print([shard_of(f'ns-{i}', 8) for i in range(50)])"
    runs = set()
    for seed in ("1", "2", "random"):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        runs.add(done.stdout)
    assert len(runs) == 1  # not Python's per-process hash()
    # the documented rule, written here: sha256, first 8 bytes big-endian, mod N
    assert [shard_of(f"ns-{i}", 8) for i in range(50)] == [
        int.from_bytes(hashlib.sha256(f"ns-{i}".encode()).digest()[:8], "big") % 8 for i in range(50)]


def test_namespaces_spread_over_every_shard() -> None:
    counts = Counter(shard_of(f"team-{i}", 8) for i in range(800))
    assert set(counts) == set(range(8)) and min(counts.values()) > 60


def test_namespaced_kinds_by_namespace_cluster_scoped_by_name() -> None:
    assert item_shard("ExternalSecret", "apps", "x", 16) == item_shard("SecretStore", "apps", "y", 16) \
        == shard_of("apps", 16)
    assert item_shard("ClusterSecretStore", "", "vault", 16) == shard_of("vault", 16)
    assert item_shard("ClusterExternalSecret", "", "shared", 16) == shard_of("shared", 16)


def test_fair_share_covers_every_shard() -> None:
    for shards in range(1, 20):
        for members in range(1, 8):
            assert fair_share(shards, members) * members >= shards
            assert (fair_share(shards, members) - 1) * members < shards
    assert fair_share(8, 0) == 8


def test_cli_shard_flags() -> None:
    from secrets_kit_cli.commands.operator import operator

    runner = CliRunner()
    helptext = runner.invoke(operator, ["run", "--help"]).output
    assert "--shards" in helptext and "--shard-lease-duration" in helptext
    with_sealed = runner.invoke(operator, ["run", "--external-secrets", "--shards", "2"])
    assert with_sealed.exit_code != 0 and "--no-sealed-secrets" in with_sealed.output
    with_leader = runner.invoke(operator, ["run", "--external-secrets", "--no-sealed-secrets", "--shards", "2",
                                           "--enable-leader-election"])
    assert with_leader.exit_code != 0 and "--enable-leader-election" in with_leader.output
    short = runner.invoke(operator, ["run", "--external-secrets", "--no-sealed-secrets", "--shards", "2",
                                     "--shard-lease-duration", "1s"])
    assert short.exit_code != 0 and "--shard-lease-duration" in short.output
    zero = runner.invoke(operator, ["run", "--external-secrets", "--no-sealed-secrets", "--shards", "0"])
    assert zero.exit_code != 0


def test_the_shards_rbac_is_a_separate_kustomization_for_the_controllers_account() -> None:
    from pathlib import Path

    from secrets_kit.k8s.manifests import load_documents

    folder = Path(__file__).resolve().parents[2] / "operator" / "deploy" / "shards"
    kustomization = load_documents((folder / "kustomization.yaml").read_bytes(), source="kustomization.yaml")[0]
    assert kustomization["resources"] == ["rbac.yaml"]
    docs = {d["kind"]: d for d in load_documents((folder / "rbac.yaml").read_bytes(), source="rbac.yaml")}
    base = Path(__file__).resolve().parents[2] / "operator" / "deploy" / "serviceaccount.yaml"
    account = load_documents(base.read_bytes(), source="serviceaccount.yaml")[0]["metadata"]
    assert docs["Role"]["metadata"]["namespace"] == account["namespace"]
    assert [(r["apiGroups"], r["resources"], sorted(r["verbs"])) for r in docs["Role"]["rules"]] == [
        (["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "list", "update"])]
    assert docs["RoleBinding"]["roleRef"]["name"] == docs["Role"]["metadata"]["name"]
    assert docs["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                                "namespace": account["namespace"]}]
