"""The SOPS key-source interface: wrap a data key into a metadata stanza, unwrap it back.

One module per key source (age, pgp, aws_kms, gcp_kms, hc_vault); each registers its
class in `keysources/__init__.py` under the metadata stanza name sops uses.
"""

from __future__ import annotations

import binascii
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ...errors import DecryptionError


class MasterKey(ABC):
    """One recipient of the data key (an age recipient, a PGP fingerprint, a KMS key ...).

    `data_key` is the raw 32-byte data key, or a 33-byte Shamir share when the file
    has several key groups.
    """

    stanza: ClassVar[str]  # metadata list name: "age", "pgp", "kms", "gcp_kms", "hc_vault"

    @property
    @abstractmethod
    def identifier(self) -> str:
        """What names this key in messages: recipient, fingerprint, ARN, resource id, URI."""

    @abstractmethod
    def wrap(self, data_key: bytes) -> dict[str, Any]:
        """Encrypt the data key; return the full metadata stanza (with `enc`) as sops writes it."""

    @abstractmethod
    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        """Decrypt `stanza["enc"]` back to the data key; raise errors.DecryptionError /
        KeyMaterialError / ProviderError naming this key (never the key bytes)."""

    @classmethod
    @abstractmethod
    def from_stanza(cls, stanza: dict[str, Any]) -> MasterKey:
        """Rebuild the key description from a metadata stanza (without decrypting)."""


def base64_enc(stanza: dict[str, Any], name: str, where: str) -> bytes:
    """The stanza's `enc` as bytes, for key sources that store it as standard base64 (kms, gcp_kms)."""
    enc = stanza.get("enc")
    if not isinstance(enc, str) or not enc:
        raise DecryptionError(f"the {name} stanza has no encrypted data key", where=where,
                              hint="the file's metadata is corrupt")
    import base64  # kms and gcp_kms only: not on an age decrypt's start-up

    try:
        return base64.b64decode(enc, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("the encrypted data key is not valid base64", where=where,
                              hint="the file's metadata is corrupt or was edited") from None
