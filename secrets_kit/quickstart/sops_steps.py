"""The quickstart's SOPS step: a local age identity, then every demo plaintext encrypted.

Writes `<workdir>/keys/age.txt` (mode 0600; reused when it exists) and, for each file
in `examples/plaintext/sops/`, `<workdir>/sops/<name>` encrypted for that identity.
Kubernetes manifests get `encrypted_regex: ^(data|stringData)$`, as is usual for Secrets,
so their metadata stays readable.
"""

from __future__ import annotations

from ..files import write_atomic
from ..sops.keysources.age import AgeKey
from ..sops.ops import EncryptOptions, encrypt_bytes
from ..sops.rules import SelectionRules
from ..sops.stores import format_for_path, store_for
from .keys import age_identity
from .model import QuickstartContext, StepResult

KUBE_REGEX = "^(data|stringData)$"


def sops_encrypt_examples(ctx: QuickstartContext) -> StepResult:
    source = ctx.examples / "plaintext" / "sops"
    keys, recipient, _ = age_identity(ctx)
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
        write_atomic(target, encrypted, mode=0o600)
        outputs.append(ctx.rel(target))
    ctx.facts["sops_age_keys_file"] = str(keys)
    ctx.facts["sops_age_recipient"] = recipient
    ctx.facts["sops_files"] = outputs
    return StepResult("sops", f"{len(outputs)} files SOPS-encrypted into {ctx.rel(out_dir)}/ for "
                              f"{recipient[:16]}… (identity in {ctx.rel(keys)})",
                      [ctx.rel(keys), *outputs])
