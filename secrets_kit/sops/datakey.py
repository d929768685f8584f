"""The data key: made per file, wrapped by every master key, recovered across key groups.

One key group: every master key wraps the raw 32-byte key. Several groups: the key is
split with Shamir (x = group index + 1) and every key of group i wraps share i; a reader
needs `shamir_threshold` groups. Within a group the first key that works is enough; keys
are tried in the decryption order (default age, then pgp, then the rest).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import DecryptionError, InputError, KeyMaterialError, SecretsKitError
from .keysources import DEFAULT_DECRYPTION_ORDER, MasterKey, key_from_stanza
from .metadata import Metadata, Stanza
from .reasons import Reason

DATA_KEY_SIZE = 32


class DataKeyError(DecryptionError):
    """The data key could not be recovered (no identity opened it, or too few key groups did)."""

    reason = Reason.NO_DATA_KEY


def generate_data_key() -> bytes:
    return os.urandom(DATA_KEY_SIZE)


def _shamir() -> Any:
    from . import shamir

    return shamir


def parse_decryption_order(text: str | None) -> tuple[str, ...]:
    if not text:
        return DEFAULT_DECRYPTION_ORDER
    order = [part.strip() for part in text.split(",")]
    if len(set(order)) != len(order):
        dup = next(x for x in order if order.count(x) > 1)
        raise InputError(f"Duplicate decryption key type: {dup}", reason=Reason.DUPLICATE_DECRYPTION_ORDER)
    return tuple(order)


def wrap_groups(data_key: bytes, groups: Sequence[Sequence[MasterKey]], threshold: int) -> tuple[
        list[list[Stanza]], int]:
    """Wrap the data key (or its Shamir shares) with every key; returns (stanzas, threshold)."""
    if not groups:
        raise KeyMaterialError("no key groups provided", hint="pass --age/--pgp/--kms/... or add a .sops.yaml "
                               "creation rule", reason=Reason.DATA_KEY_NOT_WRAPPED)
    for group in groups:
        if not group:
            raise KeyMaterialError("empty key group provided", reason=Reason.DATA_KEY_NOT_WRAPPED)
    if len(groups) == 1:
        parts = [data_key]
    else:
        if threshold == 0:
            threshold = len(groups)
        try:
            parts = _shamir().split(data_key, len(groups), threshold)
        except SecretsKitError as exc:
            raise KeyMaterialError(f"could not split data key into parts for Shamir: {exc.message}",
                                   reason=Reason.DATA_KEY_NOT_WRAPPED) from None
    errors: list[str] = []
    result: list[list[Stanza]] = []
    for part, group in zip(parts, groups, strict=True):
        stanzas = []
        for key in group:
            try:
                stanzas.append(Stanza(key.stanza, key.wrap(part)))
            except SecretsKitError as exc:
                errors.append(f"failed to encrypt new data key with master key {key.identifier!r}: {exc.message}")
        result.append(stanzas)
    if errors:
        raise KeyMaterialError("; ".join(errors), reason=Reason.DATA_KEY_NOT_WRAPPED)
    return result, threshold


def _sorted_stanzas(group: list[Stanza], order: Sequence[str]) -> list[Stanza]:
    rank = {kind: i for i, kind in enumerate(order)}
    return sorted(group, key=lambda s: rank.get(s.kind, len(order)))


def _describe_kind(stanza: Stanza) -> str:
    data = stanza.data
    ident = (data.get("recipient") or data.get("fp") or data.get("arn") or data.get("resource_id")
             or data.get("key_name") or data.get("vault_url") or data.get("key_id") or "?")
    return f"{stanza.kind} {ident}"


def _unwrap_group(group: list[Stanza], order: Sequence[str]) -> tuple[bytes | None, list[str]]:
    failures: list[str] = []
    for stanza in _sorted_stanzas(group, order):
        try:
            key = key_from_stanza(stanza.kind, stanza.data)
            return key.unwrap(stanza.data), failures
        except SecretsKitError as exc:
            text = exc.message
            label = _describe_kind(stanza)
            failures.append(text if stanza.kind in text or label.split(" ", 1)[1] in text else f"{label}: {text}")
        except Exception as exc:  # a key-source bug must not hide the other keys
            failures.append(f"{_describe_kind(stanza)}: {type(exc).__name__}")
    return None, failures


def recover_data_key(md: Metadata, order: Sequence[str] = DEFAULT_DECRYPTION_ORDER) -> bytes:
    """Decrypt the data key; on failure name every key tried, per group, and why it failed."""
    parts: list[bytes] = []
    report: list[str] = []
    for index, group in enumerate(md.key_groups):
        part, failures = _unwrap_group(group, order)
        if part is not None:
            parts.append(part)
            report.append(f"Group {index}: OK")
        elif not group:
            report.append(f"Group {index}: FAILED (empty key group)")
        else:
            report.append(f"Group {index}: FAILED (" + "; ".join(failures) + ")")
        if len(md.key_groups) > 1 and len(parts) >= max(md.shamir_threshold, 1) and md.shamir_threshold:
            break
    if len(md.key_groups) > 1:
        needed = md.shamir_threshold or len(md.key_groups)
        if len(parts) < needed:
            raise DataKeyError(
                "Failed to get the data key required to decrypt the SOPS file: "
                f"{len(parts)} of {needed} required key groups decrypted. " + " ".join(report),
                hint="provide identities for more key groups")
        try:
            key = bytes(_shamir().combine(parts))
        except SecretsKitError as exc:
            raise DataKeyError(f"could not get data key from shamir parts: {exc.message}") from None
    else:
        if not parts:
            raise DataKeyError("Failed to get the data key required to decrypt the SOPS file. " + " ".join(report),
                               hint="make an identity for one of these keys available (e.g. SOPS_AGE_KEY_FILE, "
                                    "GNUPGHOME, cloud credentials)")
        key = parts[0]
    if len(key) != DATA_KEY_SIZE:
        raise DataKeyError(f"the recovered data key has {len(key)} bytes, expected {DATA_KEY_SIZE}")
    return key


