"""The Vault client: Vault's TLS settings as both users read them, logins, and a kept token that is
renewed or replaced only when needed — against the real OpenBao dev server."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from secrets_kit.clients import vault
from secrets_kit.errors import KeyMaterialError, ProviderError
from tests.peers.vault import VaultSetup


@pytest.mark.parametrize("value", ["1", "t", "T", "true", "TRUE", "yes", "on"])
def test_skip_verify_true_spellings(value: str) -> None:
    settings = vault.VaultSettings.from_env("https://v:8200", {"VAULT_SKIP_VERIFY": value, "VAULT_CACERT": "/ca.pem"})
    assert settings.verify is False


@pytest.mark.parametrize("value", ["", "0", "false", "f", "no"])
def test_skip_verify_false_uses_the_ca_bundle(value: str) -> None:
    with_ca = vault.VaultSettings.from_env("https://v:8200", {"VAULT_SKIP_VERIFY": value, "VAULT_CACERT": "/ca.pem"})
    assert with_ca.verify == "/ca.pem"
    assert vault.VaultSettings.from_env("https://v:8200", {"VAULT_SKIP_VERIFY": value}).verify is True


def test_client_carries_namespace_tls_and_timeout() -> None:
    settings = vault.VaultSettings.from_env("https://vault.invalid:8200", {"VAULT_NAMESPACE": "team-a",
                                                                          "VAULT_CACERT": "/ca.pem"}, timeout=3)
    client = vault.VaultClient(settings, vault.TokenAuth("t")).hvac()
    assert client.adapter.namespace == "team-a"
    assert client.adapter._kwargs["verify"] == "/ca.pem"
    assert client.adapter._kwargs["timeout"] == 3
    assert client.token == "t"


def test_no_credential_in_a_repr() -> None:
    for auth in (vault.TokenAuth("s.tok-123"), vault.AppRoleAuth("role", "sec-456"),
                 vault.UserpassAuth("u", "pw-789")):
        assert not any(secret in repr(auth) for secret in ("s.tok-123", "sec-456", "pw-789"))


# ------------------------------------------------------------------------------ real server


def _client(setup: VaultSetup, auth: vault.Auth) -> vault.VaultClient:
    return vault.VaultClient(vault.VaultSettings(setup.server.url, timeout=10), auth)


def _short_role(setup: VaultSetup, ttl: str, max_ttl: str) -> vault.AppRoleAuth:
    root = setup.server.client()
    name = f"short-{uuid.uuid4().hex[:8]}"
    root.auth.approle.create_or_update_approle(name, token_policies=[setup.policy], token_ttl=ttl,
                                               token_max_ttl=max_ttl)
    role_id = root.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return vault.AppRoleAuth(role_id, secret_id)


def _alive(setup: VaultSetup, token: str) -> bool:
    import hvac.exceptions

    try:
        setup.server.client().auth.token.lookup(token)
        return True
    except hvac.exceptions.Forbidden:
        return False


@pytest.mark.peer("vault")
@pytest.mark.parametrize("method", ["approle", "userpass", "jwt"])
def test_logins_give_a_token_with_a_lease(vault_dev: VaultSetup, method: str, tmp_path: Path) -> None:
    if method == "approle":
        auth: vault.Auth = vault.AppRoleAuth(vault_dev.approle_role_id, vault_dev.approle_secret_id)
    elif method == "userpass":
        auth = vault.UserpassAuth(vault_dev.userpass_user, vault_dev.userpass_password, mount="auth/userpass")
    else:
        token_file = tmp_path / "jwt"
        token_file.write_text(vault_dev.jwt_signer.sign({"sub": "ci-job"}))
        auth = vault.JwtAuth(vault_dev.jwt_role, str(token_file))
    client = _client(vault_dev, auth)
    token = client.hvac().token
    assert token and token != vault_dev.server.root_token and client.logins == 1
    assert client.lease is not None and client.lease.renewable and client.lease.ttl > 0  # from the login answer
    assert client.check_token().ttl > 0
    client.close()
    assert not _alive(vault_dev, token)  # a login's token is revoked on close


@pytest.mark.peer("vault")
def test_a_fresh_token_is_kept_without_a_request(vault_dev: VaultSetup) -> None:
    client = _client(vault_dev, vault.AppRoleAuth(vault_dev.approle_role_id, vault_dev.approle_secret_id))
    token = client.hvac().token
    lease = client.lease
    client.ensure_token(min_ttl=60)
    assert client.hvac().token == token and client.lease is lease and client.logins == 1
    client.close()


@pytest.mark.peer("vault")
def test_a_token_near_expiry_is_renewed_then_replaced_at_its_max_ttl(vault_dev: VaultSetup) -> None:
    client = _client(vault_dev, _short_role(vault_dev, ttl="6s", max_ttl="9s"))
    first = client.hvac().token
    assert client.lease is not None and client.lease.ttl == 6
    time.sleep(2)
    client.ensure_token(min_ttl=5)  # ~4 s left, renewable: renewed back to 6 s, same token
    assert client.hvac().token == first and client.logins == 1
    assert (client.lease.remaining() or 0) > 5
    time.sleep(4)
    client.ensure_token(min_ttl=5)  # renewal capped by the 9 s max TTL (~3 s): only a new login helps
    second = client.hvac().token
    assert second != first and client.logins == 2
    assert not _alive(vault_dev, first)  # the replaced token was revoked, not left to pile up
    assert client.check_token().ttl > 0
    client.close()


@pytest.mark.peer("vault")
def test_a_revoked_token_is_noticed_when_verified_and_replaced(vault_dev: VaultSetup) -> None:
    client = _client(vault_dev, vault.AppRoleAuth(vault_dev.approle_role_id, vault_dev.approle_secret_id))
    first = client.hvac().token
    vault_dev.server.client().auth.token.revoke(first)
    client.ensure_token()  # the remembered lease still looks fresh: no request, nothing noticed
    assert client.hvac().token == first
    client.ensure_token(verify=True)
    assert client.hvac().token != first and client.logins == 2
    client.check_token()
    client.close()


@pytest.mark.peer("vault")
def test_a_given_token_is_never_replaced_and_its_refusal_is_an_error(vault_dev: VaultSetup) -> None:
    weak = vault_dev.server.client().auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    client = _client(vault_dev, vault.TokenAuth(weak))
    client.ensure_token(verify=True)
    assert client.lease is not None and 0 < client.lease.ttl <= 600
    vault_dev.server.client().auth.token.revoke(weak)
    with pytest.raises(ProviderError, match="permission denied") as refused:
        client.ensure_token(verify=True)
    assert weak not in str(refused.value) and vault_dev.server.url in str(refused.value)
    client.close()
    assert client.logins == 1  # the token "login" only, never a real one


@pytest.mark.peer("vault")
def test_refused_logins_and_unreadable_token_files(vault_dev: VaultSetup, tmp_path: Path) -> None:
    bad = "00000000-1111-2222-3333-444444444444"
    with pytest.raises(ProviderError, match="AppRole login refused the credentials") as refused:
        _client(vault_dev, vault.AppRoleAuth(vault_dev.approle_role_id, bad)).hvac()
    assert bad not in str(refused.value)
    other_signed = tmp_path / "jwt"
    other_signed.write_text(vault_dev.jwt_signer.sign({"sub": "x", "aud": "another-audience"}))
    with pytest.raises(ProviderError, match="JWT login refused"):
        _client(vault_dev, vault.JwtAuth(vault_dev.jwt_role, str(other_signed))).hvac()
    with pytest.raises(KeyMaterialError, match="cannot read the service-account token"):
        _client(vault_dev, vault.KubernetesAuth("r", token_path=str(tmp_path / "absent"))).hvac()
    # A failed login is retried on the next use, not left as a client without a token.
    client = _client(vault_dev, vault.JwtAuth(vault_dev.jwt_role, str(other_signed)))
    with pytest.raises(ProviderError):
        client.hvac()
    other_signed.write_text(vault_dev.jwt_signer.sign({"sub": "ci-job"}))  # the projected token rotated
    assert client.hvac().token and client.logins == 1
    client.close()


def test_unreachable_server(tmp_path: Path) -> None:
    client = vault.VaultClient(vault.VaultSettings("http://127.0.0.1:9", timeout=2), vault.TokenAuth("s.secret-tok"))
    with pytest.raises(ProviderError, match="unreachable") as down:
        client.check_token()
    assert "127.0.0.1:9" in str(down.value) and "s.secret-tok" not in str(down.value)
