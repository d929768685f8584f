"""The file commands: encrypt, decrypt, set, unset, filestatus, exec-env, exec-file, and the legacy
flag form (`-e`, `-d`, `-r`, `--set`, bare FILE = edit) that dispatches to them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from secrets_kit.errors import InputError, SecretsKitError
from secrets_kit.sops.reasons import Reason

from . import codes
from .args import KEY_FLAGS
from .codes import SopsError
from .context import (
    Context,
    check_conflicts,
    check_exists,
    encrypt_options,
    file_name,
    go_quoted_path,
    layout,
)
from .streams import echo, read_input, write_atomic


def cmd_encrypt(ctx: Context) -> None:
    from secrets_kit.sops.ops import encrypt_bytes

    args = ctx.args
    path = args.positional[0] if args.positional else None
    stdin = path is None
    check_conflicts(args, stdin)
    if stdin and not args.text("filename-override"):
        raise SopsError("Error: must specify --filename-override when reading from stdin",
                        codes.CONFLICTING_PARAMETERS)
    if path is not None:
        check_exists(path)
    name = file_name(args, path)
    in_store, out_store = ctx.stores(name)
    opts = encrypt_options(ctx, name or "", in_store)
    data = read_input(path)
    previous = None
    target = args.text("output")
    if target and Path(target).is_file():
        # Replacing an encrypted file: keep its data key and unchanged ciphertexts (minimal diff).
        previous = Path(target).read_bytes()
    try:
        result = encrypt_bytes(data, in_store, out_store, opts, previous=previous, order=ctx.order())
    except SecretsKitError as err:
        if err.reason == Reason.MALFORMED_INPUT:  # encrypt.go: the plain file did not load
            raise SopsError(f"Error unmarshalling file: {err}", codes.COULD_NOT_READ_INPUT) from None
        raise
    ctx.emit_result(result, path, plaintext=False)


def cmd_decrypt(ctx: Context) -> None:
    from secrets_kit.sops.ops import decrypt_bytes
    from secrets_kit.sops.tree import parse_tree_path

    args = ctx.args
    path = args.positional[0] if args.positional else None
    stdin = path is None
    check_conflicts(args, stdin)
    if path is not None:
        check_exists(path)
    name = file_name(args, path)
    in_store, out_store = ctx.stores(name)
    order = ctx.order()
    extract = None
    if args.text("extract"):
        try:
            extract = parse_tree_path(args.text("extract"))
        except InputError as exc:
            raise SopsError(f"error parsing --extract path: {exc.message}",
                            codes.INVALID_TREE_PATH_FORMAT) from None
    data = read_input(path)
    result = decrypt_bytes(data, in_store, out_store, order, args.on("ignore-mac"), extract)
    ctx.emit_result(result, path, plaintext=True)


def _json_value(text: str) -> Any:
    """sops `jsonValueToTreeInsertableValue`: scalars as Go decodes them (numbers are floats)."""
    from secrets_kit.sops.stores.json_store import load_json_object

    try:
        value = json.loads(text)
    except ValueError:
        raise SopsError("Value for --set is not valid JSON", codes.INVALID_SET_FORMAT) from None
    if isinstance(value, dict | list):
        try:
            return load_json_object(text.encode())
        except SecretsKitError:
            raise SopsError("Invalid --set value format", codes.INVALID_SET_FORMAT) from None
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _do_set(ctx: Context, path: str, index: str, raw_value: str, idempotent: bool) -> None:
    from secrets_kit.sops.ops import set_bytes
    from secrets_kit.sops.tree import parse_tree_path

    args = ctx.args
    try:
        tree_path = parse_tree_path(index)
    except InputError:
        raise SopsError("Invalid set index format", codes.INVALID_SET_FORMAT) from None
    if not tree_path:
        raise SopsError("Invalid set index format", codes.INVALID_SET_FORMAT)
    value = _json_value(raw_value)
    store, out_store = ctx.stores(path)
    data = read_input(path)
    result, changed = set_bytes(data, store, tree_path, value, ctx.order(), args.on("ignore-mac"), out_store,
                                layout())
    if not changed and idempotent:
        return
    write_atomic(Path(path), result)


def cmd_set(ctx: Context) -> None:
    args = ctx.args
    if args.on("value-file") and args.on("value-stdin"):
        raise SopsError("Error: cannot use both --value-file and --value-stdin")
    needed = 2 if args.on("value-stdin") else 3
    if len(args.positional) != needed:
        raise SopsError(f"Error: no file specified, or index and value are missing. Need precisely {needed} "
                        "positional arguments.", codes.NO_FILE_SPECIFIED)
    path, index = args.positional[0], args.positional[1]
    if args.on("value-stdin"):
        raw = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    elif args.on("value-file"):
        try:
            raw = Path(args.positional[2]).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise SopsError(f"cannot read the value file: {exc.strerror}", where=args.positional[2]) from None
    else:
        raw = args.positional[2]
    _do_set(ctx, path, index, raw, args.on("idempotent"))


def cmd_unset(ctx: Context) -> None:
    from secrets_kit.sops.ops import unset_bytes
    from secrets_kit.sops.tree import KeyNotFound, parse_tree_path

    args = ctx.args
    if len(args.positional) != 2:
        raise SopsError("Error: no file specified, or index is missing", codes.NO_FILE_SPECIFIED)
    path, index = args.positional
    try:
        tree_path = parse_tree_path(index)
    except InputError:
        raise SopsError("Invalid unset index format", codes.INVALID_SET_FORMAT) from None
    store, out_store = ctx.stores(path)
    data = read_input(path)
    try:
        result = unset_bytes(data, store, tree_path, ctx.order(), args.on("ignore-mac"), out_store, layout())
    except KeyNotFound:
        if args.on("idempotent"):
            return
        raise
    write_atomic(Path(path), result)


def cmd_filestatus(ctx: Context) -> None:
    from secrets_kit.sops.ops import file_status

    args = ctx.args
    if not args.positional:
        raise SopsError("Error: no file specified", codes.NO_FILE_SPECIFIED)
    path = args.positional[0]
    store = ctx.store(path, args.text("input-type"))
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SopsError(f"cannot check file status: cannot load encrypted file: {exc.strerror}", where=path) from None
    try:
        encrypted = file_status(data, store)
    except SecretsKitError as exc:
        raise SopsError(f"cannot check file status: cannot load encrypted file: {exc.message}", where=path) from None
    echo(json.dumps({"encrypted": encrypted}, separators=(",", ":")))


def _decrypted_file(ctx: Context, path: str) -> Any:
    from secrets_kit.sops.ops import open_and_decrypt

    args = ctx.args
    store = ctx.store(path, args.text("input-type"))
    return open_and_decrypt(read_input(path), store, ctx.order(), args.on("ignore-mac"))


def cmd_exec_env(ctx: Context) -> None:
    import subprocess

    from secrets_kit.sops.ops import environment

    args = ctx.args
    if len(args.positional) != 2:
        raise SopsError("error: missing file to decrypt")
    if args.on("background") and args.on("same-process"):
        raise SopsError("Error: The --same-process flag cannot be used with --background",
                        codes.CONFLICTING_PARAMETERS)
    if args.text("user"):
        raise SopsError("--user is not supported by secrets-kit")
    path, command = args.positional
    secrets = environment(_decrypted_file(ctx, path).branches[0])
    env = {} if args.on("pristine") else dict(os.environ)
    env.update(secrets)
    if args.on("same-process"):
        sys.stdout.flush()
        os.execve("/bin/sh", ["/bin/sh", "-c", command], env)
    if args.on("background"):
        subprocess.Popen(["/bin/sh", "-c", command], env=env)
        return
    done = subprocess.run(["/bin/sh", "-c", command], env=env, check=False)
    if done.returncode:
        raise SystemExit(done.returncode)


def cmd_exec_file(ctx: Context) -> None:
    import shutil
    import subprocess
    import tempfile
    import threading

    args = ctx.args
    if len(args.positional) != 2:
        raise SopsError("error: missing file to decrypt")
    if args.text("user"):
        raise SopsError("--user is not supported by secrets-kit")
    path, command = args.positional
    filename = args.text("filename")
    if filename and (os.path.isabs(filename) or ".." in Path(filename).parts or "/" in filename):
        raise SopsError("The provided filename is not a local path.")
    f = _decrypted_file(ctx, path)
    out_store = ctx.store(path, args.text("output-type"), for_output=True)
    plaintext = f.emit_plain(out_store)
    directory = tempfile.mkdtemp(prefix=".sops")
    try:
        target = os.path.join(directory, filename or "tmp-file")
        if not args.on("no-fifo"):
            os.mkfifo(target, 0o600)

            def feed() -> None:
                try:
                    with open(target, "wb") as pipe:
                        pipe.write(plaintext)
                except OSError:
                    pass

            threading.Thread(target=feed, daemon=True).start()
        else:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(plaintext)
        done = subprocess.run(["/bin/sh", "-c", command.replace("{}", target)], check=False)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if done.returncode:
        raise SystemExit(done.returncode)


def cmd_legacy(ctx: Context) -> None:
    args = ctx.args
    if not args.positional:
        raise SopsError("Error: no file specified", codes.NO_FILE_SPECIFIED)
    if len(args.positional) > 1:
        echo("[sops] warning: More than one positional argument provided. Only the first one will be used!",
             err=True)
        args.positional = args.positional[:1]
    check_conflicts(args, False)
    path = args.positional[0]
    exists = Path(path).exists()
    modes = [m for m in ("encrypt", "decrypt", "rotate") if args.on(m)] + (["set"] if args.text("set") else [])
    if not exists:
        if any(args.text(f"{op}-{k}") for op in ("add", "rm") for k in KEY_FLAGS):
            raise SopsError(f"Error: cannot add or remove keys on non-existent file {go_quoted_path(path)}, "
                            "use `--kms` and `--pgp` instead.",
                            codes.CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE)
        if any(m in modes for m in ("encrypt", "decrypt", "rotate")):
            check_exists(path)
    if not modes:
        from .edit import cmd_edit

        cmd_edit(ctx)
        return
    last = modes[-1]
    if last == "set":
        text = args.text("set")
        head, sep, value = text.partition("] ")
        if not sep:
            raise SopsError("Invalid --set format", codes.INVALID_SET_FORMAT)
        _do_set(ctx, path, head.rstrip(" ") + "]", value, False)
    elif last == "rotate":
        from .keycommands import cmd_rotate

        cmd_rotate(ctx)
    elif last == "decrypt":
        cmd_decrypt(ctx)
    else:
        cmd_encrypt(ctx)
