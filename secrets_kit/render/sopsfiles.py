"""Recognise SOPS-encrypted content the way Flux's kustomize-controller does: by marker bytes
(secrets_kit.sops.detect), and pick a file's format from its name.
"""

from __future__ import annotations

from typing import Any

from ..sops.detect import looks_encrypted

MAX_ENCRYPTED_SIZE = 5 * 1024 * 1024  # Flux's limit for an encrypted source file


def has_sops_marker(data: bytes) -> bool:
    """Whether `data` is a SOPS-encrypted file, by its encrypted MAC (the one detector: sops/detect.py)."""
    return looks_encrypted(data)


def format_for_name(name: str, default: str = "binary") -> str:
    """Flux's rule: .json/.yaml/.yml/.ini/.env by extension, anything else binary."""
    lower = name.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".ini"):
        return "ini"
    if lower.endswith(".env"):
        return "dotenv"
    return default


def is_sops_document(doc: Any) -> bool:
    """A manifest (or any mapping) carrying a top-level `sops` block with a MAC."""
    if not isinstance(doc, dict):
        return False
    meta = doc.get("sops")
    return isinstance(meta, dict) and isinstance(meta.get("mac"), str) and "lastmodified" in meta


def sops_mac(doc: Any) -> str | None:
    return doc["sops"]["mac"] if is_sops_document(doc) else None
