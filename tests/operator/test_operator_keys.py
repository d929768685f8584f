"""Keys and the HTTP API of `secrets-kit operator run` on a real kube-apiserver: the real kubeseal's
--fetch-cert / --validate / --re-encrypt through the API server's service proxy, keys added or
relabelled while running (no restart), compromised keys, renewal, restarts, a refusal to start
without a key, and a key Secret that does not parse."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.sealed.controller_keys import new_key_secret
from secrets_kit.sealed.model import seal_secret
from tests.peers.kube import KubeCluster
from tests.peers.our_operator import OurController, secrets_kit_binary, start_operator
from tests.sealed.helpers import kubeseal, run_cli, secret

from .conftest import unique
from .support import assert_no_plaintext, b64, cert_file, marker, seal, synced, wait_for

pytestmark = pytest.mark.peer("kube")
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
PLAINTEXTS: list[str] = []


def value(what: str) -> str:
    PLAINTEXTS.append(text := marker(what))
    return text


@pytest.fixture(scope="module")
def app_ns() -> str:
    return unique("keys-app")


@pytest.fixture(scope="module")
def ours(op_cluster: KubeCluster, app_ns: str, proxy_ok: None) -> Iterator[OurController]:
    controller = start_operator(op_cluster, namespace=unique("keys-sys"), watch=(app_ns,),
                                extra=("--key-renew-period=0",))
    try:
        yield controller
    finally:
        controller.stop()


def kubeseal_env(cluster: KubeCluster) -> dict[str, str]:
    return {"KUBECONFIG": str(cluster.kubeconfig)}


def through(ours: OurController) -> list[str]:
    return ["--controller-namespace", ours.namespace, "--controller-name", ours.name]


def add_key(ours: OurController, *, state: str = "active", bits: int = 2048) -> dict[str, Any]:
    """A key Secret written by hand, as a team bringing its own keys would."""
    # Certificate times have whole seconds: start strictly after the newest key, or two keys added
    # within a second would tie for "newest".
    from cryptography import x509

    latest = x509.load_pem_x509_certificate(ours.newest_cert()).not_valid_before_utc
    start = max(dt.datetime.now(dt.UTC), latest) + dt.timedelta(seconds=1)
    body = new_key_secret(namespace=ours.namespace, bits=bits, ttl=dt.timedelta(days=30), labels={},
                          annotations={}, now=start)
    body["metadata"]["labels"][KEY_LABEL] = state
    return ours.cluster.request("POST", f"/api/v1/namespaces/{ours.namespace}/secrets", body)


def cert_of(key: dict[str, Any]) -> bytes:
    return base64.b64decode(key["data"]["tls.crt"])


def test_fetch_cert_and_validate_through_the_service_proxy(ours: OurController, op_cluster: KubeCluster,
                                                           app_ns: str, kubeseal_bin: Path, other_pair: Any,
                                                           tmp_path: Path) -> None:
    env = kubeseal_env(op_cluster)
    fetched = kubeseal(kubeseal_bin, "--fetch-cert", *through(ours), env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout == ours.newest_cert() == ours.served_cert()
    good = seal("seal", secret("valid", app_ns, string_data={"k": value("valid")}), cert_file(ours, tmp_path))
    bad = seal_secret(secret("invalid", app_ns, string_data={"k": value("invalid")}), other_pair.cert.public_key)
    ok = kubeseal(kubeseal_bin, "--validate", *through(ours), input=json.dumps(good), env=env)
    assert ok.returncode == 0, ok.stderr
    refused = kubeseal(kubeseal_bin, "--validate", *through(ours), input=json.dumps(bad), env=env)
    assert refused.returncode != 0 and b"unable to decrypt sealed secret: invalid" in refused.stderr
    ours_cli = run_cli("kubeseal", "--validate", *through(ours), input=json.dumps(good), env=env)
    assert ours_cli.code == 0, ours_cli.err


def test_added_key_is_used_at_once_and_re_encrypt_moves_to_it(ours: OurController, op_cluster: KubeCluster,
                                                              app_ns: str, kubeseal_bin: Path,
                                                              tmp_path: Path) -> None:
    env = kubeseal_env(op_cluster)
    secret_value = value("re-encrypt")
    old = seal("kubeseal", secret("moving", app_ns, string_data={"k": secret_value}), cert_file(ours, tmp_path),
               kubeseal_bin=kubeseal_bin)
    new_key = add_key(ours)
    # hot reload: the served certificate is the new key's without a restart
    wait_for("the new certificate", lambda: ours.served_cert() == cert_of(new_key), log=ours.log_text)
    fetched = kubeseal(kubeseal_bin, "--fetch-cert", *through(ours), env=env)
    assert fetched.stdout == cert_of(new_key)
    rotated = kubeseal(kubeseal_bin, "--re-encrypt", *through(ours), "-o", "json", input=json.dumps(old), env=env)
    assert rotated.returncode == 0, rotated.stderr
    doc = json.loads(rotated.stdout)
    assert doc["spec"]["encryptedData"] != old["spec"]["encryptedData"]
    key_file = tmp_path / "new.json"
    key_file.write_text(json.dumps({"apiVersion": "v1", "kind": "Secret", **new_key}))
    opened = run_cli("unseal", "-k", key_file, "-o", "json", input=rotated.stdout)
    assert opened.code == 0, opened.err
    assert json.loads(opened.out)["data"] == {"k": b64(secret_value)}
    ours.create_sealed_secret(doc)
    assert synced(ours, app_ns, "moving")["status"] == "True"
    assert ours.wait_for_secret(app_ns, "moving")["data"] == {"k": b64(secret_value)}


def test_a_failed_sealed_secret_opens_once_its_key_arrives(ours: OurController, app_ns: str) -> None:
    """Hot reload reaches the SealedSecrets too: the ones that failed are tried again with the new key."""
    body = new_key_secret(namespace=ours.namespace, bits=2048, ttl=dt.timedelta(days=30), labels={}, annotations={},
                          now=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))  # older: not the newest
    from secrets_kit.sealed.controller_keys import load_key_secrets

    pub = load_key_secrets([{**body, "metadata": {**body["metadata"], "name": "probe"}}]).keys[0]
    name = unique("early")
    ours.create_sealed_secret(seal_secret(secret(name, app_ns, string_data={"k": value("early")}),
                                          pub.private_key.public_key()))
    assert synced(ours, app_ns, name)["status"] == "False"
    ours.cluster.request("POST", f"/api/v1/namespaces/{ours.namespace}/secrets", body)
    wait_for("Synced=True after the key arrived",
             lambda: synced(ours, app_ns, name)["status"] == "True", log=ours.log_text)


def test_compromised_keys_still_open_but_never_seal(ours: OurController, app_ns: str, tmp_path: Path) -> None:
    sealing = ours.newest_cert()
    assert ours.served_cert() == sealing
    current = next(s for s in ours.key_secrets() if cert_of(s) == sealing)  # the key that seals now
    secret_value = value("compromised")
    sealed = seal("seal", secret("old-key", app_ns, string_data={"k": secret_value}), cert_file(ours, tmp_path))
    replacement = add_key(ours)
    ours.cluster.request("PATCH", f"/api/v1/namespaces/{ours.namespace}/secrets/{current['metadata']['name']}",
                         {"metadata": {"labels": {KEY_LABEL: "compromised"}}},
                         content_type="application/merge-patch+json")
    wait_for("the replacement certificate", lambda: ours.served_cert() == cert_of(replacement), timeout=60,
             log=ours.log_text)
    ours.create_sealed_secret(sealed)
    assert synced(ours, app_ns, "old-key")["status"] == "True"
    assert ours.wait_for_secret(app_ns, "old-key")["data"] == {"k": b64(secret_value)}


def test_a_key_secret_that_does_not_parse_is_logged_and_ignored(ours: OurController, app_ns: str,
                                                                tmp_path: Path) -> None:
    ours.cluster.request("POST", f"/api/v1/namespaces/{ours.namespace}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "sealed-secrets-keybroken", "labels": {KEY_LABEL: "active"}},
        "data": {"tls.crt": b64("not a certificate"), "tls.key": b64("not a key")}})
    wait_for("the problem in the log", lambda: "sealed-secrets-keybroken" in ours.log_text()
             and "key Secret not usable" in ours.log_text())
    assert ours.healthy()
    name = unique("after-broken")
    ours.create_sealed_secret(seal("seal", secret(name, app_ns, string_data={"k": value("after")}),
                                   cert_file(ours, tmp_path)))
    assert synced(ours, app_ns, name)["status"] == "True"


def test_restart_keeps_the_keys_and_mints_none(ours: OurController) -> None:
    before = [k["metadata"]["name"] for k in ours.key_secrets()]
    cert = ours.served_cert()
    ours.restart()
    assert [k["metadata"]["name"] for k in ours.key_secrets()] == before
    assert ours.served_cert() == cert


def test_no_plaintext_in_logs_events_statuses_metrics(ours: OurController, app_ns: str) -> None:
    texts = [ours.log_text(), ours.metrics_text(),
             json.dumps(ours.cluster.request("GET", f"/api/v1/namespaces/{app_ns}/events")),
             json.dumps([s.get("status") for s in ours.cluster.request(
                 "GET", f"/apis/bitnami.com/v1alpha1/namespaces/{app_ns}/sealedsecrets")["items"]])]
    assert PLAINTEXTS
    assert_no_plaintext(PLAINTEXTS, *texts)


# ------------------------------------------------------------------------- own processes


def test_renewal_on_a_short_period(op_cluster: KubeCluster, proxy_ok: None) -> None:
    ns = unique("renew-sys")
    ours = start_operator(op_cluster, namespace=ns, watch=(), expose=False,
                          extra=("--key-renew-period=4s", "--key-size=2048"))
    try:
        first = ours.served_cert()
        wait_for("a renewed key", lambda: len(ours.key_secrets()) >= 3, timeout=40, log=ours.log_text)
        keys = ours.key_secrets()
        assert all(k["metadata"]["labels"][KEY_LABEL] == "active" for k in keys)
        wait_for("the newest certificate served", lambda: ours.served_cert() == ours.newest_cert())
        assert ours.served_cert() != first
    finally:
        ours.stop()


def test_cutoff_time_mints_a_key_at_start(op_cluster: KubeCluster, proxy_ok: None) -> None:
    ns = unique("cutoff-sys")
    op_cluster.ensure_namespace(ns)
    body = new_key_secret(namespace=ns, bits=2048, ttl=dt.timedelta(days=30), labels={}, annotations={},
                          now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    op_cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", body)
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    ours = start_operator(op_cluster, namespace=ns, watch=(), expose=False,
                          extra=("--key-renew-period=0", "--key-size=2048", f"--key-cutoff-time={cutoff}"))
    try:
        wait_for("a key newer than the cutoff", lambda: len(ours.key_secrets()) == 2, log=ours.log_text)
    finally:
        ours.stop()


def test_refuses_to_start_without_a_key_when_asked(op_cluster: KubeCluster, tmp_path: Path) -> None:
    ns = unique("byo-sys")
    op_cluster.ensure_namespace(ns)
    done = subprocess.run([secrets_kit_binary(), "operator", "run", "--kubeconfig", str(op_cluster.kubeconfig),
                           "--namespace", ns, "--generate-key=false", "--listen-addr=127.0.0.1:0",
                           "--listen-metrics-addr=127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 5, done.stdout + done.stderr
    assert f"no active sealing key in namespace {ns}" in done.stderr
    assert op_cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets")["items"] == []


def test_unreachable_api_server_is_logged_and_retried(op_cluster: KubeCluster, tmp_path: Path) -> None:
    config = tmp_path / "nowhere.kubeconfig"
    from tests.peers.kube import free_port, write_kubeconfig

    write_kubeconfig(config, f"https://127.0.0.1:{free_port()}", op_cluster.ca_file, "admin", "t")
    log_file = tmp_path / "out.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen([secrets_kit_binary(), "operator", "run", "--kubeconfig", str(config),
                                 "--namespace", "x", "--listen-addr=127.0.0.1:0",
                                 "--listen-metrics-addr=127.0.0.1:0"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for("two retries", lambda: log_file.read_text().count("API server unreachable") >= 2, timeout=20)
        assert proc.poll() is None  # still running, still trying
    finally:
        proc.terminate()
        assert proc.wait(20) == 0  # SIGTERM: a clean stop
