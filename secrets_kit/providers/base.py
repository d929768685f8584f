"""The secret-provider interface: one small contract every secret store implements.

The shape follows External Secrets Operator's `SecretsClient` so ExternalSecret
manifests map onto it one to one:

- `get_secret(ref)`: one value (optionally one JSON property of it, at one version);
- `get_secret_map(ref)`: a secret whose value is a JSON object, as a map of bytes;
- `find_secrets(spec)`: every secret whose name matches a regex and/or carries tags;
- `validate()`: check that the store is reachable and the credentials are accepted;
- `close()`: release clients and connections.

Values are bytes. Errors are `ProviderError` (unreachable, refused, not found) and
name the store and the remote key, never a value.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar

from ..errors import ConfigError, ProviderError


@dataclass(frozen=True)
class RemoteRef:
    """Where one value lives: the remote key, optionally a JSON property and a version."""

    key: str
    property: str | None = None
    version: str | None = None
    # Vault only: the KV engine version for this read ("1"/"2"), argocd-vault-plugin's per-resource
    # `avp.kubernetes.io/kv-version`; None means the provider's own setting. Other providers ignore it.
    kv_version: str | None = None

    def describe(self) -> str:
        text = self.key
        if self.property:
            text += f"#{self.property}"
        if self.version:
            text += f" (version {self.version})"
        return text


@dataclass(frozen=True)
class FindSpec:
    """Which secrets `find_secrets` returns: a name regex, tags that must all match, a path prefix."""

    name_regex: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    path: str | None = None


class Provider(ABC):
    """A secret store. Use it as a context manager, or call `close()`."""

    kind: ClassVar[str]  # registry name, e.g. "fake", "aws-secretsmanager"

    @classmethod
    @abstractmethod
    def from_config(cls, config: Mapping[str, Any]) -> Provider:
        """Build from a configuration mapping (paths already resolved by the caller)."""

    @abstractmethod
    def get_secret(self, ref: RemoteRef) -> bytes:
        """One value; with `ref.property`, that property of the JSON value."""

    @abstractmethod
    def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        """The secret's JSON object as a map; with `ref.property`, the object under that property."""

    @abstractmethod
    def find_secrets(self, spec: FindSpec) -> dict[str, bytes]:
        """Every matching secret: remote key -> value."""

    def canonical(self, ref: RemoteRef) -> RemoteRef:
        """`ref` with the fields this provider ignores or defaults dropped, so equal reads coalesce."""
        return RemoteRef(ref.key, ref.property, ref.version)

    @abstractmethod
    def validate(self) -> None:
        """Raise ProviderError if the store cannot be reached or refuses the credentials."""

    def close(self) -> None:  # noqa: B027 - optional hook: most providers hold nothing to release
        """Release clients and connections (idempotent)."""

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# ----------------------------------------------------------------------------- shared helpers


def _json_object(value: bytes, where: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, UnicodeDecodeError):
        raise ProviderError("the secret value is not JSON, so it has no properties", where=where,
                            hint="drop the property to read the whole value") from None


def _walk(document: Any, prop: str, where: str) -> Any:
    """A dotted property path (`a.b.0.c`) into a JSON document; a key containing dots may be quoted whole."""
    if isinstance(document, dict) and prop in document:
        return document[prop]
    node = document
    for part in prop.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ProviderError(f"property {prop!r} not found in the secret", where=where)
    return node


def as_bytes(value: Any) -> bytes:
    """A JSON value as the bytes a Kubernetes Secret would hold: strings raw, everything else as JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def extract_property(value: bytes, prop: str | None, where: str) -> bytes:
    """`value` itself, or one property of it read as JSON (ESO's `remoteRef.property`)."""
    if not prop:
        return value
    return as_bytes(_walk(_json_object(value, where), prop, where))


def value_map(value: bytes, prop: str | None, where: str) -> dict[str, bytes]:
    """A JSON object value (or the object under `prop`) as a map of bytes (ESO's `dataFrom.extract`)."""
    document = _json_object(value, where)
    if prop:
        document = _walk(document, prop, where)
    if not isinstance(document, dict):
        raise ProviderError("the secret value is not a JSON object, so it cannot be read as a map", where=where)
    return {str(key): as_bytes(item) for key, item in document.items()}


def require_str(config: Mapping[str, Any], name: str, where: str, *, default: str | None = None) -> str:
    value = config.get(name, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"provider setting {name!r} must be a non-empty string", where=where)
    return value
