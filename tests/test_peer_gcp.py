"""Smoke test of the GCP Secret Manager peer with the real google-cloud-secret-manager client."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from google.cloud.secretmanager import SecretManagerServiceClient

PROJECT = "projects/secrets-kit-test"


def test_endpoint_is_loopback(gcp_sm_endpoint: str) -> None:
    host, _, port = gcp_sm_endpoint.rpartition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0


def test_secret_versions_round_trip(gcp_sm_client: SecretManagerServiceClient) -> None:
    client = gcp_sm_client
    secret_id = f"smoke-{uuid.uuid4().hex[:12]}"
    first, second = b"first\x00\xffvalue", b"second value"

    secret = client.create_secret(request={
        "parent": PROJECT,
        "secret_id": secret_id,
        "secret": {"replication": {"automatic": {}}, "labels": {"team": "platform"}},
    })
    assert secret.name == f"{PROJECT}/secrets/{secret_id}"

    v1 = client.add_secret_version(request={"parent": secret.name, "payload": {"data": first}})
    v2 = client.add_secret_version(request={"parent": secret.name, "payload": {"data": second}})
    assert (v1.name, v2.name) == (f"{secret.name}/versions/1", f"{secret.name}/versions/2")

    latest = client.access_secret_version(name=f"{secret.name}/versions/latest")
    assert latest.name == v2.name
    assert latest.payload.data == second
    assert client.access_secret_version(name=v1.name).payload.data == first

    fetched = client.get_secret(name=secret.name)
    assert fetched.name == secret.name
    assert dict(fetched.labels) == {"team": "platform"}

    assert secret.name in [s.name for s in client.list_secrets(parent=PROJECT)]


def test_unknown_secret_is_not_found(gcp_sm_client: SecretManagerServiceClient) -> None:
    from google.api_core.exceptions import NotFound

    with pytest.raises(NotFound):
        gcp_sm_client.access_secret_version(name=f"{PROJECT}/secrets/missing-{uuid.uuid4().hex}/versions/latest")
