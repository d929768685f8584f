"""One way to open an hvac client from Vault's own settings, for every part that talks to Vault.

The SOPS transit key source and the Vault secret provider read the same variables
(VAULT_NAMESPACE, VAULT_CACERT, VAULT_SKIP_VERIFY) and must agree on what they mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# VAULT_SKIP_VERIFY is parsed by Vault's CLI with Go's strconv.ParseBool; "yes"/"on" are
# accepted too, as people write them in Kubernetes manifests.
_TRUE = frozenset({"1", "t", "true", "yes", "on"})


def tls_verify(settings: Mapping[str, str]) -> bool | str:
    """requests' `verify`: False when skip_verify is true, else a CA bundle path, else True."""
    if settings.get("skip_verify", "").strip().lower() in _TRUE:
        return False
    return settings.get("cacert") or True


def from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The client settings Vault's own variables give."""
    names = {"namespace": "VAULT_NAMESPACE", "cacert": "VAULT_CACERT", "skip_verify": "VAULT_SKIP_VERIFY"}
    return {key: environ[var] for key, var in names.items() if environ.get(var)}


def open_client(address: str, settings: Mapping[str, str], *, token: str | None, timeout: float) -> Any:
    import hvac

    return hvac.Client(url=address, token=token, namespace=settings.get("namespace") or None,
                       verify=tls_verify(settings), timeout=timeout)
