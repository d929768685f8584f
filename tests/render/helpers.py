"""Building blocks of the render tests: write files, encrypt them with the real sops, parse output."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from secrets_kit.k8s.manifests import load_documents

SECRET_REGEX = "^(data|stringData)$"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sops_encrypt(sops: Path, recipient: str, source: Path, target: Path, *, regex: str | None = None,
                 input_type: str | None = None) -> Path:
    """Encrypt `source` with the real sops into `target` (the plaintext file is removed)."""
    args = [str(sops), "encrypt", "--age", recipient]
    if regex:
        args += ["--encrypted-regex", regex]
    if input_type:
        args += ["--input-type", input_type, "--output-type", input_type]
    out = subprocess.run([*args, str(source)], capture_output=True, check=True).stdout
    target.write_bytes(out)
    if source != target:
        source.unlink()
    return target


def docs(text: bytes | str) -> list[dict[str, Any]]:
    return load_documents(text, source="<output>")


def by_name(manifests: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in manifests}


def recovery_unseal(kubeseal: Path, key: Path, sealed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Secrets the real kubeseal recovers, one invocation per SealedSecret (it reads one object)."""
    import json

    recovered = []
    for doc in sealed:
        out = subprocess.run([str(kubeseal), "--recovery-unseal", "--recovery-private-key", str(key), "-o", "yaml"],
                             input=json.dumps(doc).encode(), capture_output=True, check=True).stdout
        recovered.extend(docs(out))
    return recovered


def secret_values(secret: dict[str, Any]) -> dict[str, bytes]:
    from secrets_kit.k8s.secrets import secret_items

    return secret_items(secret, "<test>")
