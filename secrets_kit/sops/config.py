"""`.sops.yaml`: creation rules (first match wins) and store settings, found as sops finds it.

Lookup: an explicit path (`--config` / SOPS_CONFIG), else `.sops.yaml` in the current
directory or one of its 100 parents (not the file's directory; `.sops.yml` is only
warned about). `path_regex` is an unanchored RE2 search on the file's absolute path with
the config directory stripped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import ConfigError
from .keysources import MasterKey, keys_from_cli
from .rules import RULE_FIELDS, SelectionRules, compile_go_regex

CONFIG_NAME = ".sops.yaml"
ALT_CONFIG_NAME = ".sops.yml"
MAX_DEPTH = 100


class StoresConfig:
    def __init__(self) -> None:
        self.yaml_indent: int | None = None
        self.json_indent: int | None = None
        self.json_binary_indent: int | None = None

    def indent_for(self, fmt: str) -> int | None:
        return {"yaml": self.yaml_indent, "json": self.json_indent, "binary": self.json_binary_indent}.get(fmt)


class CreationConfig:
    """What a matching creation rule asks for."""

    def __init__(self, rules: SelectionRules | None = None, mac_only_encrypted: bool = False) -> None:
        self.key_groups: list[list[MasterKey]] = []
        self.shamir_threshold = 0
        self.rules = rules if rules is not None else SelectionRules()
        self.mac_only_encrypted = mac_only_encrypted


class LookupResult:
    def __init__(self, path: Path | None, warning: str = "") -> None:
        self.path = path
        self.warning = warning


def find_config(start: Path | None = None) -> LookupResult:
    """`.sops.yaml` in `start` (default: the current directory) or its parents."""
    directory = (start or Path.cwd()).absolute()
    alternate: Path | None = None
    for _ in range(MAX_DEPTH):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            warning = f"ignoring {alternate}: the config file must be called {CONFIG_NAME}" if alternate else ""
            return LookupResult(candidate, warning)
        if alternate is None and (directory / ALT_CONFIG_NAME).is_file():
            alternate = directory / ALT_CONFIG_NAME
        if directory.parent == directory:
            break
        directory = directory.parent
    return LookupResult(None, f"ignoring {alternate}: the config file must be called {CONFIG_NAME}"
                        if alternate else "")


def resolve_config_path(explicit: str | None) -> LookupResult:
    if explicit:
        return LookupResult(Path(explicit))
    env = os.environ.get("SOPS_CONFIG")
    if env:
        return LookupResult(Path(env))
    return find_config()


def load_config_file(path: Path) -> dict[str, Any]:
    import yaml  # only when a config file exists: keeps `decrypt` start-up short

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"could not read config file: {exc.strerror}", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the config file is not UTF-8 text (invalid byte at offset {exc.start})",
                          where=str(path)) from None
    limits.check_size(text, str(path))
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"error loading config: Could not unmarshal config file: {str(exc).splitlines()[0]}",
                          where=str(path)) from None
    except RecursionError:  # PyYAML's constructor recurses: nesting deeper than the stack
        raise limits.depth_error(str(path)) from None
    except (ValueError, TypeError) as exc:  # a 5,000-digit integer, an unhashable key, a bad !!binary
        raise ConfigError(f"error loading config: Could not unmarshal config file: {type(exc).__name__}",
                          where=str(path)) from None
    limits.check_tree(data, str(path))  # aliases expanded: what the rule matching walks
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("error loading config: the config file is not a mapping", where=str(path))
    return data


def stores_config(data: dict[str, Any]) -> StoresConfig:
    stores = data.get("stores") or {}
    result = StoresConfig()
    if isinstance(stores, dict):
        for name, attr in (("yaml", "yaml_indent"), ("json", "json_indent"), ("json_binary", "json_binary_indent")):
            section = stores.get(name)
            if isinstance(section, dict) and section.get("indent") is not None:
                try:
                    setattr(result, attr, int(section["indent"]))
                except (TypeError, ValueError):
                    raise ConfigError(f"stores.{name}.indent must be a number") from None
    return result


def _key_list(value: Any, field_name: str) -> list[str]:
    """sops `parseKeyField`: a comma-separated string (trimmed, empties skipped) or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        out = []
        for item in value:
            if not isinstance(item, str):
                raise ConfigError(f"invalid {field_name} key configuration: expected string in list, got "
                                  f"{type(item).__name__}")
            out.append(item)
        return out
    raise ConfigError(f"invalid {field_name} key configuration: expected string, []string, or nil")


def _dedupe(group: list[MasterKey]) -> list[MasterKey]:
    seen: set[tuple[str, str]] = set()
    out = []
    for key in group:
        marker = (key.stanza, key.identifier)
        if marker not in seen:
            seen.add(marker)
            out.append(key)
    return out


def _unsupported(rule: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if rule.get(name):
            raise ConfigError(f"'{name}' keys are not supported by secrets-kit", hint="use age, pgp, kms, gcp_kms "
                              "or hc_vault keys")


def _group_from_config(group: dict[str, Any]) -> list[MasterKey]:
    if not isinstance(group, dict):
        raise ConfigError("a key group must be a mapping")
    keys: list[MasterKey] = []
    for merged in group.get("merge") or []:
        keys.extend(_group_from_config(merged))
    for recipient in _key_list(group.get("age"), "age"):
        keys.extend(keys_from_cli("age", recipient))
    for fp in _key_list(group.get("pgp"), "pgp"):
        keys.extend(keys_from_cli("pgp", fp))
    for entry in group.get("kms") or []:
        if not isinstance(entry, dict) or not entry.get("arn"):
            raise ConfigError("a kms entry of a key group needs an 'arn'")
        value = entry["arn"] + (f"+{entry['role']}" if entry.get("role") else "")
        context = {str(k): "" if v is None else str(v) for k, v in (entry.get("context") or {}).items()}
        keys.extend(keys_from_cli("kms", value, encryption_context=context or None,
                                  aws_profile=entry.get("aws_profile") or None))
    for entry in group.get("gcp_kms") or []:
        if not isinstance(entry, dict) or not entry.get("resource_id"):
            raise ConfigError("a gcp_kms entry of a key group needs a 'resource_id'")
        keys.extend(keys_from_cli("gcp_kms", entry["resource_id"]))
    for uri in _key_list(group.get("hc_vault"), "hc_vault"):
        keys.extend(keys_from_cli("hc_vault", uri))
    _unsupported(group, ("azure_keyvault", "hckms"))
    return _dedupe(keys)


def creation_config(rule: dict[str, Any], kms_context: dict[str, str] | None = None) -> CreationConfig:
    rules = SelectionRules(**{name: str(rule.get(name) or "") for name in RULE_FIELDS})
    rules.validate()
    for name in RULE_FIELDS:
        value = getattr(rules, name)
        if value and name.endswith("_regex"):
            compile_go_regex(value, name)
    result = CreationConfig(rules=rules, mac_only_encrypted=bool(rule.get("mac_only_encrypted")))
    try:
        result.shamir_threshold = int(rule.get("shamir_threshold") or 0)
    except (TypeError, ValueError):
        raise ConfigError("shamir_threshold must be a number") from None
    groups = rule.get("key_groups")
    if groups is not None and groups != []:
        if not isinstance(groups, list):
            raise ConfigError("key_groups must be a list")
        result.key_groups = [_group_from_config(g or {}) for g in groups]
        return result
    # No key_groups, or `key_groups: []`: sops (config.go getKeyGroupsFromCreationRule) makes one
    # group of the rule's flat keys, which may be empty ("empty key group provided").
    group: list[MasterKey] = []
    for recipient in _key_list(rule.get("age"), "age"):
        group.extend(keys_from_cli("age", recipient))
    for fp in _key_list(rule.get("pgp"), "pgp"):
        group.extend(keys_from_cli("pgp", fp))
    kms = _key_list(rule.get("kms"), "kms")
    if kms:
        group.extend(keys_from_cli("kms", ",".join(kms), encryption_context=kms_context or None,
                                   aws_profile=rule.get("aws_profile") or None))
    gcp = _key_list(rule.get("gcp_kms"), "gcp_kms")
    if gcp:
        group.extend(keys_from_cli("gcp_kms", ",".join(gcp)))
    _unsupported(rule, ("azure_keyvault", "hckms"))
    vault = _key_list(rule.get("hc_vault_transit_uri"), "hc_vault_transit_uri")
    if vault:
        group.extend(keys_from_cli("hc_vault", ",".join(vault)))
    result.key_groups = [group]
    return result


def match_creation_rule(data: dict[str, Any], config_path: Path, file_path: str,
                        kms_context: dict[str, str] | None = None) -> CreationConfig | None:
    """The first creation rule whose path_regex matches `file_path`; None without rules."""
    rules = data.get("creation_rules")
    if rules is None:
        return None
    if not isinstance(rules, list):
        raise ConfigError("creation_rules must be a list", where=str(config_path))
    config_dir = str(config_path.absolute().parent)
    target = os.path.abspath(file_path)
    if target.startswith(config_dir + os.sep):
        target = target[len(config_dir) + 1:]
    for rule in rules:
        if not isinstance(rule, dict):
            raise ConfigError("a creation rule must be a mapping", where=str(config_path))
        pattern = rule.get("path_regex")
        if not pattern:
            return creation_config(rule, kms_context)
        regex = compile_go_regex(str(pattern), "path_regex")
        if regex.search(target):
            return creation_config(rule, kms_context)
    raise ConfigError("error loading config: no matching creation rules found", where=str(config_path),
                      hint=f"add a creation rule whose path_regex matches {target}")
