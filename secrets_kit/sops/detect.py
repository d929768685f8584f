"""Is this a sops file, and in which format? Cheap checks on the bytes, as Flux and helm-secrets do.

Markers: `mac: ENC[` (YAML), `"mac": "ENC[` (JSON and the binary envelope), `sops_mac=ENC[`
(dotenv), a `[sops]` section with `mac = ENC[` (INI).
"""

from __future__ import annotations

import re

_MARKERS = (
    ("yaml", re.compile(rb"(?m)^\s*mac:\s*[\"']?ENC\[AES256_GCM,")),
    ("json", re.compile(rb"\"mac\"\s*:\s*\"ENC\[AES256_GCM,")),
    ("dotenv", re.compile(rb"(?m)^sops_mac=ENC\[AES256_GCM,")),
    ("ini", re.compile(rb"(?ms)^\[sops\].*^mac\s*=\s*ENC\[AES256_GCM,")),
)


def detect_format(data: bytes) -> str | None:
    """The format of a sops-encrypted file (`yaml`, `json`, `binary`, `dotenv`, `ini`), or None."""
    for fmt, marker in _MARKERS:
        if marker.search(data):
            if fmt == "json" and re.search(rb"^\s*\{\s*\"data\"\s*:\s*\"ENC\[", data):
                return "binary"
            return fmt
    return None


def looks_encrypted(data: bytes) -> bool:
    return detect_format(data) is not None
