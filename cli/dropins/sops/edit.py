"""`edit`: decrypt into $SOPS_EDITOR/$EDITOR (a private temp file), re-encrypt what changed; a
missing file starts from sops's example for its format."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secrets_kit.errors import SecretsKitError

from . import codes
from .codes import SopsError, exit_code_for, message_for
from .context import Context, encrypt_options, file_name, layout
from .streams import echo, read_input, write_atomic

_EXAMPLES = {
    "yaml": b"hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n"
            b"# Example comment\nexample_array:\n    - example_value1\n    - example_value2\n"
            b"example_number: 1234.56789\nexample_booleans:\n    - true\n    - false\n",
    "json": b'{\n\t"hello": "Welcome to SOPS! Edit this file as you please!",\n\t"example_key": "example_value"\n}\n',
    "dotenv": b"# This is an example file.\nhello=Welcome to SOPS! Edit this file as you please!\n"
              b"example_key=example_value\n",
    "ini": b"[Welcome!]\n; This is an example file.\nhello       = Welcome to SOPS! Edit this file as you please!\n"
           b"example_key = example_value\n",
    "binary": b"Welcome to SOPS! Edit this file as you please!",
}


def _editor_command(path: str) -> list[str]:
    import shlex
    import shutil

    for var in ("SOPS_EDITOR", "EDITOR"):
        value = os.environ.get(var)
        if value:
            try:
                return [*shlex.split(value), path]
            except ValueError:
                raise SopsError(f"invalid ${var}", codes.NO_EDITOR_FOUND) from None
    for name in ("vim", "nano", "vi"):
        found = shutil.which(name)
        if found:
            return [found, path]
    raise SopsError("no editor available: set SOPS_EDITOR or EDITOR", codes.NO_EDITOR_FOUND)


def _edit_loop(initial: bytes, basename: str, accept: Callable[[bytes], Any]) -> Any:
    """Write `initial` to a private temp file, run the editor until `accept` takes the result."""
    import hashlib
    import shutil
    import subprocess
    import tempfile

    directory = tempfile.mkdtemp()
    try:
        tmp = os.path.join(directory, basename)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(initial)
        original = hashlib.sha256(initial).digest()
        while True:
            try:
                done = subprocess.run(_editor_command(tmp), check=False)
            except OSError as exc:
                raise SopsError(f"Could not run editor: {exc.strerror}", codes.NO_EDITOR_FOUND) from None
            if done.returncode != 0:
                raise SopsError(f"Could not run editor: exit status {done.returncode}",
                                codes.NO_EDITOR_FOUND)
            edited = Path(tmp).read_bytes()
            if hashlib.sha256(edited).digest() == original:
                raise SopsError("File has not changed, exiting.", codes.FILE_HAS_NOT_BEEN_MODIFIED)
            try:
                return accept(edited)
            except SecretsKitError as exc:
                # sops returns at once on a version it cannot compare (202); other errors loop on a terminal
                if not sys.stdin.isatty() or exit_code_for(exc) == codes.FAILED_TO_COMPARE_VERSIONS:
                    raise
                echo(f"{message_for(exc)}. Press enter to return to the editor, or Ctrl+C to exit.",
                     err=True)
                sys.stdin.readline()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def cmd_edit(ctx: Context) -> None:
    from secrets_kit.sops.ops import SopsFile, encrypt_bytes, validate_for_encryption

    args = ctx.args
    if not args.positional:
        raise SopsError("Error: no file specified", codes.NO_FILE_SPECIFIED)
    path = args.positional[0]
    name = file_name(args, path) or path
    store, out_store = ctx.stores(name)
    basename = os.path.basename(path)
    if not Path(path).exists():
        opts = encrypt_options(ctx, name, store)

        def accept_new(edited: bytes) -> bytes:
            return encrypt_bytes(edited, store, out_store, opts)

        from secrets_kit.sops.stores import resolve_format

        fmt = resolve_format(name, args.text("input-type") or None)
        result = _edit_loop(_EXAMPLES.get(fmt, _EXAMPLES["binary"]), basename, accept_new)
        write_atomic(Path(path), result)
        return
    f = SopsFile.load(read_input(path), store)
    f.decrypt(ctx.order(), args.on("ignore-mac"))
    show_keys = args.on("show-master-keys")
    initial = out_store.emit_encrypted(f.doc, f.metadata, layout()) if show_keys else f.emit_plain(out_store)

    def accept(edited: bytes) -> bytes:
        if show_keys:
            doc, md = store.load_encrypted(edited)
            f.metadata = md
        else:
            doc = store.load_plain(edited)
            validate_for_encryption(out_store, doc)
        if f.metadata.master_key_count() == 0:
            raise SopsError("No master keys were provided, so sops can't encrypt the file")
        f.doc = doc
        f.decrypted = True
        f.reencrypt(update_version=True)
        if show_keys:
            f.rewrap()
        return f.emit_encrypted(out_store, layout())

    result = _edit_loop(initial, basename, accept)
    write_atomic(Path(path), result)
