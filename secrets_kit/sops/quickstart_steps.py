"""The quickstart's SOPS step: a local age identity, then every demo plaintext encrypted.

Writes `<workdir>/keys/age.txt` (mode 0600; reused when it exists) and, for each file
in `examples/plaintext/sops/`, `<workdir>/sops/<name>` encrypted for that identity.
Kubernetes manifests get `encrypted_regex: ^(data|stringData)$`, as is usual for Secrets,
so their metadata stays readable.
"""

from __future__ import annotations

from pathlib import Path

from ..files import write_atomic
from ..quickstart import QuickstartContext, StepResult
from .keysources.age import AgeKey
from .ops import EncryptOptions, encrypt_bytes
from .rules import SelectionRules
from .stores import format_for_path, store_for

KUBE_REGEX = "^(data|stringData)$"


def _identity(path: Path) -> str:
    """The recipient of the identity in `path`, generating the identity first if needed."""
    import pyrage

    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("AGE-SECRET-KEY-"):
                return str(pyrage.x25519.Identity.from_str(line.strip()).to_public())
    identity = pyrage.x25519.Identity.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    # 0600 before the first byte, even over an existing file of another mode; never half-written.
    write_atomic(path, f"# public key: {identity.to_public()}\n{identity}\n", mode=0o600)
    return str(identity.to_public())


def _write_private(path: Path, data: bytes) -> None:
    write_atomic(path, data, mode=0o600)


def sops_encrypt_examples(ctx: QuickstartContext) -> StepResult:
    source = ctx.examples / "plaintext" / "sops"
    keys = ctx.workdir / "keys" / "age.txt"
    recipient = _identity(keys)
    out_dir = ctx.workdir / "sops"
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: list[str] = []
    files = sorted(p for p in source.glob("*") if p.is_file()) if source.is_dir() else []
    for plain in files:
        fmt = format_for_path(plain.name)
        store = store_for(fmt)
        data = plain.read_bytes()
        kube = fmt == "yaml" and b"\nkind:" in b"\n" + data and b"apiVersion:" in data
        rules = SelectionRules(encrypted_regex=KUBE_REGEX) if kube else SelectionRules()
        encrypted = encrypt_bytes(data, store, store, EncryptOptions(key_groups=[[AgeKey(recipient)]], rules=rules))
        target = out_dir / plain.name
        _write_private(target, encrypted)
        outputs.append(str(target.relative_to(ctx.workdir)))
    ctx.facts["sops_age_keys_file"] = str(keys)
    ctx.facts["sops_age_recipient"] = recipient
    ctx.facts["sops_files"] = outputs
    return StepResult("sops", f"{len(outputs)} files SOPS-encrypted for {recipient[:16]}… "
                              f"(identity in {keys.relative_to(ctx.workdir)})",
                      [str(keys.relative_to(ctx.workdir)), *outputs])
