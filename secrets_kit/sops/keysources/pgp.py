"""PGP key source: the `pgp` stanza, through the `gpg` binary (as sops's fallback path).

Encrypt: `gpg --no-default-recipient --yes --encrypt -a -r FP --trusted-key SHORTID
--no-encrypt-to`; `enc` is the armored message with surrounding space trimmed. Decrypt:
`gpg -d`. GNUPGHOME and SOPS_GPG_EXEC are honoured; the data key only ever travels
through gpg's stdin/stdout pipes.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from ...errors import DecryptionError, KeyMaterialError
from ..gofmt import now_rfc3339
from .base import MasterKey

__all__ = ["PgpKey", "from_cli"]


def _gpg() -> str:
    return os.environ.get("SOPS_GPG_EXEC") or "gpg"


def _short_id(fingerprint: str) -> str:
    offset = len(fingerprint) - 16
    if fingerprint.endswith("!"):
        offset -= 1
    return fingerprint[offset:] if offset > 0 else fingerprint


def _run(args: list[str], data: bytes, what: str) -> bytes:
    import shutil
    import subprocess

    binary = _gpg()
    if shutil.which(binary) is None:
        raise KeyMaterialError(f"{what}: the gpg binary {binary!r} was not found",
                               hint="install GnuPG or set SOPS_GPG_EXEC")
    try:
        done = subprocess.run([binary, *args], input=data, capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KeyMaterialError(f"{what}: running gpg failed: {type(exc).__name__}") from None
    if done.returncode != 0:
        # gpg's stderr names keys and reasons, never the plaintext.
        detail = " ".join(line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines()
                          if line.strip())[:400]
        raise DecryptionError(f"{what}: gpg failed: {detail or f'exit status {done.returncode}'}")
    return done.stdout


class PgpKey(MasterKey):
    stanza: ClassVar[str] = "pgp"

    def __init__(self, fingerprint: str, created_at: str = "") -> None:
        self.fingerprint = fingerprint.replace(" ", "")
        self.created_at = created_at

    @property
    def identifier(self) -> str:
        return self.fingerprint

    def __repr__(self) -> str:
        return f"PgpKey({self.fingerprint!r})"

    def wrap(self, data_key: bytes) -> dict[str, Any]:
        args = ["--batch", "--no-default-recipient", "--yes", "--encrypt", "-a", "-r", self.fingerprint,
                "--trusted-key", _short_id(self.fingerprint), "--no-encrypt-to"]
        try:
            out = _run(args, bytes(data_key), f"PGP key {self.fingerprint}")
        except DecryptionError as exc:
            raise KeyMaterialError(exc.message.replace("gpg failed", "cannot encrypt to this key"),
                                   hint="import the public key into the GnuPG keyring (GNUPGHOME)") from None
        return {"created_at": now_rfc3339(), "enc": out.decode("ascii", "replace").strip(),
                "fp": self.fingerprint}

    def unwrap(self, stanza: dict[str, Any]) -> bytes:
        enc = stanza.get("enc")
        if not isinstance(enc, str) or not enc.strip():
            raise DecryptionError(f"PGP key {self.fingerprint}: the stanza has no encrypted data key")
        out = _run(["-d"], enc.encode("ascii", "replace"), f"PGP key {self.fingerprint}")
        if not out:
            raise DecryptionError(f"PGP key {self.fingerprint}: gpg returned no data")
        return out

    @classmethod
    def from_stanza(cls, stanza: dict[str, Any]) -> PgpKey:
        fp = stanza.get("fp")
        if not isinstance(fp, str) or not fp:
            raise KeyMaterialError("pgp stanza without a fingerprint (fp)", where="sops metadata")
        return cls(fp, str(stanza.get("created_at") or ""))


def from_cli(value: str, **opts: Any) -> list[MasterKey]:
    """`--pgp` / SOPS_PGP_FP: comma-separated fingerprints."""
    return [PgpKey(part) for part in value.split(",") if part.strip()]
