"""Vault transit key source against a real Vault-API server (OpenBao dev mode), and the real sops.

Needs the `vault_dev` fixture (tests/peers/vault_fixtures.py); without the server binary the
tests skip with `python -m tests.peers.install vault`.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import socket
from pathlib import Path
from typing import Any

import pyrage
import pytest
from ruamel.yaml import YAML

from secrets_kit.errors import ConfigError, DecryptionError, KeyMaterialError, ProviderError
from secrets_kit.sops import shamir
from secrets_kit.sops.keysources import hc_vault
from secrets_kit.sops.keysources.hc_vault import VaultTransitKey
from tests.sops_keys.sopsfile import build_json_file, clean_env, decrypt_value, run_sops

pytestmark = pytest.mark.peer("vault")
NESTED_ENGINE = "sops-keys/transit"


@pytest.fixture(scope="module")
def vault(vault_dev: Any) -> Any:
    """The shared dev server, plus a transit engine at a two-segment path for these tests."""
    client = vault_dev.server.client()
    if f"{NESTED_ENGINE}/" not in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.enable_secrets_engine("transit", path=NESTED_ENGINE)
    return vault_dev


@pytest.fixture
def root_env(vault: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """VAULT_TOKEN = the root token; HOME without a ~/.vault-token; no allowlist."""
    monkeypatch.setenv("VAULT_TOKEN", vault.server.root_token)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SOPS_HC_VAULT_ALLOWLIST", raising=False)
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    return str(vault.server.url)


def _new_key(vault: Any, engine: str = "transit") -> str:
    name = "sops-" + secrets.token_hex(4)
    vault.server.client().secrets.transit.create_key(name, mount_point=engine)
    return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ wrap/unwrap


def test_round_trip_and_stanza_layout(vault: Any, root_env: str) -> None:
    name = _new_key(vault)
    data_key = random.randbytes(32)
    stanza = VaultTransitKey.from_uri(f"{root_env}/v1/transit/keys/{name}").wrap(data_key)
    assert list(stanza) == ["created_at", "enc", "engine_path", "key_name", "vault_address"]
    assert (stanza["vault_address"], stanza["engine_path"], stanza["key_name"]) == (root_env, "transit", name)
    assert stanza["enc"].startswith("vault:v1:")
    # What was sent is base64(data key), as sops sends it.
    sent = vault.server.client().secrets.transit.decrypt_data(name, stanza["enc"])["data"]["plaintext"]
    assert base64.b64decode(sent) == data_key
    assert VaultTransitKey.from_stanza(stanza).unwrap(stanza) == data_key


def test_nested_engine_path_and_a_shamir_share(vault: Any, root_env: str) -> None:
    name = _new_key(vault, NESTED_ENGINE)
    key = VaultTransitKey.from_uri(f"{root_env}/v1/{NESTED_ENGINE}/keys/{name}")
    assert (key.engine_path, key.key_name) == (NESTED_ENGINE, name)
    assert key.identifier == f"{root_env}/v1/{NESTED_ENGINE}/keys/{name}"
    share = shamir.split(random.randbytes(32), 3, 2)[0]
    stanza = key.wrap(share)
    assert stanza["engine_path"] == NESTED_ENGINE
    assert VaultTransitKey.from_stanza(stanza).unwrap(stanza) == share


def test_token_from_the_vault_token_file(vault: Any, root_env: str, monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    name = _new_key(vault)
    monkeypatch.delenv("VAULT_TOKEN")
    (tmp_path / ".vault-token").write_text(vault.server.root_token + "\n")
    data_key = random.randbytes(32)
    key = VaultTransitKey(root_env, "transit", name)
    assert key.unwrap(key.wrap(data_key)) == data_key


def test_a_policy_limited_token(vault: Any, root_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An AppRole token whose policy allows transit/encrypt|decrypt only on the `transit` mount."""
    login = vault.server.client(token="").auth.approle.login(vault.approle_role_id, vault.approle_secret_id)
    monkeypatch.setenv("VAULT_TOKEN", login["auth"]["client_token"])
    data_key = random.randbytes(32)
    key = VaultTransitKey(root_env, "transit", vault.transit_key)
    assert key.unwrap(key.wrap(data_key)) == data_key
    nested = VaultTransitKey(root_env, NESTED_ENGINE, _new_key(vault, NESTED_ENGINE))
    with pytest.raises(KeyMaterialError, match="permission denied") as info:
        nested.wrap(data_key)
    assert nested.identifier in str(info.value)


def test_missing_and_refused_tokens_are_key_material_errors(
    vault: Any, root_env: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = _new_key(vault)
    key = VaultTransitKey(root_env, "transit", name)
    stanza = key.wrap(random.randbytes(32))
    monkeypatch.delenv("VAULT_TOKEN")
    with pytest.raises(KeyMaterialError, match="no Vault token") as info:
        key.unwrap(stanza)
    assert key.identifier in str(info.value)
    monkeypatch.setenv("VAULT_TOKEN", "hvs.not-a-real-token")
    with pytest.raises(KeyMaterialError, match="refused the token") as info:
        key.unwrap(stanza)
    assert "hvs.not-a-real-token" not in str(info.value)


def test_tampered_and_wrong_key_are_decryption_errors(vault: Any, root_env: str) -> None:
    name, other = _new_key(vault), _new_key(vault)
    data_key = random.randbytes(32)
    key = VaultTransitKey(root_env, "transit", name)
    stanza = key.wrap(data_key)
    raw = bytearray(base64.b64decode(stanza["enc"].removeprefix("vault:v1:")))
    raw[-1] ^= 0x01
    tampered = dict(stanza, enc="vault:v1:" + base64.b64encode(bytes(raw)).decode())
    with pytest.raises(DecryptionError, match="message authentication failed") as info:
        key.unwrap(tampered)
    assert key.identifier in str(info.value)
    assert data_key.hex() not in str(info.value)
    with pytest.raises(DecryptionError, match="message authentication failed"):
        VaultTransitKey(root_env, "transit", other).unwrap(stanza)
    with pytest.raises(DecryptionError, match="not found"):
        VaultTransitKey(root_env, "transit", "no-such-key").unwrap(stanza)
    with pytest.raises(DecryptionError):
        key.unwrap(dict(stanza, enc="not-a-vault-ciphertext"))
    with pytest.raises(DecryptionError, match="no encrypted data key"):
        key.unwrap({"key_name": name})


def test_unreachable_server_is_a_provider_error(root_env: str) -> None:
    key = VaultTransitKey(f"http://127.0.0.1:{_free_port()}", "transit", "k")
    with pytest.raises(ProviderError, match="unreachable") as info:
        key.wrap(random.randbytes(32))
    assert key.identifier in str(info.value)


def test_the_allowlist_guards_the_token(vault: Any, root_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _new_key(vault)
    key = VaultTransitKey(root_env, "transit", name)
    monkeypatch.setenv("SOPS_HC_VAULT_ALLOWLIST", "none")
    with pytest.raises(ConfigError, match="does not allow") as info:
        key.wrap(random.randbytes(32))
    assert root_env in str(info.value)
    monkeypatch.setenv("SOPS_HC_VAULT_ALLOWLIST", "https://vault.example.org, http://10.0.0.1:8200")
    with pytest.raises(ConfigError, match="does not allow"):
        key.wrap(random.randbytes(32))
    monkeypatch.setenv("SOPS_HC_VAULT_ALLOWLIST", f"https://vault.example.org,{root_env}")
    data_key = random.randbytes(32)
    assert key.unwrap(key.wrap(data_key)) == data_key
    monkeypatch.setenv("SOPS_HC_VAULT_ALLOWLIST", f"{root_env},,https://x")
    with pytest.raises(ConfigError, match="entry 2 is empty"):
        key.wrap(data_key)


# ---------------------------------------------------------------------------------- URI form


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://vault.example.org:8200/v1/transit/keys/dev", ("https://vault.example.org:8200", "transit", "dev")),
        ("http://127.0.0.1:8200/v1/a/b/transit/keys/k1", ("http://127.0.0.1:8200", "a/b/transit", "k1")),
        ("https://vault/v1/transit/keys/k/", ("https://vault", "transit", "k")),
    ],
)
def test_parse_uri(uri: str, expected: tuple[str, str, str]) -> None:
    assert hc_vault.parse_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("vault.example.org:8200/v1/transit/keys/dev", "missing scheme or host"),
        ("/v1/transit/keys/dev", "missing scheme or host"),
        ("https://vault.example.org/vault/v1/transit/keys/dev", "prefixed URL"),
        ("https://vault.example.org/v1/transit", "does not look like a transit key"),
    ],
)
def test_parse_uri_rejects(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        hc_vault.parse_uri(uri)


def test_from_cli_and_from_stanza() -> None:
    keys = hc_vault.from_cli("https://a:8200/v1/transit/keys/one, https://b:8200/v1/kms/keys/two,",
                             encryption_context="ignored:x", token="t0")
    assert all(isinstance(k, VaultTransitKey) and k.token == "t0" for k in keys)
    assert [k.identifier for k in keys] == ["https://a:8200/v1/transit/keys/one", "https://b:8200/v1/kms/keys/two"]
    assert hc_vault.from_cli("") == []
    with pytest.raises(KeyMaterialError, match="engine_path"):
        VaultTransitKey.from_stanza({"vault_address": "https://a", "key_name": "k", "enc": "vault:v1:x"})


# --------------------------------------------------------------------------- real sops interop


def _sops_env(tmp_path: Path, token: str, **extra: str) -> dict[str, str]:
    return clean_env(tmp_path, VAULT_TOKEN=token, **extra)


def test_we_unwrap_what_real_sops_wrapped(sops_bin: Path, tmp_path: Path, vault: Any, root_env: str) -> None:
    name = _new_key(vault, NESTED_ENGINE)
    uri = f"{root_env}/v1/{NESTED_ENGINE}/keys/{name}"
    (tmp_path / "plain.yaml").write_text("password: hunter2\nlist:\n    - item\n")
    done = run_sops(sops_bin, ["encrypt", "--hc-vault-transit", uri, "plain.yaml"],
                    env=_sops_env(tmp_path, vault.server.root_token), cwd=tmp_path)
    doc = YAML(typ="safe").load(done.stdout)
    (stanza,) = doc["sops"]["hc_vault"]
    assert (stanza["vault_address"], stanza["engine_path"], stanza["key_name"]) == (root_env, NESTED_ENGINE, name)
    data_key = VaultTransitKey.from_stanza(stanza).unwrap(stanza)
    assert len(data_key) == 32
    assert decrypt_value(doc["password"], data_key, "password:") == "hunter2"
    assert decrypt_value(doc["list"][0], data_key, "list:") == "item"


def test_real_sops_unwraps_what_we_wrapped(sops_bin: Path, tmp_path: Path, vault: Any, root_env: str) -> None:
    name = _new_key(vault)
    data_key = random.randbytes(32)
    groups = [{"hc_vault": [VaultTransitKey(root_env, "transit", name).wrap(data_key)]}]
    (tmp_path / "ours.json").write_text(build_json_file({"password": "hunter2"}, data_key, groups))
    done = run_sops(sops_bin, ["decrypt", "ours.json"], env=_sops_env(tmp_path, vault.server.root_token),
                    cwd=tmp_path)
    assert json.loads(done.stdout) == {"password": "hunter2"}
    # Control: with a token Vault refuses, sops cannot get the data key.
    refused = run_sops(sops_bin, ["decrypt", "ours.json"], env=_sops_env(tmp_path, "hvs.bogus"), cwd=tmp_path,
                       check=False)
    assert refused.returncode == 128, refused.stderr


def test_mixed_key_groups_vault_and_age_with_real_sops(
    sops_bin: Path, tmp_path: Path, vault: Any, root_env: str,
) -> None:
    """sops splits the data key over a Vault group and an age group; each share unwraps and combines."""
    name = _new_key(vault)
    identity = pyrage.x25519.Identity.generate()
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - hc_vault:\n          - {root_env}/v1/transit/keys/{name}\n"
        f"      - age:\n          - {identity.to_public()}\n")
    (tmp_path / "plain.yaml").write_text("password: hunter2\n")
    done = run_sops(sops_bin, ["encrypt", "plain.yaml"], env=_sops_env(tmp_path, vault.server.root_token),
                    cwd=tmp_path)
    doc = YAML(typ="safe").load(done.stdout)
    vault_group, age_group = doc["sops"]["key_groups"]
    (vault_stanza,) = vault_group["hc_vault"]
    vault_share = VaultTransitKey.from_stanza(vault_stanza).unwrap(vault_stanza)
    age_share = pyrage.decrypt(age_group["age"][0]["enc"].encode(), [identity])
    assert (len(vault_share), vault_share[-1], len(age_share), age_share[-1]) == (33, 1, 33, 2)
    data_key = shamir.combine([vault_share, age_share])
    assert decrypt_value(doc["password"], data_key, "password:") == "hunter2"
