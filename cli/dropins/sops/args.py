"""The sops command line: Go `flag` syntax (`-x`, `--x`, `-x=v`, `--x v`), global flags before the
subcommand, subcommand flags after it, and the environment variables sops reads for flags."""

from __future__ import annotations

import os
from typing import Any

from .codes import SopsError

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
KEY_FLAGS = ("kms", "gcp-kms", "hckms", "azure-kv", "pgp", "hc-vault-transit", "age")
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

    def text(self, name: str) -> str:
        """A flag's value as text ("" if unset; a repeated list flag comma-joined)."""
        value = self.flags.get(name)
        if value is None:
            return ""
        if isinstance(value, list):
            return ",".join(value)
        return str(value)

    def on(self, name: str) -> bool:
        """Whether a boolean flag is set."""
        return bool(self.flags.get(name))

    def number(self, name: str) -> int:
        return int(self.flags.get(name) or 0)

    def values(self, name: str) -> list[str]:
        """Each value given to a repeatable flag, in order."""
        value = self.flags.get(name)
        return list(value) if isinstance(value, list) else ([value] if value else [])


def usage_error(message: str) -> SopsError:
    return SopsError(message, hint="see `secrets-kit sops --help`")


def _parse_bool(text: str, name: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise usage_error(f'invalid boolean value "{text}" for -{name}')


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
            raise usage_error(f"flag provided but not defined: -{body.split('=')[0]}")
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
                raise usage_error(f"flag needs an argument: -{name}")
            if kind == "int":
                try:
                    value = int(raw)
                except ValueError:
                    raise usage_error(f'invalid value "{raw}" for flag -{name}: parse error') from None
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
            except SopsError:
                continue
        elif kind == "list":
            args.flags[name] = [value]
        else:
            args.flags[name] = value
    if "enable-local-keyservice" not in args.flags:
        args.flags["enable-local-keyservice"] = True
    return args
