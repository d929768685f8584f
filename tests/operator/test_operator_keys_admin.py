"""`secrets-kit operator keys backup|restore|rotate|list` with the real peers: the keys the real Bitnami
controller made (session cluster) are backed up, restored into namespaces of another kube-apiserver,
and then both our controller and Bitnami's unseal a SealedSecret sealed with the original certificate;
a rotation makes a key that `kubeseal --fetch-cert` serves at once while old SealedSecrets still open;
restoring again changes nothing; a different key under a backed-up name is refused, and nothing is
created. No command prints key material (except a backup to a pipe or a file, mode 0600)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import pty
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.k8s.manifests import load_documents
from secrets_kit.sealed.controller_keys import new_key_secret
from tests.peers.kube import KubeCluster
from tests.peers.our_operator import OurController, secrets_kit_binary, start_operator
from tests.peers.sealed_controller import SealedController, start_controller
from tests.sealed.helpers import kubeseal, secret

from .conftest import unique
from .support import assert_no_plaintext, b64, marker, seal, synced, wait_for

pytestmark = pytest.mark.peer("kube")
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"


def keys_cli(cluster: KubeCluster, *args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([secrets_kit_binary(), "operator", "keys", *map(str, args),
                           "--kubeconfig", str(cluster.kubeconfig)], input=stdin, capture_output=True, timeout=120)


def key_material(secrets: list[dict[str, Any]]) -> list[str]:
    """What must never be printed: each private key's base64 and the PEM body lines."""
    out = []
    for item in secrets:
        encoded = item["data"]["tls.key"]
        out.append(encoded)
        pem = base64.b64decode(encoded).decode()
        out += [line for line in pem.splitlines() if line and not line.startswith("-----")][1:4]
    return out


def no_key_material(secrets: list[dict[str, Any]], *done: subprocess.CompletedProcess[Any]) -> None:
    def text(out: str | bytes) -> str:
        return out.decode() if isinstance(out, bytes) else out

    texts = [text(d.stdout) + text(d.stderr) for d in done]
    assert_no_plaintext(key_material(secrets), *texts)
    assert not any("PRIVATE KEY" in text for text in texts)


@pytest.fixture(scope="module")
def backup_file(sealed_controller: SealedController, kube_cluster: KubeCluster,
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bitnami's keys (its first key, made at its start), backed up with -w."""
    path = tmp_path_factory.mktemp("keys-backup") / "sealing-keys.yaml"
    done = keys_cli(kube_cluster, "backup", "-w", path, "--controller-namespace", sealed_controller.namespace)
    assert done.returncode == 0, done.stderr
    no_key_material(sealed_controller.key_secrets(), done)
    assert b"backed up" in done.stderr
    return path


@pytest.fixture(scope="module")
def ours(op_cluster: KubeCluster, backup_file: Path, proxy_ok: None) -> Iterator[tuple[OurController, str]]:
    """Our controller started on keys restored from Bitnami's backup (it must mint none)."""
    keys_ns, app_ns = unique("ka-keys"), unique("ka-app")
    op_cluster.ensure_namespace(keys_ns)
    done = keys_cli(op_cluster, "restore", backup_file, "--controller-namespace", keys_ns)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("created: ")
    controller = start_operator(op_cluster, namespace=keys_ns, watch=(app_ns,), extra=("--key-renew-period=0",))
    try:
        yield controller, app_ns
    finally:
        controller.stop()


def test_backup_is_a_list_of_the_key_secrets_mode_0600(backup_file: Path, sealed_controller: SealedController) -> None:
    assert backup_file.stat().st_mode & 0o777 == 0o600
    docs = load_documents(backup_file.read_bytes())
    assert [d["kind"] for d in docs] == ["List"]
    items = docs[0]["items"]
    originals = sealed_controller.key_secrets()
    assert [i["metadata"]["name"] for i in items] == [s["metadata"]["name"] for s in originals]
    for item, original in zip(items, originals, strict=True):
        assert item["data"] == original["data"] and item["type"] == "kubernetes.io/tls"
        assert item["metadata"]["labels"][KEY_LABEL] == "active"
        assert not {"uid", "resourceVersion", "creationTimestamp", "managedFields"} & set(item["metadata"])
    assert not list(backup_file.parent.glob(".*.tmp"))  # the atomic write left no temporary file


def test_backup_refuses_a_terminal_but_writes_to_a_pipe(kube_cluster: KubeCluster,
                                                        sealed_controller: SealedController) -> None:
    main, child = pty.openpty()
    try:
        done = subprocess.run([secrets_kit_binary(), "operator", "keys", "backup", "--kubeconfig",
                               str(kube_cluster.kubeconfig)], stdout=child, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(child)
        os.close(main)
    assert done.returncode == 2 and b"terminal" in done.stderr
    piped = keys_cli(kube_cluster, "backup")
    assert piped.returncode == 0, piped.stderr
    assert load_documents(piped.stdout)[0]["items"][0]["data"] == sealed_controller.key_secrets()[0]["data"]


def test_ours_unseals_with_the_restored_bitnami_key(ours: tuple[OurController, str],
                                                    sealed_controller: SealedController, kube_cluster: KubeCluster,
                                                    tmp_path: Path) -> None:
    controller, app_ns = ours
    original = sealed_controller.key_secrets()
    assert [s["data"] for s in controller.key_secrets()] == [s["data"] for s in original]  # no key minted
    assert controller.served_cert() == sealed_controller.served_cert()
    cert = tmp_path / "bitnami.pem"
    cert.write_bytes(sealed_controller.served_cert())
    password = marker("restored")
    controller.create_sealed_secret(seal("seal", secret("restored", app_ns, string_data={"k": password}), cert))
    assert synced(controller, app_ns, "restored")["status"] == "True"
    assert controller.wait_for_secret(app_ns, "restored")["data"] == {"k": b64(password)}


def test_bitnami_unseals_with_the_restored_key(op_cluster: KubeCluster, backup_file: Path, bitnami_ok: None,
                                               sealed_controller: SealedController, tmp_path: Path) -> None:
    keys_ns, app_ns = unique("kb-keys"), unique("kb-app")
    for ns in (keys_ns, app_ns):
        op_cluster.ensure_namespace(ns)
    done = keys_cli(op_cluster, "restore", backup_file, "--controller-namespace", keys_ns, "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [k["action"] for k in report["keys"]] == ["create"] and report["refused"] is False
    theirs = start_controller(op_cluster, namespace=keys_ns,
                              extra_args=("--all-namespaces=false", f"--additional-namespaces={app_ns}"))
    try:
        assert len(theirs.key_secrets()) == 1  # it found the restored key and made none
        assert theirs.served_cert() == sealed_controller.served_cert()
        cert = tmp_path / "bitnami.pem"
        cert.write_bytes(sealed_controller.served_cert())
        password = marker("bitnami-restored")
        theirs.create_sealed_secret(seal("seal", secret("again", app_ns, string_data={"k": password}), cert))
        assert theirs.wait_for_status(app_ns, "again")["status"] == "True"
        assert theirs.wait_for_secret(app_ns, "again")["data"] == {"k": b64(password)}
    finally:
        theirs.stop()


def test_restoring_again_changes_nothing(ours: tuple[OurController, str], op_cluster: KubeCluster,
                                         backup_file: Path) -> None:
    controller, _ = ours
    before = [(s["metadata"]["name"], s["metadata"]["resourceVersion"]) for s in controller.key_secrets()]
    done = keys_cli(op_cluster, "restore", backup_file, "--controller-namespace", controller.namespace)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("unchanged: ")
    after = [(s["metadata"]["name"], s["metadata"]["resourceVersion"]) for s in controller.key_secrets()]
    assert after == before
    no_key_material(controller.key_secrets(), done)


def test_rotate_then_fetch_cert_serves_the_new_key_and_old_sealed_secrets_open(
        ours: tuple[OurController, str], op_cluster: KubeCluster, kubeseal_bin: Path,
        sealed_controller: SealedController, tmp_path: Path) -> None:
    controller, app_ns = ours
    old_cert = tmp_path / "old.pem"
    old_cert.write_bytes(sealed_controller.served_cert())
    before = {s["metadata"]["name"] for s in controller.key_secrets()}
    done = keys_cli(op_cluster, "rotate", "--controller-namespace", controller.namespace, "--key-size", "2048")
    assert done.returncode == 0, done.stderr
    (new,) = [s for s in controller.key_secrets() if s["metadata"]["name"] not in before]
    assert new["metadata"]["name"].startswith("sealed-secrets-key") and new["type"] == "kubernetes.io/tls"
    assert new["metadata"]["labels"][KEY_LABEL] == "active"
    assert new["metadata"]["name"] in done.stdout.decode()
    new_cert = base64.b64decode(new["data"]["tls.crt"])
    env = {"KUBECONFIG": str(op_cluster.kubeconfig)}
    fetch = ["--fetch-cert", "--controller-namespace", controller.namespace, "--controller-name", controller.name]
    wait_for("kubeseal --fetch-cert serving the new key", lambda: kubeseal(kubeseal_bin, *fetch, env=env).stdout
             == new_cert, 30, controller.log_text)
    old_value, new_value = marker("old-key"), marker("new-key")
    controller.create_sealed_secret(seal("seal", secret("old-key", app_ns, string_data={"k": old_value}), old_cert))
    fresh = tmp_path / "new.pem"
    fresh.write_bytes(new_cert)
    controller.create_sealed_secret(seal("kubeseal", secret("new-key", app_ns, string_data={"k": new_value}), fresh,
                                         kubeseal_bin=kubeseal_bin))
    for name, text in (("old-key", old_value), ("new-key", new_value)):
        assert synced(controller, app_ns, name)["status"] == "True"
        assert controller.wait_for_secret(app_ns, name)["data"] == {"k": b64(text)}
    listed = keys_cli(op_cluster, "list", "--controller-namespace", controller.namespace)
    assert listed.returncode == 0 and new["metadata"]["name"] in listed.stdout.decode()
    no_key_material(controller.key_secrets(), done, listed)


def test_a_different_key_under_a_backed_up_name_is_refused(ours: tuple[OurController, str], op_cluster: KubeCluster,
                                                           tmp_path: Path) -> None:
    controller, _ = ours
    two = tmp_path / "two.yaml"
    done = keys_cli(op_cluster, "backup", "-w", two, "--controller-namespace", controller.namespace)
    assert done.returncode == 0, done.stderr
    items = load_documents(two.read_bytes())[0]["items"]
    assert len(items) >= 2
    target = unique("kc-keys")
    op_cluster.ensure_namespace(target)
    impostor = new_key_secret(namespace=target, bits=2048, now=dt.datetime.now(dt.UTC))
    impostor["metadata"].pop("generateName")
    impostor["metadata"]["name"] = items[-1]["metadata"]["name"]
    op_cluster.request("POST", f"/api/v1/namespaces/{target}/secrets", impostor)
    refused = keys_cli(op_cluster, "restore", two, "--controller-namespace", target)
    assert refused.returncode == 5, refused.stderr
    assert b"REFUSED" in refused.stdout and b"nothing was created" in refused.stderr
    names = {s["metadata"]["name"] for s in op_cluster.request("GET", f"/api/v1/namespaces/{target}/secrets")["items"]}
    assert names == {items[-1]["metadata"]["name"]}  # the other key was not created either
    no_key_material([*items, impostor], refused)


def test_bad_input_and_an_unreachable_api_server(op_cluster: KubeCluster, tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert keys_cli(op_cluster, "restore", junk).returncode == 3
    assert keys_cli(op_cluster, "restore", "-", stdin=junk.read_bytes()).returncode == 3
    empty = unique("ka-empty")
    op_cluster.ensure_namespace(empty)
    nothing = keys_cli(op_cluster, "backup", "-w", tmp_path / "none.yaml", "--controller-namespace", empty)
    assert nothing.returncode == 5 and b"no sealing key Secrets" in nothing.stderr
    assert not (tmp_path / "none.yaml").exists()
    broken = tmp_path / "kubeconfig"
    broken.write_text(op_cluster.kubeconfig.read_text().replace(op_cluster.url, "https://127.0.0.1:9"))
    done = subprocess.run([secrets_kit_binary(), "operator", "keys", "list", "--kubeconfig", str(broken)],
                          capture_output=True, timeout=60)
    assert done.returncode == 6 and b"cannot reach the API server" in done.stderr


# ------------------------------------------------------------------------------- the README section


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("### 5. Why is it not synced?"):]
    section = section[:section.index("\n### ", 5)]
    return [[line for line in block.splitlines() if line.strip()]
            for block in re.findall(r"```sh cluster\n(.*?)```", section, re.S)]


@pytest.fixture(scope="module")
def two_clusters(proxy_ok: None) -> Iterator[tuple[KubeCluster, KubeCluster]]:
    """An old cluster (keys in kube-system, where the README's commands look) and a new one."""
    from tests.peers.kube import missing_binaries, start_cluster

    if missing_binaries():
        pytest.skip("real kube-apiserver peer missing")
    old = start_cluster()
    try:
        new = start_cluster()
        try:
            yield old, new
        finally:
            new.stop()
    finally:
        old.stop()


def test_readme_describe_and_keys_commands_run_as_written(two_clusters: tuple[KubeCluster, KubeCluster],
                                                          kubeseal_bin: Path, kubectl: Path, tmp_path: Path) -> None:
    describe_block, keys_block, restore_block = readme_blocks()
    old, new = two_clusters
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    bin_path = os.pathsep.join([str(Path(secrets_kit_binary()).parent), str(kubeseal_bin.parent),
                                str(kubectl.parent), os.environ.get("PATH", "")])
    env = {"HOME": str(home), "PATH": bin_path}

    def run_lines(cluster: KubeCluster, lines: list[str]) -> list[subprocess.CompletedProcess[str]]:
        shutil.copyfile(cluster.kubeconfig, home / ".kube" / "config")
        out = []
        for line in lines:
            done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, f"{shlex.quote(line)}: {done.stdout}{done.stderr}"
            out.append(done)
        return out

    password = marker("readme-keys")
    first = start_operator(old, namespace="kube-system", watch=("default",), extra=("--key-renew-period=0",))
    try:
        cert = tmp_path / "first.pem"
        cert.write_bytes(first.served_cert())
        sealed_doc = seal("seal", secret("mysecret", "default", string_data={"password": password}), cert)
        first.create_sealed_secret(sealed_doc)
        assert synced(first, "default", "mysecret")["status"] == "True"
        table, as_json = run_lines(old, describe_block)
        assert "mysecret" in table.stdout
        (item,) = json.loads(as_json.stdout)["items"]
        assert item["name"] == "mysecret" and item["synced"] and item["secret"]["keys"] == ["password"]
        outputs = run_lines(old, keys_block)
        rotated = first.newest_cert()
        assert rotated != cert.read_bytes() and (tmp_path / "cert.pem").read_bytes() == rotated
        backup_path = tmp_path / "sealing-keys.yaml"
        assert backup_path.stat().st_mode & 0o777 == 0o600
        assert len(load_documents(backup_path.read_bytes())[0]["items"]) == 2
        old_keys = first.key_secrets()
        no_key_material(old_keys, *outputs, table, as_json)
        assert_no_plaintext([password], table.stdout, as_json.stdout)
    finally:
        first.stop()
    (restored,) = run_lines(new, restore_block)
    assert restored.stdout.count("created: ") == 2
    no_key_material(old_keys, restored)
    second = start_operator(new, namespace="kube-system", watch=("default",), extra=("--key-renew-period=0",))
    try:
        assert len(second.key_secrets()) == 2 and second.served_cert() == rotated  # nothing minted
        second.create_sealed_secret(sealed_doc)  # sealed for the old cluster's first key
        assert synced(second, "default", "mysecret")["status"] == "True"
        assert second.wait_for_secret("default", "mysecret")["data"] == {"password": b64(password)}
    finally:
        second.stop()


# ------------------------------------------------------------------------------- the pure core


def _key(name: str, namespace: str = "kube-system") -> dict[str, Any]:
    body = new_key_secret(namespace=namespace, bits=2048, now=dt.datetime.now(dt.UTC))
    body["metadata"].pop("generateName")
    body["metadata"].update(name=name, uid=f"uid-{name}", resourceVersion="7", creationTimestamp="2026-01-01T00:00:00Z",
                            managedFields=[{"manager": "x"}])
    return body


def test_plan_restore_creates_leaves_skips_and_refuses() -> None:
    from secrets_kit.sealed import key_backup as kb

    a, b, c = _key("sealed-secrets-keya"), _key("sealed-secrets-keyb"), _key("sealed-secrets-keyc")
    listing = kb.backup_list([b, a, {"metadata": {"name": "unrelated"}, "data": {}}])
    assert [i["metadata"]["name"] for i in listing["items"]] == ["sealed-secrets-keya", "sealed-secrets-keyb"]
    assert set(listing["items"][0]["metadata"]) == {"name", "namespace", "labels"}
    items = kb.read_backup([listing, {**c, "kind": "Secret"}], "f")
    renamed = {**a, "metadata": {**a["metadata"], "name": "sealed-secrets-keyz"}}
    impostor = {**_key("sealed-secrets-keyc"), "metadata": {"name": "sealed-secrets-keyc"}}
    steps = kb.plan_restore(items, [renamed, b, impostor], "target")
    assert [(s.name, s.action) for s in steps] == [
        ("sealed-secrets-keya", "present"), ("sealed-secrets-keyb", "unchanged"), ("sealed-secrets-keyc", "conflict")]
    fresh = kb.plan_restore(items, [], "target")
    assert [s.action for s in fresh] == ["create"] * 3
    assert all(s.body and s.body["metadata"]["namespace"] == "target" and "uid" not in s.body["metadata"]
               for s in fresh)
    assert all("tls.key" not in json.dumps(s.as_json()) for s in fresh)


def test_read_backup_refuses_what_is_not_a_key() -> None:
    from secrets_kit.errors import InputError, KeyMaterialError
    from secrets_kit.sealed import key_backup as kb

    with pytest.raises(InputError):
        kb.read_backup([], "f")
    with pytest.raises(InputError):
        kb.read_backup([{"kind": "Secret", "metadata": {"name": "plain"}, "data": {}}], "f")
    broken = _key("sealed-secrets-keyq")
    broken["data"]["tls.crt"] = _key("sealed-secrets-keyr")["data"]["tls.crt"]  # another key's certificate
    with pytest.raises(KeyMaterialError, match="certificate of another key"):
        kb.read_backup([{**broken, "kind": "Secret"}], "f")
