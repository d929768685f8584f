"""What a command runs with: its parsed flags, the `.sops.yaml` found for it, the stores for its
file types, the decryption order, the master keys from key flags, and the encrypt options."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import codes
from .args import KEY_FLAGS, Args
from .codes import SopsError
from .streams import echo, write_atomic, write_stdout


def layout() -> str:
    """The metadata key order to write: sops 3.13's, or 3.11's when asked (SECRETS_KIT_SOPS_LAYOUT)."""
    return "3.11" if os.environ.get("SECRETS_KIT_SOPS_LAYOUT", "").startswith("3.11") else "3.13"


class Context:
    def __init__(self, args: Args) -> None:
        self.args = args
        self.config_path: Path | None = None
        self.config_data: dict[str, Any] | None = None

    def load_config(self, required: bool = False) -> dict[str, Any] | None:
        from secrets_kit.sops.config import load_config_file, resolve_config_path

        if self.config_data is not None:
            return self.config_data
        found = resolve_config_path(self.args.text("config") or None)
        if found.warning:
            echo(f"[sops] warning: {found.warning}", err=True)
        if found.path is None:
            if required:
                raise SopsError("config file not found", hint="create a .sops.yaml or pass --config")
            return None
        self.config_path = found.path
        self.config_data = load_config_file(found.path)
        return self.config_data

    def stores_indent(self, fmt: str) -> int | None:
        from secrets_kit.sops.config import stores_config

        if "indent" in self.args.given:
            return self.args.number("indent")
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
        return (self.store(path, self.args.text("input-type")),
                self.store(path, self.args.text("output-type"), for_output=True))

    def order(self) -> tuple[str, ...]:
        from secrets_kit.sops.datakey import parse_decryption_order

        return parse_decryption_order(self.args.text("decryption-order") or None)

    def emit_result(self, data: bytes, file_path: str | None, plaintext: bool) -> None:
        """Write a result where the flags say: the file itself (-i), --output, or stdout."""
        output = self.args.text("output")
        if self.args.on("in-place"):
            assert file_path is not None
            write_atomic(Path(file_path), data, plaintext=plaintext)
        elif output:
            write_atomic(Path(output), data, plaintext=plaintext)
        else:
            write_stdout(data)


def kms_context(args: Args) -> dict[str, str] | None:
    from secrets_kit.sops.keysources.aws_kms import parse_encryption_context

    return parse_encryption_context(args.text("encryption-context")) or None


def keys_of_flag(args: Args, flag: str, value: str, context: dict[str, str] | None) -> list[Any]:
    """Master keys from one key flag's value (e.g. `gcp-kms`, a comma list); `context` is for kms."""
    from secrets_kit.sops.keysources import keys_from_cli

    kind = {"gcp-kms": "gcp_kms", "hc-vault-transit": "hc_vault"}.get(flag, flag)
    opts: dict[str, Any] = {}
    if kind == "kms":
        opts = {"encryption_context": context, "aws_profile": args.text("aws-profile") or None}
    return keys_from_cli(kind, value, **opts)


def flag_keys(args: Args, prefix: str = "") -> list[Any]:
    """Master keys from the key flags, in sops's order (kms, gcp, hckms, azure, pgp, vault, age)."""
    keys: list[Any] = []
    context = kms_context(args)
    for flag in KEY_FLAGS:
        value = args.text(prefix + flag)
        if not value:
            continue
        if flag in ("hckms", "azure-kv"):
            raise SopsError(f"--{prefix}{flag}: this key type is not supported by secrets-kit")
        keys.extend(keys_of_flag(args, flag, value, context))
    return keys


def encrypt_options(ctx: Context, file_path: str, store: Any) -> Any:
    """sops getEncryptConfig: flags first, then the matching .sops.yaml creation rule."""
    from secrets_kit.sops.config import match_creation_rule
    from secrets_kit.sops.ops import EncryptOptions
    from secrets_kit.sops.rules import RULE_FIELDS, SelectionRules

    args = ctx.args
    context = kms_context(args)
    data = ctx.load_config()
    rule = None
    if data is not None and ctx.config_path is not None:
        rule = match_creation_rule(data, ctx.config_path, file_path, context)
    values = {name: args.text(name.replace("_", "-")) for name in RULE_FIELDS}
    mac_only = args.on("mac-only-encrypted")
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
        raise SopsError("cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, "
                        "unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex in the same file",
                        codes.CONFLICTING_PARAMETERS)
    keys = flag_keys(args)
    if keys:
        groups = [keys]
    elif rule is not None:
        groups = rule.key_groups
    else:
        raise SopsError("config file not found, or has no creation rules, and no keys provided through "
                        "command line options", hint="pass --age/--pgp/--kms/... or add a .sops.yaml")
    threshold = args.number("shamir-secret-sharing-threshold") or (rule.shamir_threshold if rule else 0)
    return EncryptOptions(key_groups=groups, shamir_threshold=threshold, rules=rules, mac_only_encrypted=mac_only,
                          layout=layout())


def go_quoted_path(path: str) -> str:
    """An absolute path as Go's %q prints it (sops names files so in its errors)."""
    return json.dumps(os.path.abspath(path), ensure_ascii=False)


def check_exists(path: str) -> None:
    if not Path(path).exists():
        raise SopsError(f"Error: cannot operate on non-existent file {go_quoted_path(path)}",
                        codes.NO_FILE_SPECIFIED)


def check_conflicts(args: Args, stdin: bool) -> None:
    if stdin and args.on("in-place"):
        raise SopsError("Error: cannot use --in-place when reading from stdin", codes.CONFLICTING_PARAMETERS)
    if args.on("in-place") and args.text("output"):
        raise SopsError("Error: cannot operate on both --output and --in-place", codes.CONFLICTING_PARAMETERS)


def file_name(args: Args, file_path: str | None) -> str | None:
    """The path that decides format and creation rule: --filename-override, else the file's."""
    override = args.text("filename-override")
    return os.path.abspath(override) if override else (os.path.abspath(file_path) if file_path else None)
