"""ESO's call labels for each Vault HTTP request (StoreVaultClient's on_call hook)."""

from __future__ import annotations

import pytest

from secrets_kit.externalsecrets.stores.vault import PROVIDER, call_of


@pytest.mark.parametrize(("method", "url", "call"), [
    ("POST", "http://v:8200/v1/auth/approle/login", "Login"),
    ("POST", "http://v:8200/v1/auth/userpass/login/bob", "Login"),
    ("POST", "http://v:8200/v1/auth/kubernetes/login", "Login"),
    ("POST", "http://v:8200/v1/auth/jwt/login", "Login"),
    ("GET", "http://v:8200/v1/auth/token/lookup-self", "LookupSelf"),
    ("POST", "http://v:8200/v1/auth/token/revoke-self", "RevokeSelf"),
    ("POST", "http://v:8200/v1/auth/token/renew-self", "RenewSelf"),
    ("GET", "http://v:8200/v1/secret/data/app?version=2", "ReadSecretData"),
    ("GET", "http://v:8200/v1/secret/metadata/app", "ReadSecretData"),
    ("LIST", "http://v:8200/v1/secret/metadata/", "ListSecrets"),
    ("GET", "http://v:8200/v1/secret/metadata/?list=true", "ListSecrets"),
    ("POST", "http://v:8200/v1/secret/data/app", "WriteSecretData"),
    ("DELETE", "http://v:8200/v1/secret/data/app", "DeleteSecret"),
    ("GET", "http://v:8200/v1/auth-stuff/data/x", "ReadSecretData"),  # a KV mount named like auth
])
def test_call_labels(method: str, url: str, call: str) -> None:
    assert call_of(method, url) == call


def test_provider_label_is_esos() -> None:
    assert PROVIDER == "HashiCorp/Vault"
