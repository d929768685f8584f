"""ESO's hashes, byte for byte: `utils.ObjectHash` is hex(sha3-224(fmt.Sprintf("%+v", object))).

Go's `%+v` of the three things ESO hashes (pkg/utils/utils.go, pkg/controllers/util/util.go, v0.16.2):
- `map[string][]byte` (a Secret's data, for the `data-hash` annotation): `map[k1:[1 2 3] k2:[]]` — keys
  sorted bytewise (fmt sorts map keys), each value as its bytes in decimal, space separated; nil and empty
  maps are both `map[]`, nil and empty values both `[]`;
- a string (`"<ns>/<name>"`, for the `created-by` label): the string itself;
- the unexported struct `meta{annotations, labels map[string]string}` (for syncedResourceVersion):
  `{annotations:map[a:1 b:2] labels:map[]}` — string values printed raw, no quoting or escaping.
The expected digests in the tests come from a Go program (tests/externalsecrets/core/go_hashes/).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

FIELD_OWNER_PREFIX = "externalsecrets.external-secrets.io/"


def _go_sorted(keys: Any) -> list[str]:
    # Go sorts string keys by their UTF-8 bytes; for valid text that is code point order.
    return sorted(keys, key=lambda k: k.encode("utf-8", "surrogatepass"))


def go_bytes_map(data: Mapping[str, bytes] | None) -> str:
    """fmt.Sprintf("%+v", map[string][]byte)."""
    items = data or {}
    parts = []
    for key in _go_sorted(items):
        value = items[key] or b""
        parts.append(f"{key}:[{' '.join(str(b) for b in bytes(value))}]")
    return f"map[{' '.join(parts)}]"


def go_string_map(data: Mapping[str, str] | None) -> str:
    """fmt.Sprintf("%+v", map[string]string)."""
    items = data or {}
    return "map[" + " ".join(f"{key}:{items[key]}" for key in _go_sorted(items)) + "]"


def sha3_224_hex(text: str) -> str:
    return hashlib.sha3_224(text.encode("utf-8", "surrogatepass")).hexdigest()


def object_hash(data: Mapping[str, bytes] | None) -> str:
    """The `reconcile.external-secrets.io/data-hash` of a Secret's data."""
    return sha3_224_hex(go_bytes_map(data))


def string_hash(text: str) -> str:
    """ObjectHash of a Go string."""
    return sha3_224_hex(text)


def created_by(namespace: str, name: str) -> str:
    """The `reconcile.external-secrets.io/created-by` label value (creationPolicy Owner)."""
    return string_hash(f"{namespace}/{name}")


def hash_meta(labels: Mapping[str, str] | None, annotations: Mapping[str, str] | None) -> str:
    """pkg/controllers/util.HashMeta: ObjectHash(meta{annotations, labels})."""
    return sha3_224_hex(f"{{annotations:{go_string_map(annotations)} labels:{go_string_map(labels)}}}")


def synced_resource_version(meta: Mapping[str, Any]) -> str:
    """util.GetResourceVersion: "<metadata.generation>-<HashMeta>" (generation 0 when unset)."""
    generation = meta.get("generation") or 0
    return f"{int(generation)}-{hash_meta(meta.get('labels'), meta.get('annotations'))}"


def field_manager(es_name: str) -> str:
    """The field manager ESO v0.16.2 writes with (fieldOwnerTemplate): no shortening in this release."""
    return f"{FIELD_OWNER_PREFIX}{es_name}"
