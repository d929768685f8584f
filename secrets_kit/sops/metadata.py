"""The `sops` metadata block: read every layout sops has written, write 3.13's or 3.11's.

Readers accept missing keys, `null` or `[]` for every key list, weakly typed values
(`"2"`, `"true"` from dotenv/INI) and both the top-level stanzas (one key group) and
`key_groups` + `shamir_threshold`. Writers emit either 3.13's alphabetical order or
≤3.12's struct order; for an existing file the original key order is kept so a rewrite
touches only what changed.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .gofmt import parse_bool, parse_rfc3339
from .reasons import Reason
from .rules import RULE_FIELDS, SelectionRules
from .tree import Branch, Comment, Timestamp

SOPS_VERSION = "3.13.3"  # the sops file format version we write (must be semver)

# Stanza kinds in the order sops builds a key group from metadata (internalGroupFrom).
STANZA_KINDS = ("kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age")
# Field order of each stanza in ≤3.12 files (struct order); 3.13 sorts them.
STANZA_FIELDS: dict[str, tuple[str, ...]] = {
    "pgp": ("created_at", "enc", "fp"),
    "kms": ("arn", "role", "context", "created_at", "enc", "aws_profile"),
    "gcp_kms": ("resource_id", "created_at", "enc"),
    "hc_vault": ("vault_address", "engine_path", "key_name", "created_at", "enc"),
    "azure_kv": ("vault_url", "name", "version", "created_at", "enc"),
    "age": ("recipient", "enc"),
    "hckms": ("key_id", "created_at", "enc"),
}
_OMITEMPTY_FIELDS = {"kms": ("role", "context")}
_TOP_STRUCT_ORDER = ("shamir_threshold", "key_groups", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age",
                     "lastmodified", "mac", "pgp", *RULE_FIELDS, "mac_only_encrypted", "version")
_GROUP_STRUCT_ORDER = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")
_GROUP_ALWAYS = ("hc_vault", "age")  # no omitempty inside a key group


class Stanza:
    """One master key entry as stored: its kind (`age`, `pgp`, ...) and its fields."""

    __slots__ = ("data", "kind")

    def __init__(self, kind: str, data: dict[str, Any]) -> None:
        self.kind = kind
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stanza) and other.kind == self.kind and other.data == self.data

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.data))))

    def __repr__(self) -> str:
        return f"Stanza({self.kind!r}, fields={sorted(self.data)})"

    @property
    def enc(self) -> str:
        return str(self.data.get("enc") or "")


class Metadata:
    """The decoded `sops` block. `order`/`group_key_order`: the key order as read, so a rewrite
    keeps it (minimal diffs)."""

    def __init__(self, key_groups: list[list[Stanza]] | None = None, shamir_threshold: int = 0,
                 lastmodified: str = "", mac: str = "", rules: SelectionRules | None = None,
                 mac_only_encrypted: bool = False, version: str = SOPS_VERSION, order: list[str] | None = None,
                 group_key_order: list[list[str]] | None = None) -> None:
        self.key_groups: list[list[Stanza]] = key_groups if key_groups is not None else []
        self.shamir_threshold = shamir_threshold
        self.lastmodified = lastmodified
        self.mac = mac
        self.rules = rules if rules is not None else SelectionRules()
        self.mac_only_encrypted = mac_only_encrypted
        self.version = version
        self.order: list[str] = order if order is not None else []
        self.group_key_order: list[list[str]] = group_key_order if group_key_order is not None else []

    @property
    def effective_rules(self) -> SelectionRules:
        return self.rules.with_default()

    def master_key_count(self) -> int:
        return sum(len(g) for g in self.key_groups)


# ------------------------------------------------------------------------- reading

def _plain(value: Any) -> Any:
    if isinstance(value, Branch):
        return {k: _plain(v) for k, v in value if not isinstance(k, Comment)}
    if isinstance(value, list):
        return [_plain(v) for v in value if not isinstance(v, Comment)]
    return value


def _as_str(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Timestamp):
        # An unquoted YAML timestamp: yaml.v3 makes it a time.Time, which sops's metadata
        # decoder cannot put in a string field (the real sops refuses the file, exit 1).
        raise InputError(f"sops metadata field '{name}' is a YAML timestamp, not a string",
                         where="sops metadata", hint="sops writes it quoted")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    raise InputError(f"sops metadata field '{name}' is not a string", where="sops metadata")


def _as_int(value: Any, name: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise InputError(f"sops metadata field '{name}' is not a number", where="sops metadata") from None


def _as_bool(value: Any, name: str) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    try:
        return parse_bool(str(value))
    except ValueError:
        raise InputError(f"sops metadata field '{name}' is not a boolean", where="sops metadata") from None


def _as_list(value: Any, name: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and not value:
        return []
    raise InputError(f"sops metadata field '{name}' is not a list", where="sops metadata")


def _stanzas(kind: str, entries: Any) -> list[Stanza]:
    result = []
    for entry in _as_list(entries, kind):
        if not isinstance(entry, dict):
            raise InputError(f"sops metadata: a '{kind}' entry is not a mapping", where="sops metadata")
        data: dict[str, Any] = {}
        for key, value in entry.items():
            if key == "context" and isinstance(value, dict):
                data[key] = {str(k): _as_str(v, "context") for k, v in value.items()}
            else:
                data[key] = _as_str(value, f"{kind}.{key}")
        if kind != "age" and "created_at" in data and data["created_at"]:
            try:
                parse_rfc3339(data["created_at"])
            except ValueError:
                raise InputError(f"sops metadata: {kind} created_at {data['created_at']!r} is not RFC 3339",
                                 where="sops metadata") from None
        result.append(Stanza(kind, data))
    return result


def _group(source: dict[str, Any]) -> list[Stanza]:
    group: list[Stanza] = []
    for kind in STANZA_KINDS:
        group.extend(_stanzas(kind, source.get(kind)))
    return group


def metadata_from_tree(value: Any) -> Metadata:
    """Build `Metadata` from the `sops` value of a document (a Branch or a plain dict)."""
    raw = _plain(value)
    if not isinstance(raw, dict):
        raise InputError("Found sops entry that is not a mapping", where="sops metadata")
    md = Metadata(order=list(raw.keys()))
    lastmodified = _as_str(raw.get("lastmodified"), "lastmodified")
    try:
        parse_rfc3339(lastmodified)
    except ValueError:
        raise InputError(f"parsing time {lastmodified!r} as RFC3339 failed", where="sops metadata lastmodified",
                         hint="the sops metadata is corrupt") from None
    md.lastmodified = lastmodified
    md.mac = _as_str(raw.get("mac"), "mac")
    md.version = _as_str(raw.get("version"), "version")
    md.shamir_threshold = _as_int(raw.get("shamir_threshold"), "shamir_threshold")
    md.mac_only_encrypted = _as_bool(raw.get("mac_only_encrypted"), "mac_only_encrypted")
    md.rules = SelectionRules(**{f: _as_str(raw.get(f), f) for f in RULE_FIELDS})
    md.rules.validate(where="sops metadata")
    top = _group(raw)
    if top:
        md.key_groups = [top]
    else:
        groups = _as_list(raw.get("key_groups"), "key_groups")
        for g in groups:
            if not isinstance(g, dict):
                raise InputError("sops metadata: a key group is not a mapping", where="sops metadata")
            md.key_groups.append(_group(g))
            md.group_key_order.append(list(g.keys()))
    if not md.key_groups:
        raise InputError("No keys found in file", where="sops metadata", reason=Reason.NO_METADATA)
    return md


# ------------------------------------------------------------------------- writing

def _stanza_dict(stanza: Stanza, layout: str) -> dict[str, Any]:
    fields = STANZA_FIELDS.get(stanza.kind)
    data = dict(stanza.data)
    if fields is None:
        return dict(sorted(data.items())) if layout == "3.13" else data
    omit = _OMITEMPTY_FIELDS.get(stanza.kind, ())
    out: dict[str, Any] = {}
    for name in fields:
        value = data.pop(name, "")
        if name in omit and not value:
            continue
        if name == "context" and isinstance(value, dict) and layout == "3.13":
            value = dict(sorted(value.items()))
        out[name] = value
    out.update(data)  # fields we do not know are kept
    if layout == "3.13":
        out = dict(sorted(out.items()))
    return out


def _by_kind(group: list[Stanza], layout: str) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for stanza in group:
        result.setdefault(stanza.kind, []).append(_stanza_dict(stanza, layout))
    return result


def _reorder(d: dict[str, Any], original: list[str]) -> dict[str, Any]:
    if not original:
        return d
    rank = {k: i for i, k in enumerate(original)}
    known = [k for k in d if k in rank]
    known.sort(key=rank.__getitem__)
    # New keys go where the layout would put them relative to their neighbours: append.
    return {k: d[k] for k in known + [k for k in d if k not in rank]}


def metadata_to_dict(md: Metadata, layout: str = "3.13", keep_order: bool = True) -> dict[str, Any]:
    """The metadata block as plain data, in the key order the layout (or the file) uses."""
    out: dict[str, Any] = {}
    if len(md.key_groups) == 1:
        out.update(_by_kind(md.key_groups[0], layout))
    else:
        groups = []
        for i, group in enumerate(md.key_groups):
            by_kind = _by_kind(group, layout)
            g: dict[str, Any] = {}
            for kind in _GROUP_STRUCT_ORDER:
                if kind in by_kind:
                    g[kind] = by_kind[kind]
                elif kind in _GROUP_ALWAYS:
                    g[kind] = []
            for kind, entries in by_kind.items():
                g.setdefault(kind, entries)
            if layout == "3.13":
                g = dict(sorted(g.items()))
            if keep_order and i < len(md.group_key_order):
                g = _reorder(g, md.group_key_order[i])
            groups.append(g)
        out["key_groups"] = groups
        out["shamir_threshold"] = md.shamir_threshold
    if md.shamir_threshold and "shamir_threshold" not in out:
        out["shamir_threshold"] = md.shamir_threshold
    out["lastmodified"] = md.lastmodified
    out["mac"] = md.mac
    for name in RULE_FIELDS:
        value = getattr(md.rules, name)
        if value:
            out[name] = value
    if md.mac_only_encrypted:
        out["mac_only_encrypted"] = True
    out["version"] = md.version
    if layout == "3.13":
        out = dict(sorted(out.items()))
    else:
        out = {k: out[k] for k in _TOP_STRUCT_ORDER if k in out} | {k: v for k, v in out.items()
                                                                    if k not in _TOP_STRUCT_ORDER}
    if keep_order:
        out = _reorder(out, md.order)
    return out


def metadata_to_branch(md: Metadata, layout: str = "3.13", keep_order: bool = True) -> Branch:
    return _to_branch(metadata_to_dict(md, layout, keep_order))


def _to_branch(value: Any) -> Any:
    if isinstance(value, dict):
        return Branch((k, _to_branch(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_to_branch(v) for v in value]
    return value


# ------------------------------------------------------------- flat forms (dotenv, INI)

MAP_SEP = "__map_"
LIST_SEP = "__list_"


def flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """sops `flattenTreeBranch`: `a__map_b`, `a__list_0` keys; empty lists vanish."""
    out: list[tuple[str, Any]] = []

    def descend(v: Any, key: str) -> None:
        if isinstance(v, dict):
            for k, sub in v.items():
                descend(sub, key + MAP_SEP + k)
        elif isinstance(v, list):
            for i, sub in enumerate(v):
                descend(sub, f"{key}{LIST_SEP}{i}")
        else:
            out.append((key, v))

    for k, v in value.items():
        descend(v, prefix + k)
    return out


def _tokenize(key: str) -> list[tuple[str, str | int]]:
    tokens: list[tuple[str, str | int]] = []
    state, start, i = "normal", 0, 0

    def finish(end: int) -> None:
        if state == "normal":
            tokens.append(("map", key[start:end]))
        elif state == "map":
            tokens.append(("map", key[start + len(MAP_SEP):end]))
        else:
            text = key[start + len(LIST_SEP):end]
            # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses.
            tokens.append(("list", int(text) if text.isascii() and text.isdigit() else 0))

    while i < len(key):
        if key.startswith(MAP_SEP, i):
            finish(i)
            state, start = "map", i
            i += len(MAP_SEP)
        elif key.startswith(LIST_SEP, i):
            finish(i)
            state, start = "list", i
            i += len(LIST_SEP)
        else:
            i += 1
    finish(i)
    return tokens


def unflatten(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """Inverse of `flatten` (sops `unflattenTreeBranch`)."""
    root: dict[Any, Any] = {}
    for key, value in items:
        tokens = _tokenize(key)
        node = root
        for n, (_, name) in enumerate(tokens):
            last = n == len(tokens) - 1
            if last:
                if name in node:
                    raise InputError(f"Error while unflattening {key!r}: Duplicate value", where="sops metadata")
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise InputError(f"Error while unflattening {key!r}: Type mismatch", where="sops metadata")
                node = child

    def convert(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if node and all(isinstance(k, int) for k in node):
            indices = sorted(node)
            if indices != list(range(len(indices))):
                raise InputError("Error while unflattening: Incomplete list", where="sops metadata")
            return [convert(node[i]) for i in indices]
        if any(isinstance(k, int) for k in node):
            raise InputError("Error while unflattening: Type mismatch", where="sops metadata")
        return {k: convert(v) for k, v in sorted(node.items())}

    result = convert(root)
    assert isinstance(result, dict)
    return result


def flat_value(value: Any) -> str:
    """A flattened metadata value as text (ints and bools as Go's %v prints them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
