"""`make demo` (tests/peers/demo.py) end to end, and its table function.

The end-to-end test runs the entry point `make demo` runs (`python -m tests.peers.demo`, here with
`-o json --keep`), then reads the cluster itself through the kubeconfig the demo printed: every
ClusterSecretStore, SealedSecret and ExternalSecret of the example repository is listed, each object's
row says what the cluster says, each Ready row's Secret exists, is owned by its object and holds exactly
the listed keys, and no value of any of those Secrets (the seeded provider values and the example
plaintexts) appears in the demo's stdout or stderr, or in the operator's log. Then `down` stops every
process it left running.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.k8s.manifests import load_documents
from tests.peers import demo_table
from tests.peers.demo_manifests import STORES_FILE, object_path
from tests.peers.demo_peers import API, ENVIRONMENTS, EXAMPLES, missing_peers
from tests.peers.kube import KubeCluster

pytestmark = pytest.mark.peer("kube")
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------ pure: the table


def _obj(kind: str, name: str, ns: str = "", *, uid: str = "", status: str | None = None, reason: str = "",
         target: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": uid or f"uid-{kind}-{name}"}
    if ns:
        meta["namespace"] = ns
    doc: dict[str, Any] = {"kind": kind, "metadata": meta, "spec": {}}
    if target:
        doc["spec"]["target"] = {"name": target}
    if status is not None:
        doc["status"] = {"conditions": [{"type": demo_table.CONDITION[kind], "status": status, "reason": reason}]}
    return doc


def _secret(name: str, ns: str, keys: list[str], owner_uid: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if owner_uid:
        meta["ownerReferences"] = [{"uid": owner_uid, "kind": "X", "name": "x"}]
    return {"metadata": meta, "data": {k: base64.b64encode(b"value-never-shown").decode() for k in keys}}


def test_rows_name_each_object_its_state_and_the_secret_it_owns() -> None:
    es = _obj("ExternalSecret", "smtp", "demo-dev", status="True", reason="SecretSynced", target="smtp-out")
    ss = _obj("SealedSecret", "token", "demo-dev", status="False")
    pending = _obj("ExternalSecret", "later", "demo-dev")
    store = _obj("ClusterSecretStore", "vault", status="True", reason="Valid")
    secrets = [_secret("smtp-out", "demo-dev", ["b", "a"], es["metadata"]["uid"]),
               _secret("token", "demo-dev", ["token"], None),  # not owned: not the SealedSecret's product
               _secret("later", "demo-prod", ["x"], pending["metadata"]["uid"])]  # other namespace
    rows = demo_table.rows([es, ss, pending, store], secrets)
    assert [(r.kind, r.namespace, r.name) for r in rows] == [
        ("ClusterSecretStore", "", "vault"), ("SealedSecret", "demo-dev", "token"),
        ("ExternalSecret", "demo-dev", "later"), ("ExternalSecret", "demo-dev", "smtp")]
    by_name = {r.name: r for r in rows}
    assert by_name["smtp"] == demo_table.Row("ExternalSecret", "demo-dev", "smtp", "Ready", "True", "SecretSynced",
                                             "smtp-out", ("a", "b"))
    assert (by_name["token"].condition, by_name["token"].status, by_name["token"].secret) == ("Synced", "False", "")
    assert (by_name["later"].status, by_name["later"].secret, by_name["later"].keys) == ("Unknown", "", ())
    assert by_name["vault"].ready and not by_name["token"].ready
    text = demo_table.table(rows)
    assert text.splitlines()[0].split() == ["KIND", "NAMESPACE", "NAME", "STATE", "REASON", "SECRET", "KEYS"]
    assert "smtp-out  a,b" in text and "Synced=False" in text and "value-never-shown" not in text
    assert json.loads(json.dumps([r.to_json() for r in rows]))[3]["keys"] == ["a", "b"]


# ------------------------------------------------------------------------------ what the demo should list


def expected_objects() -> set[tuple[str, str, str]]:
    """From the example repository itself: its stores, each environment's ExternalSecrets, and the
    Secrets its deploy/<env> holds (sealed, SOPS-encrypted, placeholders, secretGenerator: name prefix)."""
    out = {("ClusterSecretStore", "", str(d["metadata"]["name"]))
           for d in load_documents((EXAMPLES / STORES_FILE).read_bytes(), source="stores")}
    for env in ENVIRONMENTS:
        ns, deploy = f"demo-{env}", EXAMPLES / "gitops" / "deploy" / env
        for doc in load_documents((deploy / "external-secrets.yaml").read_bytes(), source=env):
            out.add(("ExternalSecret", ns, str(doc["metadata"]["name"])))
        for plain in sorted((EXAMPLES / "plaintext" / "gitops" / env).glob("*.yaml")):
            out.add(("SealedSecret", ns, str(load_documents(plain.read_bytes(), source=str(plain))[0]["metadata"]["name"])))
        kustomization = load_documents((deploy / "kustomization.yaml").read_bytes(), source=env)[0]
        for resource in kustomization.get("resources") or []:
            path = deploy / str(resource)
            if path.is_file() and path.suffix == ".yaml" and not path.name.endswith(("sops.yaml", "sealed.yaml")):
                for doc in load_documents(path.read_bytes(), source=str(path)):
                    if doc.get("kind") == "Secret":
                        out.add(("SealedSecret", ns, str(doc["metadata"]["name"])))
        for generator in kustomization.get("secretGenerator") or []:
            out.add(("SealedSecret", ns, f"{generator['name']}-*"))
    return out


def _matches(listed: set[tuple[str, str, str]], expected: set[tuple[str, str, str]]) -> bool:
    def hit(e: tuple[str, str, str], item: tuple[str, str, str]) -> bool:
        if e[2].endswith("-*"):
            return e[:2] == item[:2] and item[2].startswith(e[2][:-1]) and len(item[2]) > len(e[2])
        return e == item

    return len(listed) == len(expected) and all(sum(hit(e, i) for i in listed) == 1 for e in expected)


def cluster_from_kubeconfig(path: Path, scratch: Path) -> KubeCluster:
    """A client that reads the cluster with only what the demo printed: the kubeconfig's server, CA and token."""
    config = json.loads(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca = scratch / "ca.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    return KubeCluster(url=cluster["server"], ca_file=ca, admin_token=config["users"][0]["user"]["token"],
                       kubeconfig=path, workdir=scratch, sa_public_key=ca, issuer="")


def _values(secret: dict[str, Any]) -> list[str]:
    """Every value of a Secret, and the generated members of JSON values (the demo's fake service-account
    key holds `fake-...` fields next to its project id, which the demo prints as such)."""
    out: list[str] = []
    for raw in (secret.get("data") or {}).values():
        text = base64.b64decode(raw).decode()
        out.append(text)
        try:
            decoded = json.loads(text)
        except ValueError:
            continue
        if isinstance(decoded, dict):
            out += [v for v in decoded.values() if isinstance(v, str) and v.startswith("fake-")]
    return [v for v in out if len(v) >= 8]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---------------------------------------------------------------------------------------- end to end


def test_demo_end_to_end_table_matches_the_cluster() -> None:
    missing = missing_peers()
    if missing:
        pytest.skip("make demo needs: " + "; ".join(missing))
    with tempfile.TemporaryDirectory(prefix="secrets-kit-demo-test-") as scratch_name:
        scratch = Path(scratch_name)
        state = scratch / "state.json"
        entry = [sys.executable, "-m", "tests.peers.demo"]
        try:
            done = subprocess.run([*entry, "-o", "json", "--keep", "--state", str(state), "--timeout", "90"],
                                  cwd=REPO, capture_output=True, text=True, timeout=400)
            assert done.returncode == 0, done.stderr[-3000:]
            report = json.loads(done.stdout)
            saved = json.loads(state.read_text())
            assert report["settled"] and report["kept"] and report["down"].startswith("python -m tests.peers.demo down")
            cluster = cluster_from_kubeconfig(Path(report["exports"]["KUBECONFIG"]), scratch)
            rows = [demo_table.Row(**{**r, "keys": tuple(r["keys"])}) for r in
                    ({k: v for k, v in row.items() if k != "ready"} for row in report["objects"])]
            listed = {(r.kind, r.namespace, r.name) for r in rows}
            assert _matches(listed, expected_objects()), sorted(listed)
            # nothing else of these kinds is on the cluster
            on_cluster = {(kind, d["metadata"].get("namespace", ""), d["metadata"]["name"])
                          for kind, (api, plural) in API.items()
                          for d in cluster.request("GET", f"{api}/{plural}")["items"]}
            assert on_cluster == listed
            operator_log = next(Path(p["workdir"]) / "operator.log" for p in saved["processes"]
                                if p["what"] == "secrets-kit operator").read_text(errors="replace")
            assert operator_log.strip(), "the operator wrote no log to search"
            leaked_from: list[str] = []
            for row in rows:
                doc = {"kind": row.kind, "metadata": {"name": row.name, "namespace": row.namespace}}
                live = cluster.request("GET", object_path(doc))
                conditions = {c["type"]: c for c in (live.get("status") or {}).get("conditions") or []}
                assert row.status == conditions[row.condition]["status"] == "True", (row, conditions)
                assert row.reason == (conditions[row.condition].get("reason") or "")
                if row.kind == "ClusterSecretStore":
                    assert (row.secret, row.keys) == ("", ())
                    continue
                secret = cluster.request("GET", f"/api/v1/namespaces/{row.namespace}/secrets/{row.secret}")
                assert row.secret == demo_table.target_name(live)
                assert tuple(sorted(secret["data"])) == row.keys and row.keys, row
                assert live["metadata"]["uid"] in [o["uid"] for o in secret["metadata"]["ownerReferences"]]
                for text in _values(secret):
                    if text in done.stdout or text in done.stderr or text in operator_log:
                        leaked_from.append(f"{row.namespace}/{row.secret}")
            assert not leaked_from, f"a Secret value of {leaked_from} appears in the demo's output or operator log"
            assert report["seconds"] < 300
        finally:
            down = subprocess.run([*entry, "down", "--state", str(state)], cwd=REPO, capture_output=True,
                                  text=True, timeout=120)
        assert down.returncode == 0, down.stderr
        assert not state.exists()
        pids = [p["pid"] for p in saved["processes"] if p["pid"]] + list(saved["kube"]["pids"].values())
        assert pids and not [pid for pid in pids if _alive(pid)]
