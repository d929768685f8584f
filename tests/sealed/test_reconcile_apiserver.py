"""The pure plans carried out against a real kube-apiserver by a few lines of test driver: what the
API server stores (its defaults, its encodings) must make the next reconcile a no-op, and its
refusals must be the ones the core expects. The runtime (op-runtime) is not involved."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import time
from typing import Any

import pytest

from secrets_kit.sealed import controller_keys as ck
from secrets_kit.sealed import reconcile as rc
from secrets_kit.sealed.model import seal_secret
from secrets_kit.sealed.scopes import MANAGED_ANNOTATION, PATCH_ANNOTATION
from tests.peers.kube import KubeAPIError, KubeCluster
from tests.sealed.controller_support import NOW, key_secret

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# Our CRD under a private group: the Bitnami controller peer (when the session runs it) watches every
# namespace for bitnami.com SealedSecrets and would race this driver. The core sees them as bitnami.com.
GROUP = "op-core-test.secrets-kit.io"
PLAIN = {"password": "apiserver-plaintext-c0ffee", "user": "svc-77aa"}


@pytest.fixture(scope="module")
def crd(kube_cluster: KubeCluster) -> None:
    """The SealedSecret CRD (ours; upstream's is schema-identical, so either may already be there)."""
    from tests.operator.test_deploy_manifests import establish, one, renamed

    establish(kube_cluster, renamed(one("CustomResourceDefinition"), GROUP))


@pytest.fixture(scope="module")
def key() -> ck.ControllerKey:
    return ck.load_key_secrets([key_secret(name="k", created=NOW)]).keys[0]


class Driver:
    """Does what a plan says, with plain API calls (the runtime's job, minimally)."""

    def __init__(self, cluster: KubeCluster, namespace: str, key: ck.ControllerKey) -> None:
        self.cluster, self.ns, self.ring = cluster, namespace, ck.decryption_keyring([key])
        self.writes = 0

    def ss_path(self, name: str = "") -> str:
        return f"/apis/{GROUP}/v1alpha1/namespaces/{self.ns}/sealedsecrets" + (f"/{name}" if name else "")

    def secret_path(self, name: str = "") -> str:
        return f"/api/v1/namespaces/{self.ns}/secrets" + (f"/{name}" if name else "")

    def get_secret(self, name: str) -> dict[str, Any] | None:
        try:
            return self.cluster.request("GET", self.secret_path(name))
        except KubeAPIError as err:
            if err.status == 404:
                return None
            raise

    def reconcile(self, name: str) -> rc.Plan:
        sealed = {**self.cluster.request("GET", self.ss_path(name)), "apiVersion": "bitnami.com/v1alpha1"}
        plan = rc.reconcile(sealed, self.get_secret(name), self.ring, now=dt.datetime.now(dt.UTC))
        try:
            if plan.action == "create":
                self.cluster.request("POST", self.secret_path(), plan.secret)
                self.writes += 1
            elif plan.action == "update":
                assert plan.secret is not None
                self.cluster.request("PUT", self.secret_path(name), plan.secret)
                self.writes += 1
        except KubeAPIError as err:
            message = str(err.body.get("message", ""))
            plan = rc.write_failed(sealed, message, now=dt.datetime.now(dt.UTC),
                                   immutable=rc.is_immutable_error(message))
        if plan.status is not None:
            self.cluster.request("PUT", self.ss_path(name) + "/status",
                                 {**sealed, "apiVersion": f"{GROUP}/v1alpha1", "status": plan.status})
            self.writes += 1
        return plan


@pytest.fixture
def driver(kube_cluster: KubeCluster, kube_namespace: str, crd: None, key: ck.ControllerKey) -> Driver:
    return Driver(kube_cluster, kube_namespace, key)


def apply_sealed(driver: Driver, key: ck.ControllerKey, name: str, items: dict[str, str],
                 secret_type: str | None = None, immutable: bool | None = None) -> dict[str, Any]:
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "stringData": items,
                              "metadata": {"name": name, "namespace": driver.ns, "labels": {"app": name}}}
    if secret_type:
        secret["type"] = secret_type
    if immutable is not None:
        secret["immutable"] = immutable
    sealed = {**seal_secret(secret, key.private_key.public_key()), "apiVersion": f"{GROUP}/v1alpha1"}
    try:
        current = driver.cluster.request("GET", driver.ss_path(name))
        sealed["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return driver.cluster.request("PUT", driver.ss_path(name), sealed)
    except KubeAPIError as err:
        if err.status != 404:
            raise
        return driver.cluster.request("POST", driver.ss_path(), sealed)


def test_created_secret_and_status_make_the_next_reconcile_a_no_op(driver: Driver, key: ck.ControllerKey) -> None:
    ss = apply_sealed(driver, key, "untyped", PLAIN)  # no type: the API server defaults it to Opaque
    first = driver.reconcile("untyped")
    assert first.action == "create" and driver.writes == 2
    secret = driver.get_secret("untyped")
    assert secret is not None and secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == PLAIN
    assert secret["metadata"]["ownerReferences"] == [{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
                                                      "name": "untyped", "uid": ss["metadata"]["uid"],
                                                      "controller": True}]
    status = driver.cluster.request("GET", driver.ss_path("untyped"))["status"]
    assert status["observedGeneration"] == 1 and status["conditions"][0]["status"] == "True"
    versions = (secret["metadata"]["resourceVersion"],
                driver.cluster.request("GET", driver.ss_path("untyped"))["metadata"]["resourceVersion"])
    for _ in range(3):
        assert driver.reconcile("untyped") == rc.Plan("none", None, None, None, None, True)
    assert driver.writes == 2
    after = driver.get_secret("untyped")
    assert after is not None
    assert (after["metadata"]["resourceVersion"],
            driver.cluster.request("GET", driver.ss_path("untyped"))["metadata"]["resourceVersion"]) == versions


def test_update_patch_and_unowned_against_the_api(driver: Driver, key: ck.ControllerKey) -> None:
    apply_sealed(driver, key, "app", PLAIN, secret_type="Opaque")
    driver.reconcile("app")
    apply_sealed(driver, key, "app", {**PLAIN, "password": "apiserver-rotated-9f9f"}, secret_type="Opaque")
    plan = driver.reconcile("app")
    assert plan.action == "update" and plan.status is not None and plan.status["observedGeneration"] == 2
    assert driver.reconcile("app").action == "none"
    # A Secret someone else made: never touched; with `patch` it is merged into.
    theirs = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "theirs", "namespace": driver.ns},
              "stringData": {"other": "x"}}
    driver.cluster.request("POST", driver.secret_path(), theirs)
    apply_sealed(driver, key, "theirs", PLAIN)
    plan = driver.reconcile("theirs")
    assert plan.error_reason == "unmanaged" and driver.get_secret("theirs")["data"].keys() == {"other"}  # type: ignore[index]
    existing = driver.get_secret("theirs")
    assert existing is not None
    existing["metadata"]["annotations"] = {PATCH_ANNOTATION: "true", MANAGED_ANNOTATION: "true"}
    driver.cluster.request("PUT", driver.secret_path("theirs"), existing)
    plan = driver.reconcile("theirs")
    assert plan.action == "update" and plan.synced
    merged = driver.get_secret("theirs")
    assert merged is not None and merged["data"].keys() == {"other", *PLAIN}
    assert merged["metadata"]["ownerReferences"][0]["name"] == "theirs"
    assert driver.reconcile("theirs").action == "none"


def test_immutable_secret_refusal_is_recognised(driver: Driver, key: ck.ControllerKey) -> None:
    apply_sealed(driver, key, "frozen", PLAIN, immutable=True)
    assert driver.reconcile("frozen").action == "create"
    secret = driver.get_secret("frozen")
    assert secret is not None and secret["immutable"] is True
    # What the API answers to a data change (the core does not even try: it knows).
    changed = copy.deepcopy(secret)
    changed["data"]["password"] = base64.b64encode(b"apiserver-other-1234").decode()
    with pytest.raises(KubeAPIError) as refused:
        driver.cluster.request("PUT", driver.secret_path("frozen"), changed)
    assert rc.is_immutable_error(refused.value.body["message"])
    apply_sealed(driver, key, "frozen", {**PLAIN, "password": "apiserver-other-1234"}, immutable=True)
    plan = driver.reconcile("frozen")
    assert plan.action == "none" and plan.error_reason == "update"
    assert plan.event is not None and "the target Secret is immutable" in plan.event.message
    status = driver.cluster.request("GET", driver.ss_path("frozen"))["status"]
    assert status["conditions"][0]["status"] == "False"
    for value in [*PLAIN.values(), "apiserver-other-1234"]:
        assert value not in repr(status)


def test_deleted_secret_is_recreated(driver: Driver, key: ck.ControllerKey) -> None:
    apply_sealed(driver, key, "gone", PLAIN)
    driver.reconcile("gone")
    driver.cluster.request("DELETE", driver.secret_path("gone"))
    deadline = time.monotonic() + 10
    while driver.get_secret("gone") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    plan = driver.reconcile("gone")
    assert plan.action == "create" and plan.status is None
    assert driver.get_secret("gone") is not None
