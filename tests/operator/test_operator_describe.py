"""`secrets-kit operator describe` on the real kube-apiserver with our controllers running (sealed, and
external with ESO v0.16.2's CRDs): each failure kind the operator tests create — store not found, store
not Ready (bad auth), a provider key missing, a template error, a store of another namespace, a cluster
store denying the namespace, a Secret owned by someone else, an immutable Secret, sealed with an unknown
key, sealed for another name, malformed, an unowned Secret, nothing reconciled — shows the right reason
code; a synced object shows its store, next refresh, force-sync and owner; exit codes 0/3/2/6; -o json
parses; and no value reaches stdout or stderr."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.externalsecrets.diagnose import describe_external_secret
from secrets_kit.sealed.model import seal_secret
from tests.peers.kube import KubeCluster
from tests.peers.our_operator import OurController, secrets_kit_binary, start_operator
from tests.sealed.helpers import secret

from .conftest import unique
from .faults_support import private_ours
from .support import (
    assert_no_plaintext,
    b64,
    cert_file,
    context_namespace_kubeconfig,
    marker,
    seal,
    synced,
    wait_for,
)
from .test_external_operator import ES_API, Ours, crds, create, fake_store, get_es, ready_of  # noqa: F401

pytestmark = pytest.mark.peer("kube")
PLAINTEXTS: list[str] = []
OUTPUTS: list[str] = []  # every describe's stdout + stderr: grepped for the values at the end


def value(what: str) -> str:
    PLAINTEXTS.append(text := marker(what))
    return text


def describe(cluster: KubeCluster, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([secrets_kit_binary(), "operator", "describe", "--kubeconfig", str(cluster.kubeconfig),
                           *args], capture_output=True, text=True, timeout=120)
    OUTPUTS.append(done.stdout + done.stderr)
    return done


def report(cluster: KubeCluster, name: str, ns: str, *extra: str) -> tuple[int, dict[str, Any]]:
    done = describe(cluster, name, "-n", ns, "-o", "json", *extra)
    assert done.returncode in (0, 3), done.stderr
    doc = json.loads(done.stdout)
    assert doc["apiVersion"] == "secrets-kit.io/v1" and doc["kind"] == "DescribeReport"
    (item,) = doc["items"]
    assert doc["synced"] is item["synced"] and (done.returncode == 0) is item["synced"]
    return done.returncode, item


def codes(item: dict[str, Any]) -> list[str]:
    return [r["code"] for r in item["reasons"]]


def es_doc(ns: str, name: str, store: str, keys: dict[str, str], **spec: Any) -> dict[str, Any]:
    kind = spec.pop("kind", "SecretStore")
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name, "namespace": ns},
            "spec": {"refreshInterval": spec.pop("refreshInterval", "1h"),
                     "secretStoreRef": {"name": store, "kind": kind},
                     "data": [{"secretKey": k, "remoteRef": {"key": r}} for k, r in keys.items()], **spec}}


# ------------------------------------------------------------------------------------------ the world


@pytest.fixture(scope="module")
def spaces() -> dict[str, str]:
    return {"sealed": unique("d-ss"), "es": unique("d-es"), "keys": unique("d-keys"), "idle": unique("d-idle"),
            "other": unique("d-other")}


@pytest.fixture(scope="module")
def sealed_ours(op_cluster: KubeCluster, spaces: dict[str, str], proxy_ok: None) -> Iterator[OurController]:
    controller = start_operator(op_cluster, namespace=spaces["keys"], watch=(spaces["sealed"],),
                                extra=("--key-renew-period=0",))
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def es_ours(op_cluster: KubeCluster, spaces: dict[str, str], crds: None) -> Iterator[Ours]:  # noqa: F811
    for ns in spaces.values():
        op_cluster.ensure_namespace(ns)
    controller = private_ours(op_cluster, spaces["es"])
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
        shutil.rmtree(controller.log_file.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def external(es_ours: Ours, op_cluster: KubeCluster, spaces: dict[str, str]) -> dict[str, str]:
    """Every ExternalSecret case, created at once, each waited for until its controller has written."""
    ns, other, idle = spaces["es"], spaces["other"], spaces["idle"]
    create(op_cluster, fake_store(ns, "fake", {"/db/password": value("pw"), "/db/user": value("user")}))
    wait_for("the fake store Ready", lambda: (ready_of(op_cluster.request(
        "GET", f"{ES_API}/namespaces/{ns}/secretstores/fake")) or {}).get("status") == "True", 30, es_ours.log_text)
    create(op_cluster, {"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
                        "metadata": {"name": "bad-auth", "namespace": ns},
                        "spec": {"provider": {"vault": {"server": "http://127.0.0.1:9", "path": "kv", "version": "v2",
                                                        "auth": {"tokenSecretRef": {"name": "no-such-token",
                                                                                    "key": "token"}}}}}})
    create(op_cluster, fake_store(other, "theirs", {"/k": value("theirs")}))
    css = unique("d-css")
    create(op_cluster, fake_store("", css, {"/k": value("cluster")}, kind="ClusterSecretStore",
                                  conditions=[{"namespaces": [other]}]))
    op_cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "taken", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                                           "uid": "0b5e7d2e-0000-4000-8000-000000000001",
                                                           "controller": True}]},
        "stringData": {"theirs": "keep"}})
    docs = [
        es_doc(ns, "ok", "fake", {"password": "/db/password"}),
        es_doc(ns, "once", "fake", {"user": "/db/user"}, refreshInterval="0"),
        es_doc(ns, "no-store", "ghost", {"k": "/k"}),
        es_doc(ns, "bad-auth", "bad-auth", {"k": "/k"}),
        es_doc(ns, "missing-key", "fake", {"k": "/no/such/key"}),
        es_doc(ns, "bad-template", "fake", {"password": "/db/password"},
               target={"template": {"data": {"out": "{{ .password | nosuchfunction }}"}}}),
        es_doc(ns, "steal", "theirs", {"k": "/k"}),
        es_doc(ns, "denied", css, {"k": "/k"}, kind="ClusterSecretStore"),
        es_doc(ns, "taken", "fake", {"password": "/db/password"}),
        es_doc(ns, "frozen", "fake", {"password": "/db/password"}, target={"immutable": True}),
        es_doc(idle, "idle", "fake", {"password": "/db/password"}),
    ]
    for doc in docs:
        create(op_cluster, doc)
    for doc in docs[:-1]:
        name = doc["metadata"]["name"]
        wait_for(f"a Ready condition on {name}", lambda name=name: ready_of(get_es(op_cluster, ns, name)),
                 30, es_ours.log_text)
        if ready_of(get_es(op_cluster, ns, name))["status"] == "False":  # type: ignore[index]
            # the Warning event follows the status write
            wait_for(f"the Warning event of {name}", lambda name=name: any(
                e["type"] == "Warning" and e["involvedObject"]["name"] == name
                for e in op_cluster.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]), 30)
    # immutable: a changed provider value cannot reach the synced, immutable Secret
    path = f"{ES_API}/namespaces/{ns}/secretstores/fake"
    store = op_cluster.request("GET", path)
    store["spec"]["provider"]["fake"]["data"][0]["value"] = value("rotated")
    op_cluster.request("PUT", path, store)
    op_cluster.request("PATCH", f"{ES_API}/namespaces/{ns}/externalsecrets/frozen",
                       {"metadata": {"annotations": {"force-sync": str(time.time())}}},
                       content_type="application/merge-patch+json")
    wait_for("frozen fails", lambda: (ready_of(get_es(op_cluster, ns, "frozen")) or {}).get("status") == "False",
             30, es_ours.log_text)
    return {"ns": ns, "idle": idle, "css": css}


@pytest.fixture(scope="module")
def sealed(sealed_ours: OurController, op_cluster: KubeCluster, spaces: dict[str, str], other_pair: Any,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    ns, idle = spaces["sealed"], spaces["idle"]
    cert = cert_file(sealed_ours, tmp_path_factory.mktemp("describe-cert"))
    op_cluster.ensure_namespace(idle)
    put = sealed_ours.create_sealed_secret
    put(seal("seal", secret("good", ns, string_data={"k": value("good")}), cert))
    moved = seal("seal", secret("orig", ns, string_data={"k": value("moved")}), cert)
    moved["metadata"]["name"] = "moved"
    put(moved)
    put(seal_secret(secret("foreign", ns, string_data={"k": value("foreign")}), other_pair.cert.public_key))
    put({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "garbled", "namespace": ns},
         "spec": {"encryptedData": {"k": "%%% not base64 %%%"}}})
    op_cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "taken"}, "stringData": {"mine": "keep"}})
    put(seal("seal", secret("taken", ns, string_data={"k": value("taken")}), cert))
    frozen = secret("frozen", ns, string_data={"k": value("frozen1")})
    frozen["immutable"] = True
    put(seal("seal", frozen, cert))
    put(seal("seal", secret("idle", idle, string_data={"k": value("idle")}), cert))
    for name in ("good", "moved", "foreign", "garbled", "taken", "frozen"):
        synced(sealed_ours, ns, name)
    current = sealed_ours.sealed_secret(ns, "frozen")
    again = secret("frozen", ns, string_data={"k": value("frozen2")})
    again["immutable"] = True
    current["spec"] = seal("seal", again, cert)["spec"]
    op_cluster.request("PUT", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets/frozen", current)
    assert synced(sealed_ours, ns, "frozen", generation=2)["status"] == "False"
    return {"ns": ns, "idle": idle, "keys": spaces["keys"]}


# ------------------------------------------------------------------------------------------ ExternalSecrets


def test_a_synced_external_secret_shows_store_refresh_and_owner(external: dict[str, str],
                                                                op_cluster: KubeCluster) -> None:
    ns = external["ns"]
    code, item = report(op_cluster, "ok", ns)
    assert code == 0 and item["reasons"] == [] and item["kind"] == "ExternalSecret"
    (store,) = item["stores"]
    assert (store["kind"], store["name"], store["found"], store["provider"]) == ("SecretStore", "fake", True, "fake")
    assert (store["ready"]["status"], store["ready"]["reason"]) == ("True", "Valid")
    es = get_es(op_cluster, ns, "ok")
    refreshed = dt.datetime.fromisoformat(es["status"]["refreshTime"].replace("Z", "+00:00"))
    assert item["refresh"]["interval"] == "1h0m0s" and item["refresh"]["lastRefresh"] == es["status"]["refreshTime"]
    assert item["refresh"]["next"] == (refreshed + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    secret_info = item["secret"]
    assert secret_info["exists"] and secret_info["keys"] == ["password"]
    assert secret_info["owner"]["kind"] == "ExternalSecret" and secret_info["owner"]["isThis"]
    assert secret_info["managed"] and secret_info["createdBy"]["match"] and secret_info["dataHash"]["match"]
    refresh = subprocess.run([secrets_kit_binary(), "operator", "refresh", "ok", "-n", ns, "--kubeconfig",
                              str(op_cluster.kubeconfig)], capture_output=True, text=True, timeout=60)
    assert refresh.returncode == 0, refresh.stderr
    forced = get_es(op_cluster, ns, "ok")["metadata"]["annotations"]["force-sync"]
    assert report(op_cluster, "ok", ns)[1]["refresh"]["forceSync"] == forced
    text = describe(op_cluster, "ok", "-n", ns)
    assert text.returncode == 0 and "ExternalSecret" in text.stdout and "SecretStore/fake (fake)" in text.stdout


def test_refresh_interval_zero_never_refreshes(external: dict[str, str], op_cluster: KubeCluster) -> None:
    code, item = report(op_cluster, "once", external["ns"])
    assert code == 0 and item["refresh"]["next"].startswith("never")


@pytest.mark.parametrize(("name", "code", "words"), [
    ("no-store", "store-not-found", 'SecretStore "ghost" not found'),
    ("bad-auth", "store-not-ready", 'SecretStore "bad-auth" is not Ready'),
    ("missing-key", "provider-error", "/no/such/key"),
    ("bad-template", "template-error", "nosuchfunction"),
    ("steal", "store-not-found", 'SecretStore "theirs" not found'),
    ("denied", "store-denied", "denied by spec.condition"),
    ("taken", "secret-owned-by-other", "owner"),
    ("frozen", "secret-immutable", "immutable"),
])
def test_each_external_failure_shows_its_reason(external: dict[str, str], op_cluster: KubeCluster,
                                                name: str, code: str, words: str) -> None:
    exit_code, item = report(op_cluster, name, external["ns"])
    assert exit_code == 3 and item["synced"] is False
    assert codes(item) == [code], item["reasons"]
    assert words in item["reasons"][0]["message"], item["reasons"]
    assert item["condition"]["status"] == "False" and item["warnings"]
    text = describe(op_cluster, name, "-n", external["ns"])
    assert text.returncode == 3 and f"reason:      {code}" in text.stdout and "NOT SYNCED" in text.stdout


def test_store_health_is_shown_for_bad_auth(external: dict[str, str], op_cluster: KubeCluster) -> None:
    _, item = report(op_cluster, "bad-auth", external["ns"])
    (store,) = item["stores"]
    assert store["provider"] == "vault" and store["ready"]["status"] == "False" and store["ready"]["message"]


def test_stores_show_their_health(external: dict[str, str], op_cluster: KubeCluster) -> None:
    code, item = report(op_cluster, "bad-auth", external["ns"], "--kind", "secretstore")
    assert code == 3 and item["kind"] == "SecretStore" and codes(item) == ["store-not-ready"]
    assert item["provider"] == "vault" and "no-such-token" in item["reasons"][0]["message"]
    assert report(op_cluster, "fake", external["ns"], "--kind", "secretstore")[0] == 0
    code, item = report(op_cluster, external["css"], external["ns"], "--kind", "clustersecretstore")
    assert code == 0 and item["kind"] == "ClusterSecretStore" and item["namespace"] is None


def test_an_external_secret_no_controller_watches_was_never_synced(external: dict[str, str],
                                                                   op_cluster: KubeCluster) -> None:
    code, item = report(op_cluster, "idle", external["idle"])
    assert code == 3 and codes(item) == ["never-synced", "store-not-found"]


def test_drift_is_a_reason_pure() -> None:
    """The data-hash check (the controller repairs drift at once, so this runs on the pure core)."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    es = {"metadata": {"name": "a", "namespace": "n", "uid": "u", "generation": 1},
          "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "s"}, "data": []},
          "status": {"refreshTime": "2026-01-01T00:00:00Z", "syncedResourceVersion": "1-x",
                     "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}]}}
    secret_doc = {"metadata": {"name": "a", "labels": {"reconcile.external-secrets.io/managed": "true"},
                               "annotations": {"reconcile.external-secrets.io/data-hash": "0" * 56},
                               "ownerReferences": [{"kind": "ExternalSecret", "name": "a", "uid": "u",
                                                    "controller": True}]},
                  "data": {"k": b64("drifted-value")}}
    store = {"spec": {"provider": {"fake": {}}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    item = describe_external_secret(es, {("SecretStore", "s"): store}, secret_doc, [], now)
    assert codes(item) == ["secret-drifted"] and "drifted-value" not in json.dumps(item)


# ------------------------------------------------------------------------------------------ SealedSecrets


def test_a_synced_sealed_secret_shows_its_key_and_owner(sealed: dict[str, str], sealed_ours: OurController,
                                                        op_cluster: KubeCluster) -> None:
    code, item = report(op_cluster, "good", sealed["ns"], "--controller-namespace", sealed["keys"])
    assert code == 0 and item["kind"] == "SealedSecret" and item["reasons"] == []
    (key,) = sealed_ours.key_secrets()
    keys = item["keys"]
    assert keys["readable"] and [k["name"] for k in keys["available"]] == [key["metadata"]["name"]]
    assert keys["items"]["k"]["key"] == keys["newest"] and keys["items"]["k"]["matchesOwn"]
    assert item["secret"]["owner"]["kind"] == "SealedSecret" and item["secret"]["owner"]["isThis"]
    assert item["secret"]["keys"] == ["k"]


@pytest.mark.parametrize(("name", "code", "words"), [
    ("foreign", "unknown-key", "none of the controller's 1 keys opens it"),
    ("moved", "wrong-scope", "bound to"),
    ("garbled", "malformed", "base64"),
    ("taken", "secret-not-owned", "not managed by this SealedSecret"),
    ("frozen", "secret-immutable", "immutable"),
])
def test_each_sealed_failure_shows_its_reason(sealed: dict[str, str], op_cluster: KubeCluster, name: str,
                                              code: str, words: str) -> None:
    exit_code, item = report(op_cluster, name, sealed["ns"], "--controller-namespace", sealed["keys"])
    assert exit_code == 3 and codes(item) == [code], item["reasons"]
    assert words in item["reasons"][0]["message"], item["reasons"]
    assert item["lastError"]
    text = describe(op_cluster, name, "-n", sealed["ns"], "--controller-namespace", sealed["keys"])
    assert text.returncode == 3 and f"reason:      {code}" in text.stdout


def test_keys_tried_without_access_to_the_keys(sealed: dict[str, str], op_cluster: KubeCluster) -> None:
    """The wrong --controller-namespace: no keys to try, the controller's own message still says why."""
    code, item = report(op_cluster, "foreign", sealed["ns"], "--controller-namespace", "kube-public")
    assert code == 3 and codes(item) == ["unknown-key"] and "tried" in item["reasons"][0]["message"]
    assert any("no usable key Secrets in kube-public" in n for n in item["notes"])


def test_a_sealed_secret_no_controller_watches(sealed: dict[str, str], op_cluster: KubeCluster) -> None:
    code, item = report(op_cluster, "idle", sealed["idle"], "--kind", "sealedsecret")
    assert code == 3 and codes(item) == ["never-synced"]


# ------------------------------------------------------------------------------------------ the command


def test_whole_namespace_all_namespaces_and_exit_codes(sealed: dict[str, str], external: dict[str, str],
                                                       op_cluster: KubeCluster, tmp_path: Path) -> None:
    table = describe(op_cluster, "-n", sealed["ns"], "--controller-namespace", sealed["keys"])
    assert table.returncode == 3
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["KIND", "NAMESPACE", "NAME", "SYNCED", "REASON"]
    assert any(line.split()[:4] == ["SealedSecret", sealed["ns"], "good", "yes"] for line in lines)
    assert "SealedSecret " + sealed["ns"] + "/good: synced" not in table.stdout  # details only for failures
    every = describe(op_cluster, "-A", "-o", "json", "--controller-namespace", sealed["keys"])
    assert every.returncode == 3
    doc = json.loads(every.stdout)
    seen = {(i["kind"], i["namespace"], i["name"]) for i in doc["items"]}
    assert {("SealedSecret", sealed["ns"], "good"), ("ExternalSecret", external["ns"], "ok"),
            ("ExternalSecret", external["idle"], "idle")} <= seen
    only = describe(op_cluster, "-n", external["ns"], "--kind", "externalsecret", "-o", "json")
    assert {i["kind"] for i in json.loads(only.stdout)["items"]} == {"ExternalSecret"}
    good_only = describe(op_cluster, "good", "ok", "-A", "-o", "json", "--controller-namespace", sealed["keys"])
    assert good_only.returncode == 0, good_only.stdout
    ghost = describe(op_cluster, "good", "ghost", "-n", sealed["ns"])
    assert ghost.returncode == 2 and "ghost: not found" in ghost.stderr
    assert describe(op_cluster, "-n", "x", "-A").returncode == 2
    broken = tmp_path / "kubeconfig"
    broken.write_text(op_cluster.kubeconfig.read_text().replace(op_cluster.url, "https://127.0.0.1:9"))
    down = subprocess.run([secrets_kit_binary(), "operator", "describe", "--kubeconfig", str(broken)],
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 6 and "cannot reach the API server" in down.stderr
    empty = unique("d-empty")
    op_cluster.ensure_namespace(empty)
    nothing = describe(op_cluster, "-n", empty)
    assert nothing.returncode == 0 and "no SealedSecrets or ExternalSecrets" in nothing.stdout


def test_without_n_describe_looks_in_the_contexts_namespace(external: dict[str, str], op_cluster: KubeCluster,
                                                            tmp_path: Path) -> None:
    """As kubectl: no -n means the kubeconfig context's namespace (here team-a's stand-in), not `default`."""
    kubeconfig = context_namespace_kubeconfig(op_cluster.kubeconfig, external["ns"], tmp_path / "kubeconfig")
    done = subprocess.run([secrets_kit_binary(), "operator", "describe", "ok", "-o", "json", "--kubeconfig",
                           str(kubeconfig)], capture_output=True, text=True, timeout=120)
    OUTPUTS.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr
    assert [(i["kind"], i["namespace"], i["name"]) for i in json.loads(done.stdout)["items"]] == [
        ("ExternalSecret", external["ns"], "ok")]
    empty = unique("d-ctx-empty")
    op_cluster.ensure_namespace(empty)
    kubeconfig = context_namespace_kubeconfig(op_cluster.kubeconfig, empty, tmp_path / "empty.kubeconfig")
    nothing = subprocess.run([secrets_kit_binary(), "operator", "describe", "--kubeconfig", str(kubeconfig)],
                             capture_output=True, text=True, timeout=120)
    assert nothing.returncode == 0 and f"in namespace {empty}" in nothing.stdout, nothing.stderr



# ------------------------------------------------------------------------------------------ Bitnami's controller


def test_describe_explains_bitnamis_terse_unseal_errors(sealed_controller: Any, kube_cluster: KubeCluster,
                                                        other_pair: Any, tmp_path: Path) -> None:
    """Bitnami's status says only `no key could decrypt secret (k)`: with its keys readable, describe
    tries them and tells a foreign key from a moved SealedSecret."""
    ns = unique("d-bitnami")
    kube_cluster.ensure_namespace(ns)
    cert = tmp_path / "cert.pem"
    cert.write_bytes(sealed_controller.served_cert())
    moved = seal("seal", secret("orig", ns, string_data={"k": value("bitnami-moved")}), cert)
    moved["metadata"]["name"] = "moved"
    sealed_controller.create_sealed_secret(moved)
    sealed_controller.create_sealed_secret(
        seal_secret(secret("foreign", ns, string_data={"k": value("bitnami-foreign")}), other_pair.cert.public_key))
    for name in ("moved", "foreign"):
        condition = sealed_controller.wait_for_status(ns, name)
        assert condition["status"] == "False" and "no key could decrypt secret" in condition["message"]
    (key,) = sealed_controller.key_secrets()
    _, item = report(kube_cluster, "foreign", ns)
    assert codes(item) == ["unknown-key"] and item["keys"]["available"][0]["name"] == key["metadata"]["name"]
    assert item["keys"]["items"]["k"]["key"] is None
    _, item = report(kube_cluster, "moved", ns)
    assert codes(item) == ["wrong-scope"] and f'bound to "{ns}/orig"' in item["reasons"][0]["message"]
    assert item["keys"]["items"]["k"]["keySource"] == f"kube-system/{key['metadata']['name']}"
    # without the keys: the controller's own words, and a note saying why nothing more is known
    _, item = report(kube_cluster, "moved", ns, "--controller-namespace", "kube-public")
    assert codes(item) == ["unseal-failed"] and "no key could decrypt secret (k)" in item["reasons"][0]["message"]



def test_sealed_and_cluster_external_reports_pure() -> None:
    from secrets_kit.externalsecrets.diagnose import describe_cluster_external_secret
    from secrets_kit.sealed.describe import describe_sealed_secret

    ok = {"type": "Synced", "status": "True", "message": ""}
    sealed_doc = {"metadata": {"name": "s", "namespace": "n", "uid": "u", "generation": 2},
                  "spec": {"encryptedData": {"k": "AAAA"}}, "status": {"observedGeneration": 1, "conditions": [ok]}}
    item = describe_sealed_secret(sealed_doc, None, [], None, controller_namespace="kube-system")
    assert codes(item) == ["secret-missing"] and any("generation 2" in n for n in item["notes"])
    assert any("not readable" in n for n in item["notes"])
    idle = describe_sealed_secret({**sealed_doc, "status": {}}, None, [], [], controller_namespace="kube-system")
    assert codes(idle) == ["never-synced"]
    ces = {"metadata": {"name": "c"}, "status": {
        "conditions": [{"type": "Ready", "status": "False", "message": "one or more namespaces failed"}],
        "failedNamespaces": [{"namespace": "x", "reason": "could not create ExternalSecret"}],
        "provisionedNamespaces": ["y"]}}
    report_ces = describe_cluster_external_secret(ces, [])
    assert codes(report_ces) == ["namespaces-failed"] and "x: could not create" in report_ces["reasons"][0]["message"]
    assert report_ces["provisionedNamespaces"] == ["y"]


def test_describe_reads_the_real_esos_objects_the_same_way(eso_controller: Any, kube_cluster: KubeCluster) -> None:
    """The real ESO v0.16.2 wrote the statuses, events, labels and data-hash: describe agrees with it
    (its data-hash check matches ESO's own annotation) and names each failure."""
    ns = eso_controller.namespace
    create(kube_cluster, fake_store(ns, "fake", {"/db/password": value("eso-pw")}))
    for doc in (es_doc(ns, "ok", "fake", {"password": "/db/password"}),
                es_doc(ns, "missing-key", "fake", {"k": "/no/such/key"}),
                es_doc(ns, "no-store", "ghost", {"k": "/k"})):
        create(kube_cluster, doc)
    for name in ("ok", "missing-key", "no-store"):
        eso_controller.wait_for_ready_condition(name)
    for name in ("missing-key", "no-store"):
        wait_for(f"ESO's Warning event on {name}", lambda name=name: any(
            e["type"] == "Warning" and e["involvedObject"]["name"] == name
            for e in kube_cluster.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]), 30)
    code, item = report(kube_cluster, "ok", ns)
    assert code == 0 and item["secret"]["dataHash"]["match"] and item["secret"]["createdBy"]["match"]
    assert item["secret"]["owner"]["isThis"] and item["stores"][0]["ready"]["status"] == "True"
    assert codes(report(kube_cluster, "missing-key", ns)[1]) == ["provider-error"]
    assert codes(report(kube_cluster, "no-store", ns)[1]) == ["store-not-found"]


def test_zz_no_value_in_any_describe_output(sealed: dict[str, str], external: dict[str, str]) -> None:
    assert PLAINTEXTS and len(OUTPUTS) > 10
    assert_no_plaintext(PLAINTEXTS, *OUTPUTS)


def _kubeconfig(path: Path, namespace: str | None, context: str = "c") -> Path:
    ctx: dict[str, Any] = {"cluster": "k", "user": "u", **({"namespace": namespace} if namespace else {})}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": context,
                                "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
                                "users": [{"name": "u", "user": {"token": "t"}}],
                                "contexts": [{"name": context, "context": ctx}]}))
    return path


def test_the_default_namespace_comes_from_the_kubeconfig_the_command_uses(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """--kubeconfig FILE, $KUBECONFIG as a list of files (merged, the first current-context wins), and
    in-cluster (no kubeconfig: `default`), as kubectl resolves them."""
    from secrets_kit_cli.commands.operator_keys import context_namespace, kubeconfig_path

    first = _kubeconfig(tmp_path / "first", "team-a")
    second = _kubeconfig(tmp_path / "second", "team-b", context="other")
    bare = _kubeconfig(tmp_path / "bare", None)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert context_namespace(str(second)) == "team-b"
    assert context_namespace(str(bare)) == "default"
    assert context_namespace(None) == "default"  # in-cluster
    listed = f"{tmp_path / 'missing'}:{first}:{second}"
    monkeypatch.setenv("KUBECONFIG", listed)
    assert context_namespace(None) == "team-a"  # refresh: no --kubeconfig, $KUBECONFIG is what it connects with
    assert context_namespace(kubeconfig_path(None)) == "team-a"  # describe: its option resolved $KUBECONFIG
    assert context_namespace(str(second)) == "team-b"  # --kubeconfig wins over $KUBECONFIG
