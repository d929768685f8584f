"""KubeReads for store tests without a cluster: in-memory Secrets (the Kubernetes side is not the peer
under test there; the provider is, and it is real)."""

from __future__ import annotations

from secrets_kit.errors import ConfigError


class SecretsStandIn:
    """KubeReads over an in-memory set of Secrets; records which (namespace, name, key) were read."""

    def __init__(self, secrets: dict[tuple[str, str], dict[str, bytes]] | None = None) -> None:
        self.secrets = secrets or {}
        self.reads: list[tuple[str, str, str]] = []

    async def secret_value(self, namespace: str, name: str, key: str) -> bytes:
        self.reads.append((namespace, name, key))
        try:
            return self.secrets[(namespace, name)][key]
        except KeyError:
            raise ConfigError(f"Secret {namespace}/{name} has no key {key}", where="kube") from None

    async def service_account_token(self, namespace: str, name: str, audiences: list[str],
                                    expiration_seconds: int) -> str:
        raise AssertionError("not used")
