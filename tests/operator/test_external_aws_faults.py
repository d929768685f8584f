"""AWS throttling under our running operator, on the real kube-apiserver with moto behind a
fault-injecting proxy (tests/externalsecrets/stores/aws_proxy.py: it answers throttled requests itself
and forwards every other one to moto unchanged).

An ExternalSecret synced from Secrets Manager; then every GetSecretValue is throttled and the remote
value changes: the refresh retries (botocore's standard backoff, 1 + 3 attempts) before the
ExternalSecret turns Ready=False with ESO's reason and message and a Warning event naming the
throttling; the Secret keeps its data and resourceVersion. When the throttling stops, the next retry
syncs the new value. No plaintext in ours' log, the events or the status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.externalsecrets.stores.aws_proxy import AwsProxy, Throttle
from tests.peers.kube import KubeCluster, free_port, scratch_dir, start_process
from tests.peers.our_operator import _env, secrets_kit_binary

from .conftest import unique
from .support import assert_no_plaintext, b64, get_secret, marker, wait_for
from .test_external_operator import ES_API, Ours, crds, ready_of  # noqa: F401

pytest.importorskip("boto3")
pytestmark = pytest.mark.peer("kube")


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[AwsProxy]:
    front = AwsProxy(moto_endpoint).start()
    try:
        yield front
    finally:
        front.stop()


def _sm(endpoint: str) -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_throttled_refresh_retries_then_fails_and_leaves_the_secret(op_cluster: KubeCluster, crds: None,  # noqa: F811
                                                                    proxy: AwsProxy, moto_endpoint: str) -> None:
    ns = unique("eso-aws-throttle")
    op_cluster.ensure_namespace(ns)
    first, second = marker("aws-first"), marker("aws-second")
    name = f"{ns}/db"
    sm = _sm(moto_endpoint)
    sm.create_secret(Name=name, SecretString=first)
    op_cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-creds"},
        "data": {"id": b64("testing"), "key": b64("testing")}})
    op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "aws"},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-1", "auth": {"secretRef": {
            "accessKeyIDSecretRef": {"name": "aws-creds", "key": "id"},
            "secretAccessKeySecretRef": {"name": "aws-creds", "key": "key"}}}}}}})
    workdir = scratch_dir("secrets-kit-eso-aws-")
    port = free_port()
    args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
            "--namespace", ns, "--kubeconfig", str(op_cluster.kubeconfig), f"--metrics-addr=127.0.0.1:{port}",
            "--log-format=json"]
    ours = Ours(op_cluster, args, port, workdir / "operator.log")
    ours.proc = start_process(args, ours.log_file, env={**_env(), "AWS_ENDPOINT_URL": proxy.url,
                                                        "AWS_EC2_METADATA_DISABLED": "true"})
    try:
        wait_for("our operator ready", ours.ready, 90, ours.log_text)
        op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/externalsecrets", {
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "app"},
            "spec": {"refreshInterval": "2s", "secretStoreRef": {"name": "aws", "kind": "SecretStore"},
                     "data": [{"secretKey": "pw", "remoteRef": {"key": name}}]}})

        def es() -> dict[str, Any]:
            return dict(op_cluster.request("GET", f"{ES_API}/namespaces/{ns}/externalsecrets/app"))

        wait_for("first sync", lambda: (ready_of(es()) or {}).get("status") == "True", 60, ours.log_text)
        synced = get_secret(op_cluster, ns, "app")
        assert synced is not None and synced["data"] == {"pw": b64(first)}

        proxy.throttle = Throttle(10**6, "GetSecretValue")
        before = proxy.count("GetSecretValue")
        sm.put_secret_value(SecretId=name, SecretString=second)
        failed = wait_for("Ready=False after the throttled refresh",
                          lambda: (lambda r: r if r and r.get("status") == "False" else None)(ready_of(es())),
                          60, ours.log_text)
        assert proxy.count("GetSecretValue") - before >= 4  # 1 + 3 retries before the failure was written
        assert (failed["reason"], failed["message"]) == ("SecretSyncedError", "could not get secret data from provider")
        kept = get_secret(op_cluster, ns, "app")
        assert kept is not None and kept["data"] == {"pw": b64(first)}
        assert kept["metadata"]["resourceVersion"] == synced["metadata"]["resourceVersion"]
        events = [e for e in op_cluster.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]
                  if e["involvedObject"].get("name") == "app" and e.get("type") == "Warning"]
        assert any("ThrottlingException" in e["message"] and "unavailable" in e["message"] for e in events), events

        proxy.throttle = None  # AWS answers again: the next retry (capped at the refreshInterval) syncs
        wait_for("the new value after the throttling", lambda: (get_secret(op_cluster, ns, "app") or {}).get(
            "data") == {"pw": b64(second)}, 60, ours.log_text)
        wait_for("Ready=True again", lambda: (ready_of(es()) or {}).get("status") == "True", 30, ours.log_text)
        assert_no_plaintext([first, second], ours.log_text(), json.dumps(events), json.dumps(es().get("status")))
    finally:
        ours.stop()
