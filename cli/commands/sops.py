"""`secrets-kit sops`: a drop-in for the sops 3.13 command line.

Subcommands (`encrypt`, `decrypt`, `edit`, `rotate`, `set`, `unset`, `updatekeys`,
`exec-env`, `exec-file`, `filestatus`, `groups add|delete`) and the legacy flag form
(`-e`, `-d`, `-r`, `-i`, `--set`, bare `FILE` = edit), the same flags and environment
variables, and sops's exit codes, so `alias sops='secrets-kit sops'` and
`HELM_SECRETS_SOPS_PATH` work. Beyond sops: `updatekeys` and `rotate` take directories
(every sops file below, with a progress bar), and re-encrypting keeps unchanged values'
ciphertext.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from secrets_kit import __version__, files
from secrets_kit.errors import ConfigError, InputError, SecretsKitError
from secrets_kit.sops import codes

SOPS_COMPAT_VERSION = "3.13.3"


def _echo(message: str, err: bool = False, nl: bool = True) -> None:
    # Plain writes instead of click.echo: the drop-in starts without importing click.
    stream = sys.stderr if err else sys.stdout
    stream.write(message + ("\n" if nl else ""))
    stream.flush()

# ----------------------------------------------------------------------------- flags

# name -> (kind, env var); kind: "bool", "str", "int", "list" (repeatable, comma-joined)
_FLAGS: dict[str, tuple[str, str | None]] = {
    "decrypt": ("bool", None), "encrypt": ("bool", None), "rotate": ("bool", None),
    "disable-version-check": ("bool", "SOPS_DISABLE_VERSION_CHECK"), "check-for-updates": ("bool", None),
    "kms": ("list", "SOPS_KMS_ARN"), "aws-profile": ("str", None), "gcp-kms": ("list", "SOPS_GCP_KMS_IDS"),
    "hckms": ("list", "SOPS_HUAWEICLOUD_KMS_IDS"), "azure-kv": ("list", "SOPS_AZURE_KEYVAULT_URLS"),
    "hc-vault-transit": ("list", "SOPS_VAULT_URIS"), "pgp": ("list", "SOPS_PGP_FP"),
    "age": ("list", "SOPS_AGE_RECIPIENTS"),
    "in-place": ("bool", None), "extract": ("str", None), "input-type": ("str", None), "output-type": ("str", None),
    "show-master-keys": ("bool", None),
    "ignore-mac": ("bool", None), "mac-only-encrypted": ("bool", None),
    "unencrypted-suffix": ("str", None), "encrypted-suffix": ("str", None), "unencrypted-regex": ("str", None),
    "encrypted-regex": ("str", None), "unencrypted-comment-regex": ("str", None),
    "encrypted-comment-regex": ("str", None),
    "config": ("str", "SOPS_CONFIG"), "encryption-context": ("str", None), "set": ("str", None),
    "shamir-secret-sharing-threshold": ("int", None), "indent": ("int", None), "verbose": ("bool", None),
    "output": ("str", None), "filename-override": ("str", None),
    "decryption-order": ("str", "SOPS_DECRYPTION_ORDER"),
    "keyservice": ("list", "SOPS_KEYSERVICE"), "enable-local-keyservice": ("bool", "SOPS_ENABLE_LOCAL_KEYSERVICE"),
    # subcommand flags
    "background": ("bool", None), "pristine": ("bool", None), "user": ("str", None), "same-process": ("bool", None),
    "no-fifo": ("bool", None), "filename": ("str", None), "value-file": ("bool", None),
    "value-stdin": ("bool", None), "idempotent": ("bool", None), "yes": ("bool", None), "file": ("str", None),
    # secrets-kit additions
    "progress": ("bool", None), "help": ("bool", None), "version": ("bool", None),
}
for _kind in ("gcp-kms", "hckms", "azure-kv", "kms", "hc-vault-transit", "age", "pgp"):
    _FLAGS[f"add-{_kind}"] = ("list", None)
    _FLAGS[f"rm-{_kind}"] = ("list", None)

_SHORT = {"d": "decrypt", "e": "encrypt", "r": "rotate", "k": "kms", "p": "pgp", "a": "age", "i": "in-place",
          "s": "show-master-keys", "h": "help", "v": "version"}
_SUB_SHORT = {"y": "yes", "f": "file"}
_KEY_FLAGS = ("kms", "gcp-kms", "hckms", "azure-kv", "pgp", "hc-vault-transit", "age")
SUBCOMMANDS = ("encrypt", "decrypt", "edit", "rotate", "set", "unset", "updatekeys", "exec-env", "exec-file",
               "filestatus", "groups", "keyservice", "publish", "completion", "help")


class Args:
    """The parsed command line: `command` is a subcommand or "legacy"; `given` holds the flags set on
    the command line (not from the environment); `sub` is groups add|delete."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.flags: dict[str, Any] = {}
        self.given: set[str] = set()
        self.positional: list[str] = []
        self.sub = ""

    def str(self, name: str) -> str:
        value = self.flags.get(name)
        if value is None:
            return ""
        if isinstance(value, list):
            return ",".join(value)
        return str(value)

    def bool(self, name: str) -> bool:
        return bool(self.flags.get(name))

    def int(self, name: str) -> int:
        return int(self.flags.get(name) or 0)

    def list(self, name: str) -> list[str]:
        value = self.flags.get(name)
        return list(value) if isinstance(value, list) else ([value] if value else [])


def _usage_error(message: str) -> SecretsKitError:
    return InputError(message, hint="see `secrets-kit sops --help`", exit_code=codes.GENERIC)


def _parse_bool(text: str, name: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise _usage_error(f'invalid boolean value "{text}" for -{name}')


def _take_flags(argv: list[str], args: Args, stop_at_positional: bool, shorts: dict[str, str]) -> list[str]:
    """Consume flags from argv (Go flag syntax: -x, --x, -x=v, --x v); return the rest."""
    rest: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            rest.extend(argv[i + 1:])
            break
        if not token.startswith("-") or token == "-":
            if stop_at_positional:
                rest.extend(argv[i:])
                break
            rest.append(token)
            i += 1
            continue
        body = token.lstrip("-")
        name, eq, inline = body.partition("=")
        name = shorts.get(name, name)
        spec = _FLAGS.get(name)
        if spec is None:
            raise _usage_error(f"flag provided but not defined: -{body.split('=')[0]}")
        kind = spec[0]
        i += 1
        if kind == "bool":
            value: Any = _parse_bool(inline, name) if eq else True
        else:
            if eq:
                raw = inline
            elif i < len(argv):
                raw = argv[i]
                i += 1
            else:
                raise _usage_error(f"flag needs an argument: -{name}")
            if kind == "int":
                try:
                    value = int(raw)
                except ValueError:
                    raise _usage_error(f'invalid value "{raw}" for flag -{name}: parse error') from None
            elif kind == "list":
                value = [*args.flags.get(name, [])] if name in args.given else []
                value.append(raw)
            else:
                value = raw
        args.flags[name] = value
        args.given.add(name)
    return rest


def parse_argv(argv: list[str]) -> Args:
    args = Args("legacy")
    rest = _take_flags(argv, args, stop_at_positional=True, shorts=_SHORT)
    if rest and rest[0] in SUBCOMMANDS:
        args.command = rest[0]
        rest = rest[1:]
        if args.command == "groups" and rest and rest[0] in ("add", "delete"):
            args.sub = rest[0]
            rest = rest[1:]
        shorts = {**_SHORT, **_SUB_SHORT}
        if args.command == "groups":
            shorts = {**shorts, "f": "file"}
        args.positional = _take_flags(rest, args, stop_at_positional=False, shorts=shorts)
    else:
        # Legacy mode: sops wants flags before the file; later flags are accepted here too.
        args.positional = _take_flags(rest, args, stop_at_positional=False, shorts=_SHORT)
    for name, (kind, env) in _FLAGS.items():
        if name in args.given or not env:
            continue
        value = os.environ.get(env)
        if value is None or value == "":
            continue
        if kind == "bool":
            try:
                args.flags[name] = _parse_bool(value, name)
            except SecretsKitError:
                continue
        elif kind == "list":
            args.flags[name] = [value]
        else:
            args.flags[name] = value
    if "enable-local-keyservice" not in args.flags:
        args.flags["enable-local-keyservice"] = True
    return args


HELP = f"""\
Usage: secrets-kit sops [global flags] COMMAND [flags] FILE ...
       secrets-kit sops [-e|-d|-r|--set '["k"] "v"'] [flags] FILE     (legacy form; bare FILE = edit)

A drop-in for sops {SOPS_COMPAT_VERSION}: same commands, flags, environment variables, file format and
exit codes. Use it with `alias sops='secrets-kit sops'` or a two-line wrapper script for
HELM_SECRETS_SOPS_PATH.

Commands:
  encrypt [FILE]          encrypt a file (stdin with --filename-override) to stdout, --output or -i
  decrypt [FILE]          decrypt to stdout (--extract '["key"][0]', --output, -i, --ignore-mac)
  edit FILE               decrypt into $SOPS_EDITOR/$EDITOR and re-encrypt what changed
  set FILE INDEX VALUE    set a value (JSON); --value-file, --value-stdin, --idempotent
  unset FILE INDEX        remove a key; --idempotent
  rotate FILE|DIR         new data key; --add-age/--rm-age/... ; a directory rotates every sops file in it
  updatekeys FILE|DIR...  re-wrap the data key for the keys of .sops.yaml (-y: no prompt)
  exec-env FILE CMD       run CMD with the decrypted top-level values as environment variables
  exec-file FILE CMD      run CMD with {{}} replaced by a FIFO (or --no-fifo temp file) of the plaintext
  filestatus FILE         print {{"encrypted":true|false}}
  groups add|delete       add or delete a key group (--file, -i, --age, --pgp, ...)

Key flags (comma lists; env var in brackets):
  -a, --age [SOPS_AGE_RECIPIENTS]   -p, --pgp [SOPS_PGP_FP]   -k, --kms [SOPS_KMS_ARN]
  --gcp-kms [SOPS_GCP_KMS_IDS]      --hc-vault-transit [SOPS_VAULT_URIS]
  --aws-profile, --encryption-context k:v,...   --shamir-secret-sharing-threshold N
Other flags: --input-type/--output-type yaml|json|dotenv|ini|binary, --config [SOPS_CONFIG],
  --filename-override, --indent, --decryption-order [SOPS_DECRYPTION_ORDER],
  --unencrypted-suffix, --encrypted-suffix, --unencrypted-regex, --encrypted-regex.
Beyond sops (whose CLI sets these only through .sops.yaml): --unencrypted-comment-regex,
  --encrypted-comment-regex, --mac-only-encrypted, --progress.

Identities: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, ~/.config/sops/age/keys.txt,
  SOPS_AGE_SSH_PRIVATE_KEY_FILE; GnuPG keyring (GNUPGHOME); cloud credentials for KMS/Vault.
  SECRETS_KIT_SOPS_LAYOUT=3.11 writes the older metadata key order (every writing subcommand).

Exit codes are sops's: 1 generic, 2 unreadable input, 3 unwritable output, 8 conflicting flags,
  25 a value failed to decrypt, 51 MAC mismatch, 91 bad --extract path, 92 empty file,
  100 no such file, 128 data key not recovered, 200 file not modified, 203 already encrypted.
"""


# ----------------------------------------------------------------------------- helpers

def _layout() -> str:
    return "3.11" if os.environ.get("SECRETS_KIT_SOPS_LAYOUT", "").startswith("3.11") else "3.13"


def _read_input(path: str | None) -> bytes:
    try:
        if path is None:
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"Error reading file: {exc.strerror}", where=path,
                         exit_code=codes.COULD_NOT_READ_INPUT) from None


def write_atomic(path: Path, data: bytes, mode: int | None = None, plaintext: bool = False) -> None:
    """Write via a temporary file in the same folder and rename: never half-written.

    An existing file keeps its mode; a new one gets the umask's default, and plaintext never
    more than 0600. Unlike other commands, sops does not create missing folders.
    """
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
        raise InputError(f"Could not write output file: {exc.strerror}", where=str(path),
                         exit_code=codes.COULD_NOT_WRITE_OUTPUT) from None


def _write_stdout(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


class Context:
    def __init__(self, args: Args) -> None:
        self.args = args
        self.config_path: Path | None = None
        self.config_data: dict[str, Any] | None = None

    def load_config(self, required: bool = False) -> dict[str, Any] | None:
        from secrets_kit.sops.config import load_config_file, resolve_config_path

        if self.config_data is not None:
            return self.config_data
        found = resolve_config_path(self.args.str("config") or None)
        if found.warning:
            _echo(f"[sops] warning: {found.warning}", err=True)
        if found.path is None:
            if required:
                raise ConfigError("config file not found", hint="create a .sops.yaml or pass --config",
                                  exit_code=codes.GENERIC)
            return None
        self.config_path = found.path
        self.config_data = load_config_file(found.path)
        return self.config_data

    def stores_indent(self, fmt: str) -> int | None:
        from secrets_kit.sops.config import stores_config

        if "indent" in self.args.given:
            return self.args.int("indent")
        data = self.load_config()
        if data is None:
            return None
        return stores_config(data).indent_for(fmt)

    def store(self, path: str | None, explicit_type: str, for_output: bool = False) -> Any:
        from secrets_kit.sops.stores import resolve_format, store_for

        fmt = resolve_format(path, explicit_type or None)
        indent = self.stores_indent(fmt) if for_output else None
        return store_for(fmt, indent)

    def stores(self, path: str | None) -> tuple[Any, Any]:
        """The input store (--input-type) and the output store (--output-type, indent) for `path`."""
        return (self.store(path, self.args.str("input-type")),
                self.store(path, self.args.str("output-type"), for_output=True))

    def order(self) -> tuple[str, ...]:
        from secrets_kit.sops.datakey import parse_decryption_order

        return parse_decryption_order(self.args.str("decryption-order") or None)


def _kms_context(args: Args) -> dict[str, str] | None:
    from secrets_kit.sops.keysources.aws_kms import parse_encryption_context

    return parse_encryption_context(args.str("encryption-context")) or None


def _keys(args: Args, flag: str, value: str, context: dict[str, str] | None) -> list[Any]:
    """Master keys from one key flag's value (e.g. `gcp-kms`, a comma list); `context` is for kms."""
    from secrets_kit.sops.keysources import keys_from_cli

    kind = {"gcp-kms": "gcp_kms", "hc-vault-transit": "hc_vault"}.get(flag, flag)
    opts: dict[str, Any] = {}
    if kind == "kms":
        opts = {"encryption_context": context, "aws_profile": args.str("aws-profile") or None}
    return keys_from_cli(kind, value, **opts)


def _flag_keys(args: Args, prefix: str = "") -> list[Any]:
    """Master keys from the key flags, in sops's order (kms, gcp, hckms, azure, pgp, vault, age)."""
    keys: list[Any] = []
    context = _kms_context(args)
    for flag in _KEY_FLAGS:
        value = args.str(prefix + flag)
        if not value:
            continue
        if flag in ("hckms", "azure-kv"):
            raise ConfigError(f"--{prefix}{flag}: this key type is not supported by secrets-kit",
                              exit_code=codes.GENERIC)
        keys.extend(_keys(args, flag, value, context))
    return keys


def _encrypt_options(ctx: Context, file_path: str, store: Any) -> Any:
    """sops getEncryptConfig: flags first, then the matching .sops.yaml creation rule."""
    from secrets_kit.sops.config import match_creation_rule
    from secrets_kit.sops.ops import EncryptOptions
    from secrets_kit.sops.rules import RULE_FIELDS, SelectionRules

    args = ctx.args
    context = _kms_context(args)
    data = ctx.load_config()
    rule = None
    if data is not None and ctx.config_path is not None:
        rule = match_creation_rule(data, ctx.config_path, file_path, context)
    values = {name: args.str(name.replace("_", "-")) for name in RULE_FIELDS}
    mac_only = args.bool("mac-only-encrypted")
    if rule is not None:
        for name in RULE_FIELDS:
            if not values[name]:
                values[name] = getattr(rule.rules, name)
        mac_only = mac_only or rule.mac_only_encrypted
    rules = SelectionRules(**values)
    if store.single_value:
        rules = SelectionRules()
        mac_only = False
    if len(rules.active()) > 1:
        raise InputError("cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, "
                         "unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file",
                         exit_code=codes.CONFLICTING_PARAMETERS)
    flag_keys = _flag_keys(args)
    if flag_keys:
        groups = [flag_keys]
    elif rule is not None:
        groups = rule.key_groups
    else:
        raise ConfigError("config file not found, or has no creation rules, and no keys provided through "
                          "command line options", hint="pass --age/--pgp/--kms/... or add a .sops.yaml",
                          exit_code=codes.GENERIC)
    threshold = args.int("shamir-secret-sharing-threshold") or (rule.shamir_threshold if rule else 0)
    return EncryptOptions(key_groups=groups, shamir_threshold=threshold, rules=rules, mac_only_encrypted=mac_only,
                          layout=_layout())


def _check_exists(path: str) -> None:
    if not Path(path).exists():
        raise InputError(f"Error: cannot operate on non-existent file {os.path.abspath(path)!r}",
                         exit_code=codes.NO_FILE_SPECIFIED)


def _emit_result(ctx: Context, data: bytes, file_path: str | None, in_place: bool, plaintext: bool) -> None:
    output = ctx.args.str("output")
    if in_place:
        assert file_path is not None
        write_atomic(Path(file_path), data, plaintext=plaintext)
    elif output:
        write_atomic(Path(output), data, plaintext=plaintext)
    else:
        _write_stdout(data)


def _conflicts(args: Args, stdin: bool) -> None:
    if stdin and args.bool("in-place"):
        raise InputError("Error: cannot use --in-place when reading from stdin",
                         exit_code=codes.CONFLICTING_PARAMETERS)
    if args.bool("in-place") and args.str("output"):
        raise InputError("Error: cannot operate on both --output and --in-place",
                         exit_code=codes.CONFLICTING_PARAMETERS)


def _override(args: Args, file_path: str | None) -> str | None:
    override = args.str("filename-override")
    return os.path.abspath(override) if override else (os.path.abspath(file_path) if file_path else None)


# ----------------------------------------------------------------------------- commands

def cmd_encrypt(ctx: Context) -> None:
    from secrets_kit.sops.ops import encrypt_bytes

    args = ctx.args
    path = args.positional[0] if args.positional else None
    stdin = path is None
    _conflicts(args, stdin)
    if stdin and not args.str("filename-override"):
        raise InputError("Error: must specify --filename-override when reading from stdin",
                         exit_code=codes.CONFLICTING_PARAMETERS)
    if path is not None:
        _check_exists(path)
    name = _override(args, path)
    in_store, out_store = ctx.stores(name)
    opts = _encrypt_options(ctx, name or "", in_store)
    data = _read_input(path)
    previous = None
    target = args.str("output")
    if target and Path(target).is_file():
        # Replacing an encrypted file: keep its data key and unchanged ciphertexts (minimal diff).
        previous = Path(target).read_bytes()
    result = encrypt_bytes(data, in_store, out_store, opts, previous=previous, order=ctx.order())
    _emit_result(ctx, result, path, args.bool("in-place"), plaintext=False)


def cmd_decrypt(ctx: Context) -> None:
    from secrets_kit.sops.ops import decrypt_bytes
    from secrets_kit.sops.tree import parse_tree_path

    args = ctx.args
    path = args.positional[0] if args.positional else None
    stdin = path is None
    _conflicts(args, stdin)
    if path is not None:
        _check_exists(path)
    name = _override(args, path)
    in_store, out_store = ctx.stores(name)
    order = ctx.order()
    extract = None
    if args.str("extract"):
        try:
            extract = parse_tree_path(args.str("extract"))
        except InputError as exc:
            raise InputError(f"error parsing --extract path: {exc.message}",
                             exit_code=codes.INVALID_TREE_PATH_FORMAT) from None
    data = _read_input(path)
    result = decrypt_bytes(data, in_store, out_store, order, args.bool("ignore-mac"), extract)
    _emit_result(ctx, result, path, args.bool("in-place"), plaintext=True)


def _json_value(text: str) -> Any:
    """sops `jsonValueToTreeInsertableValue`: scalars as Go decodes them (numbers are floats)."""
    from secrets_kit.sops.stores.json_store import load_json_object

    try:
        value = json.loads(text)
    except ValueError:
        raise InputError("Value for --set is not valid JSON", exit_code=codes.INVALID_SET_FORMAT) from None
    if isinstance(value, dict | list):
        try:
            return load_json_object(text.encode())
        except SecretsKitError:
            raise InputError("Invalid --set value format", exit_code=codes.INVALID_SET_FORMAT) from None
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
        raise InputError("Invalid set index format", exit_code=codes.INVALID_SET_FORMAT) from None
    if not tree_path:
        raise InputError("Invalid set index format", exit_code=codes.INVALID_SET_FORMAT)
    value = _json_value(raw_value)
    store, out_store = ctx.stores(path)
    data = _read_input(path)
    result, changed = set_bytes(data, store, tree_path, value, ctx.order(), args.bool("ignore-mac"), out_store,
                                _layout())
    if not changed and idempotent:
        return
    write_atomic(Path(path), result)


def cmd_set(ctx: Context) -> None:
    args = ctx.args
    if args.bool("value-file") and args.bool("value-stdin"):
        raise InputError("Error: cannot use both --value-file and --value-stdin", exit_code=codes.GENERIC)
    needed = 2 if args.bool("value-stdin") else 3
    if len(args.positional) != needed:
        raise InputError(f"Error: no file specified, or index and value are missing. Need precisely {needed} "
                         "positional arguments.", exit_code=codes.NO_FILE_SPECIFIED)
    path, index = args.positional[0], args.positional[1]
    if args.bool("value-stdin"):
        raw = sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    elif args.bool("value-file"):
        try:
            raw = Path(args.positional[2]).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise InputError(f"cannot read the value file: {exc.strerror}", where=args.positional[2],
                             exit_code=codes.GENERIC) from None
    else:
        raw = args.positional[2]
    _do_set(ctx, path, index, raw, args.bool("idempotent"))


def cmd_unset(ctx: Context) -> None:
    from secrets_kit.sops.ops import unset_bytes
    from secrets_kit.sops.tree import KeyNotFound, parse_tree_path

    args = ctx.args
    if len(args.positional) != 2:
        raise InputError("Error: no file specified, or index is missing", exit_code=codes.NO_FILE_SPECIFIED)
    path, index = args.positional
    try:
        tree_path = parse_tree_path(index)
    except InputError:
        raise InputError("Invalid unset index format", exit_code=codes.INVALID_SET_FORMAT) from None
    store, out_store = ctx.stores(path)
    data = _read_input(path)
    try:
        result = unset_bytes(data, store, tree_path, ctx.order(), args.bool("ignore-mac"), out_store, _layout())
    except KeyNotFound:
        if args.bool("idempotent"):
            return
        raise
    write_atomic(Path(path), result)


def _progress(args: Args, total: int, label: str) -> Any:
    """A rich progress bar on stderr, when stderr is a terminal or --progress is given."""
    if total <= 1 or not (args.bool("progress") or sys.stderr.isatty()):
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True, force_terminal=args.bool("progress") or None),
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
                    _echo(f"{path}: {outcome}", err=True)
            except SecretsKitError as exc:
                failures += 1
                _echo(f"secrets-kit: error: {path}: {exc}", err=True)
            if progress is not None:
                progress.advance(progress.task_ids[0])
    finally:
        if progress is not None:
            progress.stop()
    if failures:
        raise InputError(f"failed updating {failures} file(s)", exit_code=codes.GENERIC)


def cmd_rotate(ctx: Context) -> None:
    from secrets_kit.sops.ops import rotate_bytes

    args = ctx.args
    if not args.positional:
        raise InputError("Error: no file specified", exit_code=codes.NO_FILE_SPECIFIED)
    _conflicts(args, False)
    add = _flag_keys(args, "add-")
    remove = _flag_keys(args, "rm-")
    target = args.positional[0]
    if not Path(target).exists():
        if add or remove:
            raise InputError(f"Error: cannot add or remove keys on non-existent file {os.path.abspath(target)!r}",
                             exit_code=codes.CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE)
        _check_exists(target)
    if Path(target).is_dir() or len(args.positional) > 1:
        from secrets_kit.sops.detect import expand_paths

        files, _ = expand_paths(args.positional)

        def one(path: Path) -> str:
            store = ctx.store(str(path), args.str("input-type"))
            result = rotate_bytes(_read_input(str(path)), store, add, remove, ctx.order(), args.bool("ignore-mac"),
                                  layout=_layout())
            write_atomic(path, result)
            return "rotated"

        _run_many(args, files, "rotating", one)
        return
    name = _override(args, target) or target
    store, out_store = ctx.stores(name)
    result = rotate_bytes(_read_input(target), store, add, remove, ctx.order(), args.bool("ignore-mac"), out_store,
                          _layout())
    _emit_result(ctx, result, target, args.bool("in-place"), plaintext=False)


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise InputError("cannot ask for confirmation: stdin is not a terminal", hint="pass -y/--yes",
                         exit_code=codes.GENERIC)
    while True:
        _echo(prompt, nl=False)
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
        raise InputError("Error: no file specified", exit_code=codes.NO_FILE_SPECIFIED)
    files, had_dir = expand_paths(args.positional)
    config_path = ctx.config_path

    def one(path: Path) -> str:
        if path.is_dir():
            raise InputError("can't operate on a directory", exit_code=codes.GENERIC)
        store = ctx.store(str(path), args.str("input-type"))
        rule = match_creation_rule(data, config_path, str(path), {})
        if rule is None:
            raise ConfigError(f"The config file {config_path} does not contain any creation rule",
                              exit_code=codes.GENERIC)
        try:
            original = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", exit_code=codes.GENERIC) from None
        result, diffs, old_t, new_t = update_keys_bytes(original, store, rule.key_groups,
                                                        args.int("shamir-secret-sharing-threshold"), ctx.order(),
                                                        _layout())
        if result is None:
            return "already up to date" if not (had_dir and not args.bool("verbose")) else ""
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
        _echo("\n".join(line for line in lines if line))
        if not args.bool("yes") and not _confirm("Is this okay? (y/n):"):
            return "left unchanged"
        write_atomic(path, result)
        return "synced with new keys"

    if len(files) == 1 and not had_dir:
        outcome = one(files[0])
        if outcome:
            _echo(f"File {files[0]} {outcome}", err=True)
        return
    _run_many(args, files, "updating keys", one)


def cmd_filestatus(ctx: Context) -> None:
    from secrets_kit.sops.ops import file_status

    args = ctx.args
    if not args.positional:
        raise InputError("Error: no file specified", exit_code=codes.NO_FILE_SPECIFIED)
    path = args.positional[0]
    store = ctx.store(path, args.str("input-type"))
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot check file status: cannot load encrypted file: {exc.strerror}", where=path,
                         exit_code=codes.GENERIC) from None
    try:
        encrypted = file_status(data, store)
    except SecretsKitError as exc:
        raise InputError(f"cannot check file status: cannot load encrypted file: {exc.message}", where=path,
                         exit_code=codes.GENERIC) from None
    _echo(json.dumps({"encrypted": encrypted}, separators=(",", ":")))


def _decrypted_file(ctx: Context, path: str) -> Any:
    from secrets_kit.sops.ops import open_and_decrypt

    args = ctx.args
    store = ctx.store(path, args.str("input-type"))
    return open_and_decrypt(_read_input(path), store, ctx.order(), args.bool("ignore-mac"))


def cmd_exec_env(ctx: Context) -> None:
    import subprocess

    from secrets_kit.sops.ops import environment

    args = ctx.args
    if len(args.positional) != 2:
        raise InputError("error: missing file to decrypt", exit_code=codes.GENERIC)
    if args.bool("background") and args.bool("same-process"):
        raise InputError("Error: The --same-process flag cannot be used with --background",
                         exit_code=codes.CONFLICTING_PARAMETERS)
    if args.str("user"):
        raise InputError("--user is not supported by secrets-kit", exit_code=codes.GENERIC)
    path, command = args.positional
    secrets = environment(_decrypted_file(ctx, path).branches[0])
    env = {} if args.bool("pristine") else dict(os.environ)
    env.update(secrets)
    if args.bool("same-process"):
        sys.stdout.flush()
        os.execve("/bin/sh", ["/bin/sh", "-c", command], env)
    if args.bool("background"):
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
        raise InputError("error: missing file to decrypt", exit_code=codes.GENERIC)
    if args.str("user"):
        raise InputError("--user is not supported by secrets-kit", exit_code=codes.GENERIC)
    path, command = args.positional
    filename = args.str("filename")
    if filename and (os.path.isabs(filename) or ".." in Path(filename).parts or "/" in filename):
        raise InputError("The provided filename is not a local path.", exit_code=codes.GENERIC)
    f = _decrypted_file(ctx, path)
    out_store = ctx.store(path, args.str("output-type"), for_output=True)
    plaintext = f.emit_plain(out_store)
    directory = tempfile.mkdtemp(prefix=".sops")
    try:
        target = os.path.join(directory, filename or "tmp-file")
        if not args.bool("no-fifo"):
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


def cmd_groups(ctx: Context) -> None:
    from secrets_kit.sops.ops import add_key_group_bytes, delete_key_group_bytes

    args = ctx.args
    if args.sub not in ("add", "delete"):
        raise _usage_error("groups: use `groups add` or `groups delete`")
    path = args.str("file")
    if not path:
        raise InputError("Error: no file specified (--file)", exit_code=codes.NO_FILE_SPECIFIED)
    store, out_store = ctx.stores(path)
    threshold = args.int("shamir-secret-sharing-threshold")
    if args.sub == "add":
        if args.positional:
            raise InputError("error: no positional arguments allowed", exit_code=codes.GENERIC)
        # sops `groups add` takes repeatable flags, in this order (not the comma lists of encrypt).
        context = _kms_context(args)
        group = [key for flag in ("pgp", "kms", "gcp-kms", "hc-vault-transit", "age")
                 for value in args.list(flag) for key in _keys(args, flag, value, context)]
        result = add_key_group_bytes(_read_input(path), store, group, threshold, ctx.order(), out_store, _layout())
    else:
        if len(args.positional) != 1:
            raise InputError("error: exactly one positional argument (index) required", exit_code=codes.GENERIC)
        try:
            index = int(args.positional[0])
        except ValueError:
            raise InputError(f"failed to parse [index] argument: {args.positional[0]!r}",
                             exit_code=codes.GENERIC) from None
        result = delete_key_group_bytes(_read_input(path), store, index, threshold, ctx.order(), out_store,
                                        _layout())
    if args.bool("in-place"):
        write_atomic(Path(path), result)
    else:
        _write_stdout(result)


# ----------------------------------------------------------------------------- edit

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
                raise InputError(f"invalid ${var}", exit_code=codes.NO_EDITOR_FOUND) from None
    for name in ("vim", "nano", "vi"):
        found = shutil.which(name)
        if found:
            return [found, path]
    raise InputError("no editor available: set SOPS_EDITOR or EDITOR", exit_code=codes.NO_EDITOR_FOUND)


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
                raise InputError(f"Could not run editor: {exc.strerror}", exit_code=codes.NO_EDITOR_FOUND) from None
            if done.returncode != 0:
                raise InputError(f"Could not run editor: exit status {done.returncode}",
                                 exit_code=codes.NO_EDITOR_FOUND)
            edited = Path(tmp).read_bytes()
            if hashlib.sha256(edited).digest() == original:
                raise InputError("File has not changed, exiting.", exit_code=codes.FILE_HAS_NOT_BEEN_MODIFIED)
            try:
                return accept(edited)
            except SecretsKitError as exc:
                # sops returns at once on a version it cannot compare (202); other errors loop on a terminal
                if not sys.stdin.isatty() or exc.exit_code == codes.FAILED_TO_COMPARE_VERSIONS:
                    raise
                _echo(f"secrets-kit: {exc}. Press enter to return to the editor, or Ctrl+C to exit.",
                           err=True)
                sys.stdin.readline()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def cmd_edit(ctx: Context) -> None:
    from secrets_kit.sops.ops import SopsFile, encrypt_bytes, validate_for_encryption

    args = ctx.args
    if not args.positional:
        raise InputError("Error: no file specified", exit_code=codes.NO_FILE_SPECIFIED)
    path = args.positional[0]
    name = _override(args, path) or path
    store, out_store = ctx.stores(name)
    basename = os.path.basename(path)
    if not Path(path).exists():
        opts = _encrypt_options(ctx, name, store)

        def accept_new(edited: bytes) -> bytes:
            return encrypt_bytes(edited, store, out_store, opts)

        from secrets_kit.sops.stores import resolve_format

        fmt = resolve_format(name, args.str("input-type") or None)
        result = _edit_loop(_EXAMPLES.get(fmt, _EXAMPLES["binary"]), basename, accept_new)
        write_atomic(Path(path), result)
        return
    f = SopsFile.load(_read_input(path), store)
    f.decrypt(ctx.order(), args.bool("ignore-mac"))
    show_keys = args.bool("show-master-keys")
    initial = out_store.emit_encrypted(f.doc, f.metadata, _layout()) if show_keys else f.emit_plain(out_store)

    def accept(edited: bytes) -> bytes:
        if show_keys:
            doc, md = store.load_encrypted(edited)
            f.metadata = md
        else:
            doc = store.load_plain(edited)
            validate_for_encryption(out_store, doc)
        if f.metadata.master_key_count() == 0:
            raise InputError("No master keys were provided, so sops can't encrypt the file")
        f.doc = doc
        f.decrypted = True
        f.reencrypt(update_version=True)
        if show_keys:
            f.rewrap()
        return f.emit_encrypted(out_store, _layout())

    result = _edit_loop(initial, basename, accept)
    write_atomic(Path(path), result)


# ----------------------------------------------------------------------------- legacy

def cmd_legacy(ctx: Context) -> None:
    args = ctx.args
    if not args.positional:
        raise InputError("Error: no file specified", exit_code=codes.NO_FILE_SPECIFIED)
    if len(args.positional) > 1:
        _echo("[sops] warning: More than one positional argument provided. Only the first one will be used!",
                   err=True)
        args.positional = args.positional[:1]
    _conflicts(args, False)
    path = args.positional[0]
    exists = Path(path).exists()
    modes = [m for m in ("encrypt", "decrypt", "rotate") if args.bool(m)] + (["set"] if args.str("set") else [])
    if not exists:
        if any(args.str(f"{op}-{k}") for op in ("add", "rm") for k in _KEY_FLAGS):
            raise InputError(f"Error: cannot add or remove keys on non-existent file {os.path.abspath(path)!r}, "
                             "use `--kms` and `--pgp` instead.",
                             exit_code=codes.CANNOT_CHANGE_KEYS_FROM_NON_EXISTENT_FILE)
        if any(m in modes for m in ("encrypt", "decrypt", "rotate")):
            _check_exists(path)
    if not modes:
        cmd_edit(ctx)
        return
    last = modes[-1]
    if last == "set":
        text = args.str("set")
        head, sep, value = text.partition("] ")
        if not sep:
            raise InputError("Invalid --set format", exit_code=codes.INVALID_SET_FORMAT)
        _do_set(ctx, path, head.rstrip(" ") + "]", value, False)
    elif last == "rotate":
        cmd_rotate(ctx)
    elif last == "decrypt":
        cmd_decrypt(ctx)
    else:
        cmd_encrypt(ctx)


def _unsupported(name: str) -> Callable[[Context], None]:
    def run(ctx: Context) -> None:
        raise InputError(f"`sops {name}` is not supported by secrets-kit", exit_code=codes.GENERIC)

    return run


COMMANDS: dict[str, Callable[[Context], None]] = {
    "encrypt": cmd_encrypt, "decrypt": cmd_decrypt, "edit": cmd_edit, "set": cmd_set, "unset": cmd_unset,
    "rotate": cmd_rotate, "updatekeys": cmd_updatekeys, "filestatus": cmd_filestatus, "exec-env": cmd_exec_env,
    "exec-file": cmd_exec_file, "groups": cmd_groups, "legacy": cmd_legacy,
    "keyservice": _unsupported("keyservice"), "publish": _unsupported("publish"),
    "completion": _unsupported("completion"),
}


def run(argv: list[str]) -> None:
    args = parse_argv(argv)
    if args.command == "help" or args.bool("help"):
        _echo(HELP, nl=False)
        return
    if args.bool("version") and args.command == "legacy":
        _echo(f"sops {SOPS_COMPAT_VERSION} (secrets-kit {__version__})")
        return
    COMMANDS[args.command](Context(args))


def main(argv: list[str] | None = None) -> None:
    """Entry point usable as a standalone `sops` executable (exit codes as sops)."""
    try:
        run(sys.argv[1:] if argv is None else argv)
    except SecretsKitError as err:
        _echo(f"secrets-kit: error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(codes.KEYBOARD_INTERRUPT)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as ex:  # a bug: its message may hold anything, so show only the type
        if os.environ.get("SECRETS_KIT_DEBUG", "") not in ("", "0", "false"):
            raise
        _echo(f"secrets-kit: internal error: {type(ex).__name__} (set SECRETS_KIT_DEBUG=1 for a traceback)",
              err=True)
        sys.exit(1)


def _click_command() -> Any:
    import click

    @click.command(name="sops", add_help_option=False, help="Drop-in for the sops command line.",
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                     "allow_interspersed_args": False})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def sops(argv: tuple[str, ...]) -> None:
        """Drop-in for the sops command line (SOPS file encryption)."""
        try:
            run(list(argv))
        except KeyboardInterrupt:
            raise InputError("interrupted", exit_code=codes.KEYBOARD_INTERRUPT) from None

    return sops


def __getattr__(name: str) -> Any:
    # `secrets-kit sops` asks for the click command; `main()` (a standalone `sops`) never does.
    if name == "sops":
        command = _click_command()
        globals()["sops"] = command
        return command
    raise AttributeError(name)


if __name__ == "__main__":
    main()
