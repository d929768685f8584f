"""The vault provider (KV v1/v2, argocd-vault-plugin's settings and auth methods) against OpenBao."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secrets_kit.errors import ConfigError, KeyMaterialError, ProviderError
from secrets_kit.providers import FindSpec, RemoteRef, open_provider
from tests.peers.kube import KubeCluster
from tests.peers.vault import KubeAuth, VaultSetup
from tests.providers.fixtures import CLOSED, open_vault


@pytest.mark.peer("vault")
def test_vault_kv2_with_a_token(vault_dev: VaultSetup, vault_data: str) -> None:
    p = vault_data
    with open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_TYPE="vault", AVP_AUTH_TYPE="token") as vault:
        vault.validate()
        assert vault.get_secret_map(RemoteRef(f"kv-v2/data/{p}/db")) == {
            "username": b"app", "password": b"vault-new-pw-2", "conf": b'{"port":5432}'}
        assert vault.get_secret_map(RemoteRef(f"kv-v2/data/{p}/db", version="1")) == {
            "username": b"app", "password": b"vault-old-pw-1"}
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{p}/db", property="password")) == b"vault-new-pw-2"
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{p}/db", property="conf.port")) == b"5432"
        assert json.loads(vault.get_secret(RemoteRef(f"kv-v2/data/{p}/nested/api"))) == {"token": "vault-api-token-3"}
        with pytest.raises(ProviderError, match="not found") as missing:
            vault.get_secret(RemoteRef(f"kv-v2/data/{p}/db", version="9"))
        assert f"kv-v2/data/{p}/db" in str(missing.value)
        with pytest.raises(ProviderError, match="include data/"):  # AVP's classic mistake: no data/ segment
            vault.get_secret_map(RemoteRef(f"kv-v2/{p}/db"))


@pytest.mark.peer("vault")
def test_vault_kv1(vault_dev: VaultSetup, vault_data: str) -> None:
    with open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_KV_VERSION="1") as vault:
        assert vault.get_secret_map(RemoteRef(f"kv-v1/{vault_data}/legacy")) == {"key": b"vault-v1-value-4"}
        with pytest.raises(ProviderError, match="KV v1 has no versions"):
            vault.get_secret_map(RemoteRef(f"kv-v1/{vault_data}/legacy", version="1"))
        with pytest.raises(ProviderError, match="not found"):
            vault.get_secret_map(RemoteRef(f"kv-v1/{vault_data}/missing"))


@pytest.mark.peer("vault")
def test_vault_find(vault_dev: VaultSetup, vault_data: str) -> None:
    p = vault_data
    with open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token) as vault:
        found = vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}/"))
        assert sorted(found) == [f"kv-v2/data/{p}/db", f"kv-v2/data/{p}/nested/api"]
        assert json.loads(found[f"kv-v2/data/{p}/nested/api"]) == {"token": "vault-api-token-3"}
        assert sorted(vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}", tags={"team": "shop"}))) == [
            f"kv-v2/data/{p}/db"]
        assert sorted(vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}", name_regex=r"/api$"))) == [
            f"kv-v2/data/{p}/nested/api"]
        assert vault.find_secrets(FindSpec(path=f"kv-v2/data/{p}-none/")) == {}
    with open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_KV_VERSION="1") as v1:
        assert sorted(v1.find_secrets(FindSpec(path=f"kv-v1/{p}"))) == [f"kv-v1/{p}/legacy"]


@pytest.mark.peer("vault")
def test_vault_approle_login_and_revoke_on_close(vault_dev: VaultSetup, vault_data: str) -> None:
    vault = open_vault(vault_dev, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=vault_dev.approle_role_id,
                   AVP_SECRET_ID=vault_dev.approle_secret_id)
    vault.validate()
    token = vault.client.hvac().token
    assert token and token != vault_dev.server.root_token
    assert vault.get_secret(RemoteRef(f"kv-v2/data/{vault_data}/db", property="password")) == b"vault-new-pw-2"
    vault.close()
    import hvac.exceptions

    with pytest.raises(hvac.exceptions.Forbidden):  # the login token was revoked
        vault_dev.server.client().auth.token.lookup(token)


@pytest.mark.peer("vault")
def test_vault_denied_and_refused(vault_dev: VaultSetup, vault_data: str) -> None:
    weak = vault_dev.server.client().auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    with open_vault(vault_dev, VAULT_TOKEN=weak) as vault:
        vault.validate()  # the token itself is fine
        with pytest.raises(ProviderError, match="permission denied") as denied:
            vault.get_secret_map(RemoteRef(f"kv-v2/data/{vault_data}/db"))
        assert f"kv-v2/data/{vault_data}/db" in str(denied.value) and weak not in str(denied.value)
    bad_secret_id = "00000000-1111-2222-3333-444444444444"
    vault = open_vault(vault_dev, AVP_AUTH_TYPE="approle", AVP_ROLE_ID=vault_dev.approle_role_id,
                   AVP_SECRET_ID=bad_secret_id)
    with pytest.raises(ProviderError, match="AppRole login") as refused:
        vault.validate()
    assert bad_secret_id not in str(refused.value) and vault_dev.server.url in str(refused.value)
    with pytest.raises(ProviderError):
        open_vault(vault_dev, VAULT_TOKEN="not-a-real-token-xyz").validate()


@pytest.mark.peer("vault")
def test_vault_unreachable_and_missing_credentials(vault_dev: VaultSetup, tmp_path: Path) -> None:
    vault = open_provider("vault", {"env": {"VAULT_ADDR": CLOSED, "VAULT_TOKEN": "s.secret-token-value"}})
    with pytest.raises(ProviderError, match="unreachable") as unreachable:
        vault.validate()
    assert CLOSED in str(unreachable.value) and "secret-token-value" not in str(unreachable.value)
    with pytest.raises(KeyMaterialError, match="no Vault credentials"):
        open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url}})
    with pytest.raises(KeyMaterialError, match="AVP_SECRET_ID"):
        open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url, "AVP_AUTH_TYPE": "approle",
                                        "AVP_ROLE_ID": "x"}})
    with pytest.raises(ConfigError, match="VAULT_ADDR"):
        open_provider("vault", {"env": {"VAULT_TOKEN": "x"}})
    k8s = open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url, "AVP_AUTH_TYPE": "k8s",
                                          "AVP_K8S_ROLE": "r", "AVP_K8S_TOKEN_PATH": str(tmp_path / "none")}})
    with pytest.raises(KeyMaterialError, match="service-account token"):
        k8s.validate()
    with pytest.raises(ConfigError, match="AVP_TYPE"):
        open_provider("vault", {"env": {"VAULT_ADDR": vault_dev.server.url, "VAULT_TOKEN": "x",
                                        "AVP_TYPE": "awssecretsmanager"}})


@pytest.mark.peer("vault")
def test_vault_path_validation(vault_dev: VaultSetup, vault_data: str) -> None:
    with open_vault(vault_dev, VAULT_TOKEN=vault_dev.server.root_token, AVP_PATH_VALIDATION=r"^kv-v2/data/t-") as vault:
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{vault_data}/db", property="username")) == b"app"
        with pytest.raises(ProviderError, match="AVP_PATH_VALIDATION"):
            vault.get_secret(RemoteRef("sys/mounts"))


@pytest.mark.peer("vault")
def test_vault_kubernetes_auth(vault_dev: VaultSetup, vault_kube_auth: KubeAuth, kube_cluster: KubeCluster,
                               vault_data: str, tmp_path: Path) -> None:
    token_file = tmp_path / "sa-token"
    token_file.write_text(kube_cluster.token_request(vault_kube_auth.namespace, vault_kube_auth.service_account))
    with open_vault(vault_dev, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE=vault_kube_auth.role,
                AVP_K8S_MOUNT_PATH=f"auth/{vault_kube_auth.mount}", AVP_K8S_TOKEN_PATH=str(token_file)) as vault:
        vault.validate()
        assert vault.get_secret(RemoteRef(f"kv-v2/data/{vault_data}/db", property="password")) == b"vault-new-pw-2"
    other = kube_cluster.create_service_account(vault_kube_auth.namespace, f"not-bound-{vault_data}")
    token_file.write_text(other.token)
    vault = open_vault(vault_dev, AVP_AUTH_TYPE="k8s", AVP_K8S_ROLE=vault_kube_auth.role,
                   AVP_K8S_TOKEN_PATH=str(token_file))
    with pytest.raises(ProviderError, match="Kubernetes login") as refused:
        vault.validate()
    assert other.token not in str(refused.value)

