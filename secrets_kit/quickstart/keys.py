"""The quickstart's local keys, all in `<workdir>/keys`: made on the first run, reused after."""

from __future__ import annotations

from pathlib import Path

from ..sealed.keys import KeyFolder, KeyPair
from ..sops.age_identity import ensure_identity
from .model import QuickstartContext


def keys_dir(ctx: QuickstartContext) -> Path:
    return ctx.workdir / "keys"


def age_identity(ctx: QuickstartContext) -> tuple[Path, str, bool]:
    """(identity file, recipient, created now): `<workdir>/keys/age.txt`."""
    path = keys_dir(ctx) / "age.txt"
    recipient, created = ensure_identity(path)
    return path, recipient, created


def sealing_pair(ctx: QuickstartContext) -> tuple[KeyPair, bool]:
    """(the newest sealing key pair of `<workdir>/keys`, created now)."""
    folder = KeyFolder(keys_dir(ctx))
    pairs = folder.pairs()
    return (pairs[-1], False) if pairs else (folder.create(), True)
