"""The contract between the ExternalSecret sync engine and the stores it reads from.

ESO's `SecretsClient`, in Python: the sync engine (fetch.py) asks a `StoreClient` for one value,
a map or a find; the store client (stores/) applies its provider's own `property` rules (Vault:
an exact top-level key first, then a gjson path; fake/AWS/GCP: gjson) and decoding is left to the
engine. A remote key that the provider says does not exist raises `NoSecretError` (ESO's
`esv1.NoSecretErr`): only that error lets deletionPolicy Delete/Merge drop data. Every other
failure is a `ProviderError` and leaves the Secret untouched. Neither error ever carries a value.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ProviderError

# ESO's enums, spelled as in the CRD
CONVERSION_DEFAULT, CONVERSION_UNICODE = "Default", "Unicode"
DECODING = ("Auto", "Base64", "Base64URL", "None")
METADATA_NONE, METADATA_FETCH = "None", "Fetch"


# How old a shared provider read may be for the reconcile running now, in seconds (None: the store
# client's own window). Set by the runtime for each reconcile: 0 for a force-sync or a retry after a
# failure, so those always read the provider afresh; a read still in flight is always joined.
READ_MAX_AGE: contextvars.ContextVar[float | None] = contextvars.ContextVar("read_max_age", default=None)


class NoSecretError(ProviderError):
    """The provider answered: this remote key (or version, or property) does not exist."""


@dataclass(frozen=True)
class RemoteRef:
    """`spec.data[].remoteRef` / `spec.dataFrom[].extract` (ESO's ExternalSecretDataRemoteRef)."""

    key: str
    property: str = ""
    version: str = ""
    metadata_policy: str = METADATA_NONE
    conversion_strategy: str = CONVERSION_DEFAULT
    decoding_strategy: str = "None"
    null_bytes_policy: str = "Ignore"

    def read_key(self) -> tuple[str, str, str]:
        """What one provider read depends on (property is applied after the read): the coalescing key."""
        return (self.key, self.version, self.metadata_policy)


@dataclass(frozen=True)
class FindRef:
    """`spec.dataFrom[].find` (ESO's ExternalSecretFind)."""

    path: str = ""
    name_regexp: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    conversion_strategy: str = CONVERSION_DEFAULT
    decoding_strategy: str = "None"

    def read_key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.path, self.name_regexp, tuple(sorted(self.tags.items())))


@dataclass(frozen=True)
class Validation:
    """A store check's outcome, as ESO's `ValidationResult`: Ready + reason + message."""

    result: str  # "Valid" | "Unknown" | "Error"
    message: str = ""


class StoreClient(Protocol):
    """One provider client per store (reused across reconciles); all methods are coroutines."""

    async def get_secret(self, ref: RemoteRef) -> bytes:
        """One value: the whole remote value, or `ref.property` of it."""
        ...

    async def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        """`dataFrom.extract`: the remote value (or its `ref.property`) read as a JSON object."""
        ...

    async def get_all_secrets(self, find: FindRef) -> dict[str, bytes]:
        """`dataFrom.find`: remote key -> value for every match (keys as the provider names them)."""
        ...

    async def validate(self) -> Validation:
        ...

    async def close(self) -> None:
        ...
