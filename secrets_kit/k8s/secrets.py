"""`v1/Secret` helpers: check the kind, read its items as bytes, build one, order its fields.

Item values are bytes: `data` is base64-decoded (Go's decoder, which skips CR and LF),
`stringData` is UTF-8 encoded and wins over `data` for the same key, as in the API
server. Errors name the item, never its value.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ..errors import InputError
from .manifests import Manifest

# ObjectMeta in Go field order: kubectl and kubeseal print JSON in this order.
OBJECT_META_ORDER = (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields",
)
SECRET_ORDER = ("kind", "apiVersion", "metadata", "immutable", "data", "stringData", "type")


def ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """The mapping with known keys in `order` first, then the rest sorted."""
    out = {key: mapping[key] for key in order if key in mapping}
    for key in sorted(mapping):
        if key not in out:
            out[key] = mapping[key]
    return out


def ordered_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out = ordered(meta, OBJECT_META_ORDER)
    for key in ("labels", "annotations"):
        if isinstance(out.get(key), dict):
            out[key] = dict(sorted(out[key].items()))
    return out


def b64decode_go(text: str) -> bytes:
    """Go's base64.StdEncoding: standard alphabet, padding required, CR and LF ignored."""
    cleaned = text.replace("\r", "").replace("\n", "")
    return base64.b64decode(cleaned, validate=True)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def metadata(doc: Manifest, where: str) -> dict[str, Any]:
    meta = doc.get("metadata")
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InputError("metadata is not a mapping", where=where)
    return meta


def scalar_text(value: Any) -> str | None:
    """A YAML scalar as the string Kubernetes' decoder makes of it for a string field; None if not a scalar."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() and abs(value) < 1e21 else repr(value)
    return None


def string_map(value: Any, field: str, where: str) -> dict[str, str]:
    """A map of strings (labels, annotations, stringData). Unquoted numbers and booleans become their
    text, as with kubectl and kubeseal; a nested list or mapping names the offending key."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{field} is not a mapping", where=where)
    out: dict[str, str] = {}
    for key, item in value.items():
        text = scalar_text(item)
        if text is None:
            kind = "list" if isinstance(item, list) else "mapping" if isinstance(item, dict) else type(item).__name__
            raise InputError(f"{field}.{key} is a {kind}, not a string", where=where)
        out[str(key)] = text
    return out


def require_secret(doc: Manifest, where: str) -> None:
    """Refuse anything but a `v1/Secret` (a missing kind or apiVersion is tolerated, as kubeseal does)."""
    kind = doc.get("kind")
    api = doc.get("apiVersion")
    if kind not in (None, "Secret") or api not in (None, "v1"):
        raise InputError(f"expected a v1 Secret, found {api or '<no apiVersion>'} {kind or '<no kind>'}",
                         where=where)


def secret_items(doc: Manifest, where: str) -> dict[str, bytes]:
    """The Secret's items as bytes: `data` decoded, then `stringData` over it."""
    items: dict[str, bytes] = {}
    data = doc.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise InputError("data is not a mapping", where=where)
        for key, value in data.items():
            if value is None:
                items[str(key)] = b""
                continue
            if not isinstance(value, str):
                raise InputError(f"data.{key} is not a base64 string", where=where)
            try:
                items[str(key)] = b64decode_go(value)
            except (binascii.Error, ValueError):
                raise InputError(f"data.{key} is not valid base64", where=where,
                                 hint="put plain text under stringData instead") from None
    for key, value in string_map(doc.get("stringData"), "stringData", where).items():
        items[str(key)] = value.encode("utf-8")
    return items


def build_secret(*, name: str, namespace: str | None, items: dict[str, bytes],
                 meta: dict[str, Any] | None = None, secret_type: str | None = None,
                 immutable: bool | None = None) -> Manifest:
    """A `v1/Secret` manifest in kubectl's field order, data base64-encoded and sorted."""
    m = dict(meta or {})
    m["name"] = name
    if namespace:
        m["namespace"] = namespace
    else:
        m.pop("namespace", None)
    doc: Manifest = {"kind": "Secret", "apiVersion": "v1", "metadata": ordered_meta(m)}
    if immutable is not None:
        doc["immutable"] = immutable
    doc["data"] = {key: b64encode(items[key]) for key in sorted(items)}
    if secret_type:
        doc["type"] = secret_type
    return doc
