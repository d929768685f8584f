"""Smoke tests proving the Vault peer is a real Vault-API server (OpenBao or HashiCorp Vault)."""

from __future__ import annotations

import base64

import hvac
import hvac.exceptions
import pytest

from tests.peers.kube import KubeCluster
from tests.peers.vault import JWT_AUDIENCE, KubeAuth, VaultSetup

pytestmark = pytest.mark.peer("vault")


def test_server_is_unsealed_dev_server(vault_dev: VaultSetup) -> None:
    client = vault_dev.server.client()
    assert client.sys.is_initialized() and not client.sys.is_sealed()
    mounts = client.sys.list_mounted_secrets_engines()["data"]
    assert mounts["kv-v1/"]["options"]["version"] == "1"
    assert mounts["kv-v2/"]["options"]["version"] == "2"
    assert vault_dev.server.version()


def test_kv_v2_keeps_versions(vault_dev: VaultSetup) -> None:
    kv = vault_dev.server.client().secrets.kv.v2
    kv.create_or_update_secret("app/db", {"password": "one"}, mount_point="kv-v2")
    kv.create_or_update_secret("app/db", {"password": "two"}, mount_point="kv-v2")
    latest = kv.read_secret_version("app/db", mount_point="kv-v2", raise_on_deleted_version=True)
    assert latest["data"]["data"] == {"password": "two"} and latest["data"]["metadata"]["version"] == 2
    first = kv.read_secret_version("app/db", version=1, mount_point="kv-v2", raise_on_deleted_version=True)
    assert first["data"]["data"] == {"password": "one"}
    with pytest.raises(hvac.exceptions.InvalidRequest):  # check-and-set with a stale version
        kv.create_or_update_secret("app/db", {"password": "x"}, cas=1, mount_point="kv-v2")
    assert kv.read_secret_metadata("app/db", mount_point="kv-v2")["data"]["current_version"] == 2


def test_kv_v1_read_write(vault_dev: VaultSetup) -> None:
    kv = vault_dev.server.client().secrets.kv.v1
    kv.create_or_update_secret("app/api", {"token": "t"}, mount_point="kv-v1")
    assert kv.read_secret("app/api", mount_point="kv-v1")["data"] == {"token": "t"}


def test_transit_encrypt_decrypt_with_approle_token(vault_dev: VaultSetup) -> None:
    client = vault_dev.server.client(token="")
    login = client.auth.approle.login(vault_dev.approle_role_id, vault_dev.approle_secret_id)
    assert vault_dev.policy in login["auth"]["policies"]
    transit = client.secrets.transit
    plaintext = base64.b64encode(b"data key bytes").decode()
    ciphertext = transit.encrypt_data(vault_dev.transit_key, plaintext)["data"]["ciphertext"]
    assert ciphertext.startswith("vault:v1:")
    assert transit.decrypt_data(vault_dev.transit_key, ciphertext)["data"]["plaintext"] == plaintext
    with pytest.raises(hvac.exceptions.Forbidden):  # the policy grants encrypt/decrypt only
        transit.rotate_key(vault_dev.transit_key)


def test_userpass_and_jwt_logins(vault_dev: VaultSetup) -> None:
    client = vault_dev.server.client(token="")
    login = client.auth.userpass.login(vault_dev.userpass_user, vault_dev.userpass_password)
    assert vault_dev.policy in login["auth"]["policies"]
    jwt = vault_dev.jwt_signer.sign({"sub": "ci-job"})
    login = client.auth.jwt.jwt_login(vault_dev.jwt_role, jwt, path="jwt")
    assert login["auth"]["metadata"]["role"] == vault_dev.jwt_role
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.auth.jwt.jwt_login(vault_dev.jwt_role, vault_dev.jwt_signer.sign({"sub": "x", "aud": "other"}),
                                  path="jwt")


def test_kubernetes_auth_login_with_a_real_service_account_token(
    vault_dev: VaultSetup, vault_kube_auth: KubeAuth, kube_cluster: KubeCluster
) -> None:
    token = kube_cluster.token_request(vault_kube_auth.namespace, vault_kube_auth.service_account)
    client = vault_dev.server.client(token="")
    login = client.auth.kubernetes.login(vault_kube_auth.role, token, mount_point=vault_kube_auth.mount)
    meta = login["auth"]["metadata"]
    assert (meta["service_account_namespace"], meta["service_account_name"]) == (
        vault_kube_auth.namespace, vault_kube_auth.service_account)
    client.secrets.kv.v2.create_or_update_secret("k8s/app", {"ok": "yes"}, mount_point="kv-v2")

    other = kube_cluster.create_service_account(vault_kube_auth.namespace, "not-bound")
    with pytest.raises(hvac.exceptions.Forbidden):  # TokenReview says who it is; the role refuses it
        vault_dev.server.client(token="").auth.kubernetes.login(
            vault_kube_auth.role, other.token, mount_point=vault_kube_auth.mount)


def test_jwt_auth_accepts_cluster_service_account_tokens(
    vault_dev: VaultSetup, vault_kube_auth: KubeAuth, kube_cluster: KubeCluster
) -> None:
    token = kube_cluster.token_request(vault_kube_auth.namespace, vault_kube_auth.service_account,
                                       audiences=[JWT_AUDIENCE])
    login = vault_dev.server.client(token="").auth.jwt.jwt_login(vault_kube_auth.jwt_role, token,
                                                                  path=vault_kube_auth.jwt_mount)
    assert vault_dev.policy in login["auth"]["policies"]
