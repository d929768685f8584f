"""Where the drop-in's bytes come from and go: stdin, stdout, stderr and files (atomically)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import codes
from .codes import SopsError


def echo(message: str, err: bool = False, nl: bool = True) -> None:
    # Plain writes instead of click.echo: the drop-in starts without importing click.
    stream = sys.stderr if err else sys.stdout
    stream.write(message + ("\n" if nl else ""))
    stream.flush()


def read_input(path: str | None) -> bytes:
    """The bytes of `path`, or of stdin when `path` is None."""
    try:
        if path is None:
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as exc:
        raise SopsError(f"Error reading file: {exc.strerror}", codes.COULD_NOT_READ_INPUT, where=path) from None


def write_atomic(path: Path, data: bytes, mode: int | None = None, plaintext: bool = False) -> None:
    """Write via a temporary file in the same folder and rename: never half-written.

    An existing file keeps its mode; a new one gets the umask's default, and plaintext never
    more than 0600. Unlike other commands, sops does not create missing folders.
    """
    from secrets_kit import files

    if mode is None:
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o600 if plaintext else 0o666 & ~umask
    if plaintext:
        mode &= 0o600
    try:
        files.write_atomic(path, data, mode=mode, make_parents=False)
    except OSError as exc:
        raise SopsError(f"Could not write output file: {exc.strerror}", codes.COULD_NOT_WRITE_OUTPUT,
                        where=str(path)) from None


def write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
