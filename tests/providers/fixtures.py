"""Test data written into the real peers (OpenBao, moto, the GCP Secret Manager emulator) for the
provider tests and the render tests that read through providers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from secrets_kit.providers import open_provider
from tests.peers.vault import VaultSetup

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there
PROJECT = "secrets-kit-test"


def vault_env(setup: VaultSetup, **extra: str) -> dict[str, str]:
    return {"VAULT_ADDR": setup.server.url, **extra}


def open_vault(setup: VaultSetup, **extra: str) -> Any:
    return open_provider("vault", {"env": vault_env(setup, **extra)})


@pytest.fixture
def vault_data(vault_dev: VaultSetup) -> str:
    """A fresh prefix with: KV v2 `<p>/db` (2 versions, tagged), `<p>/nested/api`; KV v1 `<p>/legacy`."""
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    client = vault_dev.server.client()
    kv2 = client.secrets.kv.v2
    kv2.create_or_update_secret(f"{prefix}/db", {"username": "app", "password": "vault-old-pw-1"}, mount_point="kv-v2")
    kv2.create_or_update_secret(f"{prefix}/db", {"username": "app", "password": "vault-new-pw-2",
                                                 "conf": {"port": 5432}}, mount_point="kv-v2")
    kv2.update_metadata(f"{prefix}/db", custom_metadata={"team": "shop"}, mount_point="kv-v2")
    kv2.create_or_update_secret(f"{prefix}/nested/api", {"token": "vault-api-token-3"}, mount_point="kv-v2")
    kv2.update_metadata(f"{prefix}/nested/api", custom_metadata={"team": "billing"}, mount_point="kv-v2")
    client.secrets.kv.v1.create_or_update_secret(f"{prefix}/legacy", {"key": "vault-v1-value-4"},
                                                 mount_point="kv-v1")
    return prefix


@pytest.fixture
def ssm_data(aws_env: str) -> str:
    import boto3

    client = boto3.client("ssm", region_name="us-east-1")
    p = f"/t-{uuid.uuid4().hex[:8]}"
    client.put_parameter(Name=f"{p}/db", Type="SecureString", Value=json.dumps({"user": "u", "password": "ssm-pw-1"}),
                         Tags=[{"Key": "team", "Value": "shop"}])
    client.put_parameter(Name=f"{p}/db", Type="SecureString", Overwrite=True,
                         Value=json.dumps({"user": "u", "password": "ssm-pw-2"}))
    client.label_parameter_version(Name=f"{p}/db", ParameterVersion=1, Labels=["stable"])
    client.put_parameter(Name=f"{p}/plain", Type="String", Value="ssm-plain-3")
    client.put_parameter(Name=f"{p}/deep/list", Type="StringList", Value="a,b,c",
                         Tags=[{"Key": "team", "Value": "billing"}])
    return p


@pytest.fixture
def gcp_data(gcp_sm_client: Any) -> str:
    sid = f"t-{uuid.uuid4().hex[:8]}"
    parent = f"projects/{PROJECT}"
    for name, labels, payloads in (
        (f"{sid}-db", {"team": "shop"}, [json.dumps({"user": "g", "password": "gcp-pw-1"}),
                                         json.dumps({"user": "g", "password": "gcp-pw-2"})]),
        (f"{sid}-token", {"team": "billing"}, ["gcp-raw-token-3"]),
    ):
        gcp_sm_client.create_secret(request={"parent": parent, "secret_id": name,
                                             "secret": {"replication": {"automatic": {}}, "labels": labels}})
        for payload in payloads:
            gcp_sm_client.add_secret_version(request={"parent": f"{parent}/secrets/{name}",
                                                      "payload": {"data": payload.encode()}})
    return sid


def open_gcp(endpoint: str, **extra: str) -> Any:
    return open_provider("gcp-secretmanager", {"env": {"SECRETS_KIT_GCP_SM_ENDPOINT": endpoint, **extra}})

