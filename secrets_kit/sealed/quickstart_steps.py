"""Quickstart steps for Sealed Secrets: a local key pair, then every plaintext example Secret sealed.

Keys go to `<workdir>/keys` (made once, reused on later runs); SealedSecrets go to
`<workdir>/sealed/`, mirroring `examples/plaintext/`. Each sealed file is unsealed again
with the local key as a check.
"""

from __future__ import annotations

from ..errors import DecryptionError
from ..files import write_all_atomic
from ..quickstart import QuickstartContext, StepResult
from .batch import collect, seal_sources, unseal_sources
from .keys import KeyFolder
from .model import SealOptions
from .targets import Target


def _rel(ctx: QuickstartContext, path: object) -> str:
    text = str(path)
    prefix = str(ctx.workdir) + "/"
    return text[len(prefix):] if text.startswith(prefix) else text


def sealing_keys(ctx: QuickstartContext) -> StepResult:
    """Create a controller-shaped RSA-4096 key pair in <workdir>/keys, unless one is there."""
    folder = KeyFolder(ctx.workdir / "keys")
    pairs = folder.pairs()
    pair = pairs[-1] if pairs else folder.create()
    ctx.facts["sealed_keys_dir"] = str(folder.path)
    ctx.facts["sealed_cert"] = str(pair.cert_path)
    verb = "reused" if pairs else "created"
    return StepResult("sealing-keys", f"{verb} sealing key {pair.name} ({pair.cert.fingerprint})",
                      [_rel(ctx, pair.cert_path), _rel(ctx, pair.key_path)])


def seal_examples(ctx: QuickstartContext) -> StepResult:
    """Seal the plaintext example Secrets with the local key into <workdir>/sealed/."""
    folder = KeyFolder(ctx.workdir / "keys")
    pair = folder.newest()
    plaintext = ctx.examples / "plaintext"
    if not plaintext.is_dir():
        return StepResult("seal", "no examples/plaintext folder: nothing to seal")
    out_dir = ctx.workdir / "sealed"
    sources = collect([str(plaintext)], exclude=out_dir)

    def no_stdin() -> bytes:
        return b""

    keyring = folder.keyring()
    report = seal_sources(sources, [Target(pair.name, pair.cert)], SealOptions(), out_dir=out_dir,
                          stdin=no_stdin, reuse_keys=lambda _fingerprint: keyring)
    write_all_atomic([(o.path, o.text, o.mode) for o in report.outputs if o.path is not None and not o.unchanged])
    written = [o.path for o in report.outputs if o.path is not None]
    unchanged = sum(1 for o in report.outputs if o.unchanged)
    check = unseal_sources(collect([str(out_dir)]), keyring, stdin=no_stdin, check_only=True)
    if check.failures:  # a quickstart that cannot read back what it sealed is broken: say so
        raise DecryptionError(f"sealed output does not unseal: {check.failures[0]}", where=str(out_dir))
    ctx.facts["sealed_dir"] = str(out_dir)
    kept = f", {unchanged} file(s) unchanged" if unchanged else ""
    return StepResult("seal", f"sealed {report.documents} Secret(s) from {report.files} file(s) into "
                              f"{_rel(ctx, out_dir)}/{kept} (checked: unseal with the local key)",
                      [_rel(ctx, p) for p in written])
