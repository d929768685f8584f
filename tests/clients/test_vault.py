"""Both Vault users (SOPS transit keys, the Vault provider) read Vault's TLS settings alike."""

from __future__ import annotations

import pytest

from secrets_kit.vault_client import from_env, open_client, tls_verify


@pytest.mark.parametrize("value", ["1", "t", "T", "true", "TRUE", "yes", "on"])
def test_skip_verify_true_spellings(value: str) -> None:
    assert tls_verify(from_env({"VAULT_SKIP_VERIFY": value, "VAULT_CACERT": "/ca.pem"})) is False


@pytest.mark.parametrize("value", ["", "0", "false", "f", "no"])
def test_skip_verify_false_uses_the_ca_bundle(value: str) -> None:
    assert tls_verify(from_env({"VAULT_SKIP_VERIFY": value, "VAULT_CACERT": "/ca.pem"})) == "/ca.pem"
    assert tls_verify(from_env({"VAULT_SKIP_VERIFY": value})) is True


def test_client_carries_namespace_and_tls_settings() -> None:
    client = open_client("https://vault.invalid:8200", from_env({"VAULT_NAMESPACE": "team-a",
                                                                 "VAULT_CACERT": "/ca.pem"}),
                         token="t", timeout=3)
    assert client.adapter.namespace == "team-a"
    assert client.adapter._kwargs["verify"] == "/ca.pem"
