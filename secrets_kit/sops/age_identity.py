"""age identity files, as `age-keygen` writes them: a comment naming the recipient, then the key.

    # created: 2026-01-02T03:04:05Z
    # public key: age1...
    AGE-SECRET-KEY-1...

The file is the private key: it is written mode 0600, atomically, and never over an
existing file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..errors import InputError, KeyMaterialError
from ..files import write_new


def recipient_of(path: Path) -> str | None:
    """The recipient (`age1...`) of the first identity in `path`, or None when it holds none."""
    import pyrage

    for line in path.read_text().splitlines():
        if line.strip().startswith("AGE-SECRET-KEY-"):
            try:
                return str(pyrage.x25519.Identity.from_str(line.strip()).to_public())
            except Exception as exc:  # pyrage raises its own types; the line itself is secret
                raise KeyMaterialError("not a valid age identity", where=str(path),
                                       hint="regenerate it with `secrets-kit keys age`") from exc
    return None


def create_identity(path: Path) -> str:
    """Generate a new X25519 identity into `path` (which must not exist); return its recipient."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        write_new(path, f"# created: {created}\n# public key: {recipient}\n{identity}\n", mode=0o600)
    except FileExistsError:
        raise InputError("refusing to overwrite an existing file", where=str(path),
                         hint="choose another path, or delete the old identity first if nothing needs it") from None
    return recipient


def ensure_identity(path: Path) -> tuple[str, bool]:
    """(recipient, created): reuse the identity in `path`, or generate one there."""
    if path.is_file():
        recipient = recipient_of(path)
        if recipient is not None:
            return recipient, False
        path.unlink()  # a file without an identity (e.g. a placeholder): replace it, privately
    return create_identity(path), True
