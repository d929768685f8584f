"""Compatibility with the real Bitnami sealed-secrets controller v0.36.6 on a real kube-apiserver.

- What our `seal` / `kubeseal` drop-in seals, the controller unseals into exactly that Secret
  (every scope, and the scope's binding checked by moving the SealedSecret).
- `kubeseal --fetch-cert / --validate / --re-encrypt` reach the controller through the API
  server's service proxy and give the same results as the real kubeseal.
- The controller's key Secrets import into a key folder and open what its certificate sealed.

One controller runs per session (keys in kube-system, Service sealed-secrets-controller, the
upstream defaults); each test works in its own namespace.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.k8s.manifests import dump_json
from secrets_kit.sealed.model import seal_secret
from tests.peers.kube import KubeCluster, write_kubeconfig
from tests.peers.sealed_controller import SealedController

from .helpers import docs_of, kubeseal, run_cli, secret, yaml_of

pytestmark = pytest.mark.peer("sealed-controller")

SCOPES = ("strict", "namespace-wide", "cluster-wide")


def marker(what: str) -> str:
    """A plaintext value no log or output may contain unless it is meant to."""
    return f"{what}-{secrets.token_hex(8)}"


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def env_for(cluster: KubeCluster) -> dict[str, str]:
    return {"KUBECONFIG": str(cluster.kubeconfig)}


def cert_file(controller: SealedController, tmp_path: Path) -> Path:
    path = tmp_path / "controller.pem"
    path.write_bytes(controller.newest_cert())
    return path


def assert_no_plaintext(values: list[str], *texts: str | bytes) -> None:
    for text in texts:
        body = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        for value in values:
            assert value not in body, "plaintext leaked"


def moved(doc: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    """The SealedSecret under another name/namespace (ciphertext unchanged)."""
    out = json.loads(json.dumps(doc))
    out["metadata"]["name"], out["metadata"]["namespace"] = name, namespace
    template_meta = out["spec"].get("template", {}).get("metadata") or {}
    template_meta.pop("name", None)
    template_meta.pop("namespace", None)
    return out


# ------------------------------------------------------------------------------------------- (a)


@pytest.mark.parametrize("tool", ["seal", "kubeseal"])
@pytest.mark.parametrize("scope", SCOPES)
def test_controller_unseals_what_we_seal(sealed_controller: SealedController, kube_cluster: KubeCluster,
                                         kube_namespace: str, tmp_path: Path, tool: str, scope: str) -> None:
    ns = kube_namespace
    password, note = marker("password"), marker("note")
    binary = b"\x00\x01\xfe\xff" + secrets.token_bytes(8)
    src = secret("app-creds", ns, string_data={"password": password, "note": f"{note}\nline two\n",
                                               "empty": ""},
                 data={"blob": b64(binary)}, labels={"app": "web"}, annotations={"team": "payments"})
    cert = cert_file(sealed_controller, tmp_path)
    if tool == "seal":
        done = run_cli("seal", "--cert", cert, "--scope", scope, input=yaml_of(src))
    else:
        done = run_cli("kubeseal", "--cert", cert, "--scope", scope, "-o", "yaml", input=yaml_of(src))
    assert done.code == 0, done.err
    assert_no_plaintext([password, note], done.out, done.err)
    sealed = docs_of(done.out)[0]
    assert sealed["kind"] == "SealedSecret"

    # strict: as sealed; namespace-wide: renamed in the namespace; cluster-wide: another namespace too
    target_ns, target_name = ns, "app-creds"
    if scope == "namespace-wide":
        target_name = "renamed"
    elif scope == "cluster-wide":
        target_ns, target_name = f"{ns}-other", "elsewhere"
        kube_cluster.ensure_namespace(target_ns)
    applied = moved(sealed, target_ns, target_name)
    sealed_controller.create_sealed_secret(applied)

    condition = sealed_controller.wait_for_status(target_ns, target_name)
    assert condition["status"] == "True", condition
    out = sealed_controller.wait_for_secret(target_ns, target_name)
    assert out["data"] == {"password": b64(password), "note": b64(f"{note}\nline two\n"), "empty": "",
                           "blob": b64(binary)}
    assert out["type"] == "Opaque"
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["metadata"]["annotations"]["team"] == "payments"
    owners = out["metadata"].get("ownerReferences") or []
    assert [(o["kind"], o["name"], o.get("controller")) for o in owners] == [("SealedSecret", target_name, True)]
    assert_no_plaintext([password, note], sealed_controller.log_text())


@pytest.mark.parametrize("scope", ["strict", "namespace-wide"])
def test_controller_refuses_a_sealed_secret_moved_out_of_its_scope(
        sealed_controller: SealedController, kube_namespace: str, tmp_path: Path, scope: str) -> None:
    ns = kube_namespace
    value = marker("value")
    cert = cert_file(sealed_controller, tmp_path)
    done = run_cli("seal", "--cert", cert, "--scope", scope, input=yaml_of(secret("orig", ns,
                                                                                  string_data={"k": value})))
    assert done.code == 0, done.err
    # strict binds the name, namespace-wide the namespace: both break when the SealedSecret moves so
    target_ns = ns if scope == "strict" else "default"
    target = moved(docs_of(done.out)[0], target_ns, f"moved-{secrets.token_hex(3)}")
    sealed_controller.create_sealed_secret(target)
    condition = sealed_controller.wait_for_status(target_ns, target["metadata"]["name"])
    assert condition["status"] == "False"
    assert "no key could decrypt secret" in condition.get("message", "")
    assert not sealed_controller.secret_exists(target_ns, target["metadata"]["name"])
    assert_no_plaintext([value], sealed_controller.log_text())


def test_controller_unseals_what_we_seal_from_the_cluster(sealed_controller: SealedController,
                                                          kube_cluster: KubeCluster, kube_namespace: str) -> None:
    """`seal --from-cluster` fetches the certificate through the service proxy itself."""
    value = marker("api-key")
    done = run_cli("seal", "--from-cluster", "--kubeconfig", kube_cluster.kubeconfig,
                   input=yaml_of(secret("fetched", kube_namespace, string_data={"api-key": value})))
    assert done.code == 0, done.err
    sealed_controller.create_sealed_secret(docs_of(done.out)[0])
    out = sealed_controller.wait_for_secret(kube_namespace, "fetched")
    assert out["data"] == {"api-key": b64(value)}


# ------------------------------------------------------------------------------------------- (b)


def test_fetch_cert_through_the_service_proxy_like_kubeseal(sealed_controller: SealedController,
                                                            kube_cluster: KubeCluster,
                                                            kubeseal_bin: Path) -> None:
    env = env_for(kube_cluster)
    theirs = kubeseal(kubeseal_bin, "--fetch-cert", env=env)
    assert theirs.returncode == 0, theirs.stderr
    ours = run_cli("kubeseal", "--fetch-cert", env=env)
    assert ours.code == 0, ours.err
    assert ours.out == theirs.stdout == sealed_controller.newest_cert() == sealed_controller.served_cert()
    explicit = ["--controller-namespace", "kube-system", "--controller-name", "sealed-secrets-controller"]
    again = run_cli("kubeseal", "--fetch-cert", *explicit, env=env)
    assert again.code == 0 and again.out == theirs.stdout


def test_kubeseal_without_cert_fetches_and_fills_the_kubeconfig_namespace(
        sealed_controller: SealedController, kube_cluster: KubeCluster, kube_namespace: str,
        kubeseal_bin: Path, tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    write_kubeconfig(config, kube_cluster.url, kube_cluster.ca_file, "admin", kube_cluster.admin_token,
                     kube_namespace)
    value = marker("s")
    env = {"KUBECONFIG": str(config)}

    def src(name: str) -> str:
        return yaml_of(secret(name, None, string_data={"s": value}))

    theirs = kubeseal(kubeseal_bin, "-o", "yaml", input=src("theirs"), env=env)
    assert theirs.returncode == 0, theirs.stderr
    ours = run_cli("kubeseal", "-o", "yaml", input=src("ours"), env=env)
    assert ours.code == 0, ours.err
    assert_no_plaintext([value], ours.out, ours.err)
    for name, text in (("theirs", theirs.stdout), ("ours", ours.out)):
        doc = docs_of(text)[0]
        assert doc["metadata"]["namespace"] == kube_namespace
        sealed_controller.create_sealed_secret(doc)
        assert sealed_controller.wait_for_secret(kube_namespace, name)["data"] == {"s": b64(value)}


def test_direct_proxy_url_needs_the_api_servers_credentials(sealed_controller: SealedController,
                                                            kube_cluster: KubeCluster, kubeseal_bin: Path) -> None:
    """--cert URL is a plain GET: no kubeconfig token or CA, so both tools fail on the real API server."""
    url = kube_cluster.url + sealed_controller.proxy_path() + "/v1/cert.pem"
    assert kubeseal(kubeseal_bin, "--cert", url, "--fetch-cert").returncode != 0
    refused = run_cli("kubeseal", "--cert", url, "--fetch-cert")
    assert refused.code == 1 and "cannot fetch certificate" in refused.err


def test_fetch_cert_errors_like_kubeseal(sealed_controller: SealedController, kube_cluster: KubeCluster,
                                         kubeseal_bin: Path, tmp_path: Path) -> None:
    env = env_for(kube_cluster)
    theirs = kubeseal(kubeseal_bin, "--fetch-cert", "--controller-name", "nope", env=env)
    assert theirs.returncode != 0 and b"cannot get sealed secret service" in theirs.stderr
    ours = run_cli("kubeseal", "--fetch-cert", "--controller-name", "nope", env=env)
    assert ours.code == 1 and "cannot get sealed secret service" in ours.err and "--controller-name" in ours.err
    bad = tmp_path / "bad-token.kubeconfig"
    bad.write_text(kube_cluster.kubeconfig.read_text().replace(kube_cluster.admin_token, "wrong-token"))
    theirs = kubeseal(kubeseal_bin, "--fetch-cert", env={"KUBECONFIG": str(bad)})
    assert theirs.returncode != 0 and b"Unauthorized" in theirs.stderr
    denied = run_cli("kubeseal", "--fetch-cert", env={"KUBECONFIG": str(bad)})
    assert denied.code == 1 and "Unauthorized" in denied.err


def test_default_name_falls_back_to_the_charts_service(sealed_controller: SealedController,
                                                       kube_cluster: KubeCluster, kube_namespace: str) -> None:
    """The Helm chart names the Service `sealed-secrets`; ours finds it by label when the default
    name is absent, and the real proxy then reaches the real controller."""
    sealed_controller.expose(kube_namespace, "sealed-secrets",
                             labels={"app.kubernetes.io/name": "sealed-secrets"})
    ours = run_cli("kubeseal", "--fetch-cert", "--controller-namespace", kube_namespace,
                   env=env_for(kube_cluster))
    assert ours.code == 0, ours.err
    assert ours.out == sealed_controller.newest_cert()


def test_validate_through_the_controller_like_kubeseal(sealed_controller: SealedController,
                                                       kube_cluster: KubeCluster, kube_namespace: str,
                                                       kubeseal_bin: Path, other_pair: Any,
                                                       tmp_path: Path) -> None:
    env = env_for(kube_cluster)
    value = marker("v")
    src = secret("mysecret", kube_namespace, string_data={"a": value})
    good = run_cli("kubeseal", "--cert", cert_file(sealed_controller, tmp_path), "-o", "json",
                   input=yaml_of(src))
    assert good.code == 0, good.err
    bad = dump_json(seal_secret(src, other_pair.cert.public_key))  # a key the controller never had
    moved_strict = dump_json(moved(json.loads(good.out), kube_namespace, "othername"))
    for text, ok in ((good.text, True), (bad, False), (moved_strict, False)):
        theirs = kubeseal(kubeseal_bin, "--validate", input=text, env=env)
        ours = run_cli("kubeseal", "--validate", input=text, env=env)
        assert theirs.returncode == 0 if ok else theirs.returncode != 0, theirs.stderr
        assert (ours.code == 0) is ok, ours.err
        if not ok:
            name = json.loads(text)["metadata"]["name"]
            assert f"unable to decrypt sealed secret: {name}".encode() in theirs.stderr
            assert f"unable to decrypt sealed secret: {name}" in ours.err
        assert_no_plaintext([value], theirs.stdout, theirs.stderr, ours.out, ours.err)
    assert_no_plaintext([value], sealed_controller.log_text())


def test_re_encrypt_through_the_controller_like_kubeseal(sealed_controller: SealedController,
                                                         kube_cluster: KubeCluster, kube_namespace: str,
                                                         kubeseal_bin: Path, tmp_path: Path) -> None:
    """Sealed with the current key, then the controller rotates (SIGUSR1): --re-encrypt must give a
    SealedSecret for the new key, which only the new private key opens."""
    env = env_for(kube_cluster)
    value, other = marker("db"), marker("other")
    src = secret("rotated", kube_namespace, string_data={"db": value, "other": other},
                 annotations={"sealedsecrets.bitnami.com/namespace-wide": "true"})
    sealed = run_cli("kubeseal", "--cert", cert_file(sealed_controller, tmp_path), "-o", "json",
                     input=yaml_of(src))
    assert sealed.code == 0, sealed.err
    old_key = sealed_controller.key_secrets()[-1]
    new_key = sealed_controller.rotate_key()

    theirs = kubeseal(kubeseal_bin, "--re-encrypt", "-o", "json", input=sealed.out, env=env)
    assert theirs.returncode == 0, theirs.stderr
    src_file = tmp_path / "rotated.json"
    src_file.write_bytes(sealed.out)
    ours = run_cli("kubeseal", "--re-encrypt", "-f", src_file, env=env)  # -f without -w rewrites the file
    assert ours.code == 0, ours.err
    ours_doc, theirs_doc = json.loads(src_file.read_text()), json.loads(theirs.stdout)
    assert_no_plaintext([value, other], theirs.stdout, theirs.stderr, ours.out, ours.err, src_file.read_text(),
                        sealed_controller.log_text())

    def masked(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "spec": {**doc["spec"], "encryptedData": sorted(doc["spec"]["encryptedData"])}}

    # the same document as kubeseal's but for the (random) ciphertext, typed and in kubeseal's key order
    assert masked(ours_doc) == masked(theirs_doc)
    assert list(ours_doc) == list(theirs_doc) == ["kind", "apiVersion", "metadata", "spec"]
    original = json.loads(sealed.out)
    for doc in (ours_doc, theirs_doc):
        assert doc["metadata"] == original["metadata"]
        assert doc["spec"]["template"] == original["spec"]["template"]
        assert set(doc["spec"]["encryptedData"]) == {"db", "other"}
        assert doc["spec"]["encryptedData"] != original["spec"]["encryptedData"]

    def key_file(key: dict[str, Any], name: str) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "Secret", **key}))
        path.chmod(0o600)
        return path

    only_new, only_old = key_file(new_key, "new.json"), key_file(old_key, "old.json")
    for doc in (ours_doc, theirs_doc):
        text = json.dumps(doc)
        opened = run_cli("unseal", "-k", only_new, "-o", "json", input=text)
        assert opened.code == 0, opened.err
        assert json.loads(opened.out)["data"] == {"db": b64(value), "other": b64(other)}
        refused = run_cli("unseal", "-k", only_old, "--check", input=text)
        assert refused.code == 4, refused.err
    # and the controller unseals ours, renamed within the namespace (namespace-wide scope)
    sealed_controller.create_sealed_secret(moved(ours_doc, kube_namespace, "rotated-copy"))
    assert sealed_controller.wait_for_secret(kube_namespace, "rotated-copy")["data"] == {
        "db": b64(value), "other": b64(other)}


# ------------------------------------------------------------------------------------------- (c)


def test_controller_keys_import_and_unseal_what_its_cert_sealed(sealed_controller: SealedController,
                                                                kube_cluster: KubeCluster,
                                                                kube_namespace: str, kubeseal_bin: Path,
                                                                tmp_path: Path) -> None:
    """`kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o json` as a backup:
    our key folder imports it, and `unseal` opens what the real kubeseal sealed with the
    certificate it fetched from the controller, like `kubeseal --recovery-unseal` does."""
    env = env_for(kube_cluster)
    value = marker("token")
    src = secret("backup-test", kube_namespace, string_data={"token": value}, labels={"tier": "db"})
    sealed = kubeseal(kubeseal_bin, "-o", "yaml", input=yaml_of(src), env=env)  # fetches the cert itself
    assert sealed.returncode == 0, sealed.stderr

    backup = tmp_path / "backup.json"
    backup.write_text(json.dumps(sealed_controller.key_backup()))
    backup.chmod(0o600)
    folder = tmp_path / "keys"
    imported = run_cli("keys", "import", "--dir", folder, backup)
    assert imported.code == 0, imported.err
    assert_no_plaintext([value], imported.out, imported.err)
    listed = run_cli("keys", "list", "--dir", folder, "-o", "json")
    assert listed.code == 0, listed.err
    assert len(json.loads(listed.out)) == len(sealed_controller.key_secrets())
    newest = run_cli("keys", "export-cert", "--dir", folder)
    assert newest.code == 0 and newest.out == sealed_controller.newest_cert()

    ours = run_cli("unseal", "--keys-dir", folder, "-o", "json", input=sealed.stdout)
    assert ours.code == 0, ours.err
    direct = run_cli("unseal", "-k", backup, "-o", "json", input=sealed.stdout)
    assert direct.code == 0, direct.err
    theirs = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", backup, "-o", "json",
                      input=sealed.stdout)
    assert theirs.returncode == 0, theirs.stderr
    expected = {"token": b64(value)}
    assert json.loads(ours.out)["data"] == json.loads(direct.out)["data"] == json.loads(theirs.stdout)["data"] \
        == expected

    # the controller agrees
    sealed_controller.create_sealed_secret(docs_of(sealed.stdout)[0])
    out = sealed_controller.wait_for_secret(kube_namespace, "backup-test")
    assert out["data"] == expected and out["metadata"]["labels"] == {"tier": "db"}
    assert_no_plaintext([value], sealed_controller.log_text())
