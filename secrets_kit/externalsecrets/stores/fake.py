"""ESO's `fake` provider (pkg/provider/fake): `spec.provider.fake.data[] {key, value, version}`.

As ESO v0.16.2 does it:
- entries are indexed by key+version (the two strings concatenated, so `a`+`1` and `a1`+`` share a
  slot: the later entry wins); a read whose version differs from the slot's is NoSecretError;
- `property` is a gjson path into the value; a path that does not exist is NoSecretError;
- `extract` decodes the value as a JSON object: string (and null) members are unquoted, every other
  member is kept as its raw JSON text (json.RawMessage);
- `find` supports `name.regexp` only (RE2, unanchored), ignores `path`, and returns the latest
  version (by string comparison) of each matching key; tags alone are an error. The provider itself
  converts the found keys (utils.ConvertKeys with find.conversionStrategy) before returning them, so a
  rewrite sees `dir_a` for `dir/a` (Vault does not do this: there the rewrite sees `dir/a`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ProviderError
from ..keys import convert_key
from ..refs import FindRef, NoSecretError, RemoteRef, Validation
from . import _gojson
from ._context import StoreContext, compile_regexp

NAME = "fake"


@dataclass(frozen=True)
class _Entry:
    value: str
    version: str


def _entries(spec: Mapping[str, Any], where: str) -> dict[str, _Entry]:
    data = spec.get("data") or []
    if not isinstance(data, list):
        raise ProviderError("spec.provider.fake.data must be a list", where=where)
    out: dict[str, _Entry] = {}
    for pos, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ProviderError(f"spec.provider.fake.data[{pos}] must be an object", where=where)
        key, value, version = item.get("key") or "", item.get("value") or "", item.get("version") or ""
        if not all(isinstance(x, str) for x in (key, value, version)):
            raise ProviderError(f"spec.provider.fake.data[{pos}]: key, value and version must be strings",
                                where=where)
        out[key + version] = _Entry(value, version)
    return out


def check_spec(spec: Mapping[str, Any], ctx: StoreContext) -> None:
    """ESO's ValidateStore for the fake provider (the webhook's checks)."""
    data = spec.get("data") or []
    _entries(spec, ctx.where)
    for pos, item in enumerate(data):
        if not item.get("key"):
            raise ProviderError(f"key must be set in data {pos}", where=ctx.where)
        if not item.get("value"):
            raise ProviderError(f"at least one value must be set in data {pos}", where=ctx.where)


def is_referent(spec: Mapping[str, Any]) -> bool:
    return False


async def new_client(spec: Mapping[str, Any], ctx: StoreContext) -> FakeStoreClient:
    return FakeStoreClient(_entries(spec, ctx.where), where=ctx.where)


class FakeStoreClient:
    """A StoreClient over the store's own data; no I/O."""

    def __init__(self, entries: Mapping[str, _Entry], *, where: str = "fake store") -> None:
        self._entries = dict(entries)
        self.where = where

    def _entry(self, ref: RemoteRef) -> _Entry:
        entry = self._entries.get(ref.key + ref.version)
        if entry is None or entry.version != ref.version:
            raise NoSecretError("Secret does not exist", where=f"{self.where}: {ref.key}")
        return entry

    async def get_secret(self, ref: RemoteRef) -> bytes:
        entry = self._entry(ref)
        if not ref.property:
            return entry.value.encode()
        try:
            document = _gojson.parse(entry.value)
        except _gojson.JSONSyntaxError:
            document = None  # gjson on invalid JSON finds nothing
        found = None if document is None else _gojson.gjson_get(document, ref.property, raw=True)
        if found is None:
            raise NoSecretError("Secret does not exist", where=f"{self.where}: {ref.key} property {ref.property}")
        return found.encode()

    async def get_secret_map(self, ref: RemoteRef) -> dict[str, bytes]:
        data = await self.get_secret(ref)
        where = f"{self.where}: {ref.key}"
        try:
            document = _gojson.parse(data.decode("utf-8", "replace"))
        except _gojson.JSONSyntaxError as exc:
            raise ProviderError(f"unable to unmarshal secret: {exc}", where=where) from None
        if document is None:
            return {}  # Go: null decodes into a nil map
        if not isinstance(document, dict):
            raise ProviderError("unable to unmarshal secret: json: cannot unmarshal "
                                f"{_go_kind(document)} into Go value of type map[string]json.RawMessage",
                                where=where)
        out: dict[str, bytes] = {}
        for key, value in document.items():
            if value is None:
                out[key] = b""  # "null" unmarshals into a string without error, leaving it empty
            elif isinstance(value, str):
                out[key] = value.encode()
            else:
                out[key] = _gojson.marshal(value, raw=True).encode()
        return out

    async def get_all_secrets(self, find: FindRef) -> dict[str, bytes]:
        if not find.name_regexp:
            raise ProviderError("unsupported find operator: the fake provider finds by name only",
                                where=self.where)
        matcher = compile_regexp(find.name_regexp, where=self.where)
        latest: dict[str, str] = {}
        out: dict[str, bytes] = {}
        for slot, entry in self._entries.items():
            original = slot[: len(slot) - len(entry.version)] if entry.version else slot
            if not matcher.search(original):
                continue
            if original not in latest or latest[original] < entry.version:
                latest[original] = entry.version
                out[original] = entry.value.encode()
        converted: dict[str, bytes] = {}
        for key, value in out.items():
            new = convert_key(find.conversion_strategy, key)
            if new in converted:
                raise ProviderError(f"secret name collision during conversion: {new}", where=self.where)
            converted[new] = value
        return converted

    async def validate(self) -> Validation:
        return Validation("Valid")

    async def close(self) -> None:
        return None


def _go_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"
