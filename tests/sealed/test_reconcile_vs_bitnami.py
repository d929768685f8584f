"""Our core against the real Bitnami controller (v0.36.6) on one kube-apiserver:
- the key Secrets it writes load as our keys, and our /v1/cert.pem body is byte for byte its;
- for SealedSecrets it has unsealed, our reconcile (with its keys) plans no write at all: taking over
  from it rewrites no Secret and no status (issue 11, migration);
- where it fails, we fail too (Synced=False), and say why.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from secrets_kit.sealed import controller_keys as ck
from secrets_kit.sealed import reconcile as rc
from secrets_kit.sealed import service
from secrets_kit.sealed.certs import load_cert
from secrets_kit.sealed.model import seal_secret
from secrets_kit.sealed.scopes import (
    CLUSTER_WIDE_ANNOTATION,
    NAMESPACE_WIDE_ANNOTATION,
    SKIP_OWNER_REFERENCES_ANNOTATION,
)
from tests.peers.kube import KubeCluster
from tests.peers.sealed_controller import SealedController
from tests.sealed.controller_support import NOW, key_secret

PLAIN = {"password": "bitnami-diff-plaintext-4b4b", "user": "svc-dd01"}


def test_bitnami_key_secrets_load_and_serve_the_same_certificate(sealed_controller: SealedController) -> None:
    load = ck.load_key_secrets(sealed_controller.key_secrets())
    assert load.problems == [] and load.keys
    assert all(k.state == "active" and k.private_key.key_size == 4096 for k in load.keys)
    newest = ck.newest_key(load.keys)
    assert newest is not None
    status, _, body = service.cert_pem(load.keys)
    assert status == 200 and body == sealed_controller.served_cert()
    assert load_cert(body, "served").fingerprint == newest.fingerprint


def _corpus(namespace: str) -> dict[str, dict[str, Any]]:
    def secret(name: str, **extra: Any) -> dict[str, Any]:
        meta = {"name": name, "namespace": namespace, **extra.pop("meta", {})}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": PLAIN, **extra}

    return {
        "plain": secret("plain", type="Opaque"),
        "untyped": secret("untyped"),
        "labelled": secret("labelled", type="Opaque", meta={"labels": {"app": "x"}, "annotations": {"a": "b"}}),
        "tls": secret("tls", type="kubernetes.io/tls",
                      stringData={"tls.crt": "crt-bitnami-diff-1", "tls.key": "key-bitnami-diff-2"}),
        "immutable": secret("immutable", type="Opaque", immutable=True),
        "wide": secret("wide", type="Opaque", meta={"annotations": {NAMESPACE_WIDE_ANNOTATION: "true"}}),
        "cluster": secret("cluster", type="Opaque", meta={"annotations": {CLUSTER_WIDE_ANNOTATION: "true"}}),
        "templated": secret("templated", type="Opaque"),
        "no-owner": secret("no-owner", type="Opaque",
                           meta={"annotations": {SKIP_OWNER_REFERENCES_ANNOTATION: "true"}}),
    }


def test_what_bitnami_unsealed_we_would_not_rewrite(sealed_controller: SealedController, kube_cluster: KubeCluster,
                                                   kube_namespace: str) -> None:
    load = ck.load_key_secrets(sealed_controller.key_secrets())
    newest = ck.newest_key(load.keys)
    assert newest is not None
    ring = ck.decryption_keyring(load.keys)
    names = []
    for name, secret in _corpus(kube_namespace).items():
        sealed = seal_secret(secret, newest.private_key.public_key())
        if name == "templated":
            sealed["spec"]["template"]["data"] = {"dsn": "{{ .user }}:{{ .password }}@db"}
        sealed_controller.create_sealed_secret(sealed)
        names.append(name)
    for name in names:
        condition = sealed_controller.wait_for_status(kube_namespace, name)
        theirs = sealed_controller.wait_for_secret(kube_namespace, name)
        current = sealed_controller.sealed_secret(kube_namespace, name)
        plan = rc.reconcile(current, theirs, ring, now=dt.datetime.now(dt.UTC))
        if name == "no-owner":
            # Created without an ownerReference and not `managed`: Bitnami's controller then says it
            # does not manage it, and so do we, in the same words (so: no status to rewrite).
            assert condition["status"] == "False" and plan.error_reason == "unmanaged"
            assert (plan.action, plan.status, plan.event) == ("none", None, None)
            continue
        assert condition["status"] == "True", (name, condition)
        assert (plan.action, plan.secret, plan.status, plan.event) == ("none", None, None, None), name
        # And what we would have created is what it created.
        fresh = rc.reconcile(current, None, ring, now=NOW)
        assert fresh.secret is not None
        ours = fresh.secret
        assert ours["data"] == theirs["data"], name
        assert (ours.get("type") or "Opaque") == theirs["type"], name
        assert bool(ours.get("immutable")) == bool(theirs.get("immutable")), name
        for key in ("labels", "annotations", "ownerReferences"):
            assert ours["metadata"].get(key) == theirs["metadata"].get(key), (name, key)


def test_both_refuse_a_secret_sealed_for_another_key(sealed_controller: SealedController,
                                                     kube_namespace: str) -> None:
    stranger = ck.load_key_secrets([key_secret(name="elsewhere", created=NOW)]).keys[0]
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": PLAIN,
              "metadata": {"name": "stranger", "namespace": kube_namespace}}
    sealed_controller.create_sealed_secret(seal_secret(secret, stranger.private_key.public_key()))
    condition = sealed_controller.wait_for_status(kube_namespace, "stranger")
    assert condition["status"] == "False" and "no key could decrypt secret" in condition["message"]
    load = ck.load_key_secrets(sealed_controller.key_secrets())
    current = copy.deepcopy(sealed_controller.sealed_secret(kube_namespace, "stranger"))
    current.pop("status")
    plan = rc.reconcile(current, None, ck.decryption_keyring(load.keys), now=NOW)
    assert plan.status is not None and plan.status["conditions"][0]["status"] == "False"
    message = plan.status["conditions"][0]["message"]
    assert message.startswith("no key could decrypt secret (password, user): none of the")
    assert all(k.fingerprint in message for k in load.keys)


@pytest.fixture(autouse=True)
def _no_plaintext_in_the_controller_log(sealed_controller: SealedController):  # type: ignore[no-untyped-def]
    yield
    log = sealed_controller.log_text()
    for value in PLAIN.values():
        assert value not in log
