"""Quickstart steps for Sealed Secrets: a local key pair, then every plaintext example Secret sealed.

Keys go to `<workdir>/keys` (made once, reused on later runs); SealedSecrets go to
`<workdir>/sealed/`, mirroring `examples/plaintext/`. Each sealed file is unsealed again
with the local key as a check.
"""

from __future__ import annotations

from ..errors import DecryptionError
from ..files import write_all_atomic
from ..sealed.batch import collect, seal_sources, unseal_sources
from ..sealed.keys import KeyFolder
from ..sealed.model import SealOptions
from ..sealed.targets import Target
from .keys import keys_dir, sealing_pair
from .model import QuickstartContext, StepResult


def sealing_keys(ctx: QuickstartContext) -> StepResult:
    """Create a controller-shaped RSA-4096 key pair in <workdir>/keys, unless one is there."""
    pair, created = sealing_pair(ctx)
    ctx.facts["sealed_keys_dir"] = str(pair.cert_path.parent)
    ctx.facts["sealed_cert"] = str(pair.cert_path)
    verb = "created" if created else "reused"
    return StepResult("sealing-keys", f"{verb} sealing key {pair.name} ({pair.cert.fingerprint})",
                      [ctx.rel(pair.cert_path), ctx.rel(pair.key_path)])


def seal_examples(ctx: QuickstartContext) -> StepResult:
    """Seal the plaintext example Secrets with the local key into <workdir>/sealed/."""
    folder = KeyFolder(keys_dir(ctx))
    pair = folder.newest()
    plaintext = ctx.examples / "plaintext"
    if not plaintext.is_dir():
        return StepResult("seal", "no examples/plaintext folder: nothing to seal")
    out_dir = ctx.workdir / "sealed"
    sources = collect([str(plaintext)], exclude=out_dir, skip_sealed=True)

    def no_stdin() -> bytes:
        return b""

    keyring = folder.keyring()
    report = seal_sources(sources, [Target(pair.name, pair.cert)], SealOptions(), out_dir=out_dir,
                          stdin=no_stdin, reuse_keys=lambda _fingerprint: keyring)
    changed = [o for o in report.outputs if o.path is not None and not o.unchanged]
    write_all_atomic([(o.path, o.text, o.mode) for o in changed if o.path is not None])
    written = [o.path for o in report.outputs if o.path is not None]
    check = unseal_sources(collect([str(out_dir)]), keyring, stdin=no_stdin, check_only=True)
    if check.failures:  # a quickstart that cannot read back what it sealed is broken: say so
        raise DecryptionError(f"sealed output does not unseal: {check.failures[0]}", where=str(out_dir))
    ctx.facts["sealed_dir"] = str(out_dir)
    # A rerun seals nothing new: say "up to date", not "sealed 8 ... 8 unchanged".
    if changed:
        what = f"sealed {report.documents} Secret(s) from {report.files} file(s) into {ctx.rel(out_dir)}/"
        if len(changed) < len(written):
            what += f" ({len(written) - len(changed)} file(s) already up to date)"
    else:
        what = f"{ctx.rel(out_dir)}/ is up to date ({len(written)} file(s), {report.documents} Secret(s))"
    return StepResult("seal", f"{what}; checked: each unseals with the local key",
                      [ctx.rel(p) for p in written])
