"""Atomic file writes: a temporary file in the target's folder, then os.replace.

A reader sees the old file or the new one, never half of one; on any error the
temporary file is removed and the target is left as it was. The temporary file is made
here rather than with `tempfile`, whose import (shutil, bz2, lzma, random) costs every
command that writes a file more than the write itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path


def _create_temporary(target: Path) -> tuple[int, str]:
    """A new file `.NAME.<random>.tmp` beside `target`, opened for writing, mode 0600 (as mkstemp)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        path = str(target.parent / f".{target.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def _write_temporary(target: Path, data: bytes | str, mode: int) -> str:
    """The whole content in a new temporary file beside `target` (mode set before any byte); its path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # before any byte is written
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:  # Ctrl-C too: no temporary file (maybe plaintext) may stay behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: str | Path, data: bytes | str, *, mode: int = 0o644, make_parents: bool = True) -> None:
    """Write `data` to `path` with `mode` (set before any byte is written), all or nothing."""
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temporary(target, data, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_new(path: str | Path, data: bytes | str, *, mode: int = 0o600) -> None:
    """Write a file that must not exist yet, all or nothing: FileExistsError leaves the old one untouched.

    The content goes to a temporary file first, which is then hard-linked to `path`
    (link(2) fails rather than replace), so no reader ever sees half a file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temporary(target, data, mode)
    try:
        os.link(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def write_all_atomic(outputs: Iterable[tuple[Path, bytes | str, int]]) -> None:
    """Write several files: every temporary file first, then rename them all.

    A failure while writing leaves every target untouched.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for target, data, mode in outputs:
            target.parent.mkdir(parents=True, exist_ok=True)
            payload = data.encode("utf-8") if isinstance(data, str) else data
            fd, tmp = _create_temporary(target)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), mode)
                handle.write(payload)
        for tmp, target in staged:
            os.replace(tmp, target)
        staged.clear()
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
