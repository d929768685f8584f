"""Test-only helpers: run the real sops, and read or write a minimal sops JSON file by hand.

The key-source tests must not depend on the SOPS core being finished, so this module
knows just enough of the file format (sops.md §1-§3) to check data keys end to end:
AES-256-GCM values with a 32-byte IV and the path AAD, the SHA-512 MAC encrypted with the
`lastmodified` AAD, and the metadata layout (one group at top level, several under
`key_groups` with `shamir_threshold`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]")
SOPS_VERSION = "3.13.3"


def encrypt_value(plaintext: str, key: bytes, aad: str) -> str:
    iv = secrets.token_bytes(32)
    sealed = AESGCM(key).encrypt(iv, plaintext.encode(), aad.encode())
    data, tag = sealed[:-16], sealed[-16:]
    b64 = base64.b64encode
    return f"ENC[AES256_GCM,data:{b64(data).decode()},iv:{b64(iv).decode()},tag:{b64(tag).decode()},type:str]"


def decrypt_value(value: str, key: bytes, aad: str) -> str:
    match = ENC_RE.match(value)
    assert match, f"not a sops-encrypted value: {value[:40]}"
    data, iv, tag = (base64.b64decode(part) for part in match.groups()[:3])
    return AESGCM(key).decrypt(iv, data + tag, aad.encode()).decode()


def build_json_file(values: Mapping[str, str], data_key: bytes, groups: Sequence[Mapping[str, list[Any]]],
                    threshold: int | None = None) -> str:
    """A sops JSON file with flat string values, encrypted with `data_key`.

    `groups` holds one dict per key group, stanza name -> list of stanzas (already wrapped).
    """
    lastmodified = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha512()
    doc: dict[str, Any] = {}
    for name, value in values.items():
        digest.update(value.encode())
        doc[name] = encrypt_value(value, data_key, f"{name}:")
    meta: dict[str, Any] = {}
    if len(groups) == 1:
        meta.update(groups[0])
    else:
        meta["key_groups"] = [dict(group) for group in groups]
        if threshold is not None:
            meta["shamir_threshold"] = threshold
    meta["lastmodified"] = lastmodified
    meta["mac"] = encrypt_value(digest.hexdigest().upper(), data_key, lastmodified)
    meta["unencrypted_suffix"] = "_unencrypted"
    meta["version"] = SOPS_VERSION
    doc["sops"] = meta
    return json.dumps(doc, indent="\t") + "\n"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for the real sops: no inherited keys, a private HOME, no update check."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    for name, value in os.environ.items():
        if name.startswith("AWS_"):
            env[name] = value
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), SOPS_DISABLE_VERSION_CHECK="1")
    env.update(extra)
    return env


def run_sops(sops_bin: Path | str, args: Sequence[str], *, env: Mapping[str, str], cwd: Path,
             check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(sops_bin), *args], cwd=cwd, env=dict(env), capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"sops {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done
