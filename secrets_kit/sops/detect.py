"""Is this a sops file, and in which format? Cheap checks on the bytes, as Flux and helm-secrets do.

Markers: `mac: ENC[` (YAML), `"mac": "ENC[` (JSON and the binary envelope), `sops_mac=ENC[`
(dotenv), a `[sops]` section with `mac = ENC[` (INI).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

_MARKERS = (
    # Blanks, not \s: `^\s*` would run over every following newline at each line start (quadratic).
    ("yaml", re.compile(rb"(?m)^[ \t]*mac:[ \t]*[\"']?ENC\[AES256_GCM,")),
    ("json", re.compile(rb"\"mac\"\s*:\s*\"ENC\[AES256_GCM,")),
    ("dotenv", re.compile(rb"(?m)^sops_mac=ENC\[AES256_GCM,")),
    ("ini", re.compile(rb"(?m)^mac[ \t]*=[ \t]*ENC\[AES256_GCM,")),  # searched from the `[sops]` section on
)

_INI_SECTION = re.compile(rb"(?m)^\[sops\]")


def detect_format(data: bytes) -> str | None:
    """The format of a sops-encrypted file (`yaml`, `json`, `binary`, `dotenv`, `ini`), or None."""
    for fmt, marker in _MARKERS:
        start = 0
        if fmt == "ini":
            section = _INI_SECTION.search(data)
            if section is None:
                continue
            start = section.start()
        if marker.search(data, start):
            if fmt == "json" and re.search(rb"^\s*\{\s*\"data\"\s*:\s*\"ENC\[", data):
                return "binary"
            return fmt
    return None


def looks_encrypted(data: bytes) -> bool:
    return detect_format(data) is not None


_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules"})


def find_sops_files(root: Path) -> Iterator[Path]:
    """Files under `root`, in sorted order, that are sops-encrypted (by the markers above);
    version-control and node_modules folders are skipped."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if looks_encrypted(data):
                yield path


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], bool]:
    """Files named directly, plus the sops files below each folder; and whether a folder was given."""
    files: list[Path] = []
    had_dir = False
    for p in paths:
        path = Path(p)
        if path.is_dir():
            had_dir = True
            files.extend(find_sops_files(path))
        else:
            files.append(path)
    return files, had_dir
