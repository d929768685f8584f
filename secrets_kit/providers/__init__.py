"""Secret providers behind one interface (`base.Provider`), found by name in a lazy registry.

Adding a provider is one module and one line in `REGISTRY`; its cloud library is
imported only when that provider is opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .base import FindSpec, Provider, RemoteRef

# kind -> "module:Class"
REGISTRY: dict[str, str] = {
    "fake": "secrets_kit.providers.fake:FakeProvider",
    "aws-secretsmanager": "secrets_kit.providers.aws_secretsmanager:AwsSecretsManagerProvider",
    "aws-ssm": "secrets_kit.providers.aws_ssm:AwsParameterStoreProvider",
    "gcp-secretmanager": "secrets_kit.providers.gcp_secretmanager:GcpSecretManagerProvider",
    "vault": "secrets_kit.providers.vault:VaultProvider",
}

__all__ = ["REGISTRY", "FindSpec", "Provider", "RemoteRef", "open_provider", "provider_class"]


def provider_class(kind: str) -> type[Provider]:
    target = REGISTRY.get(kind)
    if target is None:
        raise ConfigError(f"unknown secret provider {kind!r}", hint="known: " + ", ".join(sorted(REGISTRY)))
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"the {kind!r} provider is not available: {exc.name or exc}",
                          hint="install the library this provider needs") from None
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"registry entry for {kind!r} is not a Provider")
    return cls


def open_provider(kind: str, config: Mapping[str, Any] | None = None) -> Provider:
    """A ready provider of `kind` built from `config` (file paths already resolved)."""
    return provider_class(kind).from_config(dict(config or {}))
