"""Key-source registry: metadata stanza name -> "module:Class", imported on first use.

Cloud libraries (boto3, google-cloud-kms, hvac) load only when a file names their stanza.
Each module also exposes `from_cli(value: str, **opts) -> list[MasterKey]` for the
comma-separated command-line and `.sops.yaml` forms.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ...errors import ConfigError
from .base import MasterKey

REGISTRY: dict[str, str] = {
    "age": "secrets_kit.sops.keysources.age:AgeKey",
    "pgp": "secrets_kit.sops.keysources.pgp:PgpKey",
    "kms": "secrets_kit.sops.keysources.aws_kms:AwsKmsKey",
    "gcp_kms": "secrets_kit.sops.keysources.gcp_kms:GcpKmsKey",
    "hc_vault": "secrets_kit.sops.keysources.hc_vault:VaultTransitKey",
}

# sops's decryption order default, and the names `--decryption-order` accepts.
DEFAULT_DECRYPTION_ORDER = ("age", "pgp")

__all__ = ["DEFAULT_DECRYPTION_ORDER", "REGISTRY", "MasterKey", "key_class", "key_from_stanza", "keys_from_cli",
           "module_for"]


def module_for(kind: str) -> ModuleType:
    target = REGISTRY.get(kind)
    if target is None:
        raise ConfigError(f"sops key type '{kind}' is not supported by secrets-kit",
                          hint="supported: " + ", ".join(sorted(REGISTRY)))
    module_name, _, _ = target.partition(":")
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"the '{kind}' key source is not available: {exc}",
                          hint="install the library this key source needs") from None


def key_class(kind: str) -> type[MasterKey]:
    module = module_for(kind)
    cls = getattr(module, REGISTRY[kind].partition(":")[2])
    assert isinstance(cls, type) and issubclass(cls, MasterKey)
    return cls


def key_from_stanza(kind: str, stanza: dict[str, Any]) -> MasterKey:
    return key_class(kind).from_stanza(stanza)


def keys_from_cli(kind: str, value: str, **opts: Any) -> list[MasterKey]:
    """Keys from a comma-separated command-line value (`--age`, `--kms`, ...)."""
    if not value:
        return []
    module = module_for(kind)
    factory = getattr(module, "from_cli", None)
    if factory is None:
        raise ConfigError(f"the '{kind}' key source cannot be built from the command line")
    keys = factory(value, **opts)
    return list(keys)
