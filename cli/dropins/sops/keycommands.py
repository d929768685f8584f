"""The key commands: rotate (a new data key; --add-*/--rm-* keys), updatekeys (the keys of
.sops.yaml) and groups add|delete; rotate and updatekeys also take folders."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secrets_kit.errors import SecretsKitError

from . import codes
from .args import Args, usage_error
from .codes import SopsError, message_for
from .context import (
    Context,
    check_conflicts,
    check_exists,
    file_name,
    flag_keys,
    go_quoted_path,
    keys_of_flag,
    kms_context,
    layout,
)
from .streams import echo, read_input, write_atomic, write_stdout


def _progress(args: Args, total: int, label: str) -> Any:
    """A rich progress bar on stderr, when stderr is a terminal or --progress is given."""
    if total <= 1 or not (args.on("progress") or sys.stderr.isatty()):
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True, force_terminal=args.on("progress") or None),
                        transient=False)
    progress.start()
    progress.add_task(label, total=total)
    return progress


def _run_many(args: Args, files: list[Path], label: str, one: Callable[[Path], str]) -> None:
    """Apply `one` to every file; report per file; fail (exit 1) after all if any failed."""
    progress = _progress(args, len(files), label)
    failures = 0
    try:
        for path in files:
            try:
                outcome = one(path)
                if outcome:
                    echo(f"{path}: {outcome}", err=True)
            except SecretsKitError as exc:
                failures += 1
                echo(f"{path}: {message_for(exc)}", err=True)
            if progress is not None:
                progress.advance(progress.task_ids[0])
    finally:
        if progress is not None:
            progress.stop()
    if failures:
        raise SopsError(f"failed updating {failures} file(s)")


def cmd_rotate(ctx: Context) -> None:
    from secrets_kit.sops.ops import rotate_bytes

    args = ctx.args
    if not args.positional:
        raise SopsError("Error: no file specified", codes.NO_FILE_SPECIFIED)
    check_conflicts(args, False)
    add = flag_keys(args, "add-")
    remove = flag_keys(args, "rm-")
    target = args.positional[0]
    if not Path(target).exists():
        if add or remove:
            raise SopsError(f"Error: cannot add or remove keys on non-existent file {go_quoted_path(target)}, "
                            "use the `edit` subcommand instead.",
                            codes.CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE)
        check_exists(target)
    if Path(target).is_dir() or len(args.positional) > 1:
        from secrets_kit.sops.detect import expand_paths

        files, _ = expand_paths(args.positional)

        def one(path: Path) -> str:
            store = ctx.store(str(path), args.text("input-type"))
            result = rotate_bytes(read_input(str(path)), store, add, remove, ctx.order(), args.on("ignore-mac"),
                                  layout=layout())
            write_atomic(path, result)
            return "rotated"

        _run_many(args, files, "rotating", one)
        return
    name = file_name(args, target) or target
    store, out_store = ctx.stores(name)
    result = rotate_bytes(read_input(target), store, add, remove, ctx.order(), args.on("ignore-mac"), out_store,
                          layout())
    ctx.emit_result(result, target, plaintext=False)


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise SopsError("cannot ask for confirmation: stdin is not a terminal", hint="pass -y/--yes")
    while True:
        echo(prompt, nl=False)
        answer = sys.stdin.readline().strip()
        if answer in ("y", "n"):
            return answer == "y"


def cmd_updatekeys(ctx: Context) -> None:
    from secrets_kit.sops.config import match_creation_rule
    from secrets_kit.sops.detect import expand_paths
    from secrets_kit.sops.ops import update_keys_bytes

    args = ctx.args
    data = ctx.load_config(required=True)
    assert data is not None and ctx.config_path is not None
    if not args.positional:
        raise SopsError("Error: no file specified", codes.NO_FILE_SPECIFIED)
    files, had_dir = expand_paths(args.positional)
    config_path = ctx.config_path

    def one(path: Path) -> str:
        if path.is_dir():
            raise SopsError("can't operate on a directory")
        store = ctx.store(str(path), args.text("input-type"))
        rule = match_creation_rule(data, config_path, str(path), {})
        if rule is None:
            raise SopsError(f"The config file {config_path} does not contain any creation rule")
        try:
            original = path.read_bytes()
        except OSError as exc:
            raise SopsError(f"cannot read: {exc.strerror}") from None
        result, diffs, old_t, new_t = update_keys_bytes(original, store, rule.key_groups,
                                                        args.number("shamir-secret-sharing-threshold"), ctx.order(),
                                                        layout())
        if result is None:
            return "already up to date" if not (had_dir and not args.on("verbose")) else ""
        lines = [f"The following changes will be made to the file's groups ({path}):"]
        if old_t != new_t:
            lines.append(f"+++ shamir_threshold: {new_t}" if new_t else "")
            if old_t:
                lines.append(f"--- shamir_threshold: {old_t}")
        for i, diff in enumerate(diffs):
            lines.append(f"Group {i + 1}")
            lines.extend(f"    {k}" for k in diff.common)
            lines.extend(f"+++ {k}" for k in diff.added)
            lines.extend(f"--- {k}" for k in diff.removed)
        echo("\n".join(line for line in lines if line))
        if not args.on("yes") and not _confirm("Is this okay? (y/n):"):
            return "left unchanged"
        write_atomic(path, result)
        return "synced with new keys"

    if len(files) == 1 and not had_dir:
        outcome = one(files[0])
        if outcome:
            echo(f"File {files[0]} {outcome}", err=True)
        return
    _run_many(args, files, "updating keys", one)


def cmd_groups(ctx: Context) -> None:
    from secrets_kit.sops.ops import add_key_group_bytes, delete_key_group_bytes

    args = ctx.args
    if args.sub not in ("add", "delete"):
        raise usage_error("groups: use `groups add` or `groups delete`")
    path = args.text("file")
    if not path:
        raise SopsError("Error: no file specified (--file)", codes.NO_FILE_SPECIFIED)
    store, out_store = ctx.stores(path)
    threshold = args.number("shamir-secret-sharing-threshold")
    if args.sub == "add":
        if args.positional:
            raise SopsError("error: no positional arguments allowed")
        # sops `groups add` takes repeatable flags, in this order (not the comma lists of encrypt).
        context = kms_context(args)
        group = [key for flag in ("pgp", "kms", "gcp-kms", "hc-vault-transit", "age")
                 for value in args.values(flag) for key in keys_of_flag(args, flag, value, context)]
        result = add_key_group_bytes(read_input(path), store, group, threshold, ctx.order(), out_store, layout())
    else:
        if len(args.positional) != 1:
            raise SopsError("error: exactly one positional argument (index) required")
        try:
            index = int(args.positional[0])
        except ValueError:
            raise SopsError(f"failed to parse [index] argument: {args.positional[0]!r}") from None
        result = delete_key_group_bytes(read_input(path), store, index, threshold, ctx.order(), out_store,
                                        layout())
    if args.on("in-place"):
        write_atomic(Path(path), result)
    else:
        write_stdout(result)
