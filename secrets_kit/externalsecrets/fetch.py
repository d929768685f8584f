"""Provider reads for one ExternalSecret: ESO's `getProviderSecretData` (externalsecret_controller_secret.go).

- `spec.dataFrom[]` in order, later keys overwriting earlier ones: `extract` → `get_secret_map`, `find` →
  `get_all_secrets`; then rewrite, ConvertKeys (only without rewrite), ValidateKeys, decoding, null bytes.
- then `spec.data[]` in order, each `get_secret` + decoding, overwriting dataFrom's keys.
- a `NoSecretError` with deletionPolicy Delete or Merge skips the entry and records a Normal
  `MissingProviderSecret` event; with Retain it is an error like any other.
- any error stops the fetch: `FetchError` (a ProviderError) whose message is ESO's wrapped error text
  (what its Warning `UpdateFailed` event says), naming entries and keys, never values.
Identical reads within one fetch are made once (the StoreClient also coalesces across ExternalSecrets).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProviderError, SecretsKitError
from .keys import (
    Transform,
    check_null_bytes,
    convert_keys,
    decode_map,
    decode_one,
    rewrite_map,
    validate_keys,
)
from .refs import FindRef, NoSecretError, RemoteRef, StoreClient
from .spec import DataFromItem, DataItem, ExternalSecret, StoreRef
from .status import Event

REASON_MISSING_PROVIDER_SECRET = "MissingProviderSecret"
EVENT_MISSING = "secret does not exist at provider using spec.dataFrom[{i}]"
# ESO's own text for data[] entries also says "dataFrom" (eventMissingProviderSecretKey); kept as it is.
EVENT_MISSING_KEY = "secret does not exist at provider using spec.dataFrom[{i}] (key={key})"


FetchEvent = Event


@dataclass
class Fetched:
    """The provider data (keys → bytes) and the events the fetch produced."""

    data: dict[str, bytes]
    events: list[FetchEvent] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "spec.dataFrom[0]", "spec.data[2]": skipped NotFounds


class FetchError(ProviderError):
    """The fetch failed: the ExternalSecret gets Ready=False SecretSyncedError, the Secret is left alone."""

    def __init__(self, message: str, *, where: str | None = None, not_found: bool = False) -> None:
        super().__init__(message, where=where)
        self.not_found = not_found


ClientFor = Callable[[StoreRef | None], Awaitable[StoreClient]]


class _Reader:
    """One fetch's clients and reads, de-duplicated."""

    def __init__(self, client_for: ClientFor) -> None:
        self._client_for = client_for
        self._clients: dict[StoreRef | None, StoreClient] = {}
        self._reads: dict[tuple[Any, ...], Any] = {}

    async def client(self, ref: StoreRef | None) -> StoreClient:
        if ref not in self._clients:
            self._clients[ref] = await self._client_for(ref)
        return self._clients[ref]

    async def _once(self, key: tuple[Any, ...], call: Callable[[], Awaitable[Any]]) -> Any:
        if key in self._reads:
            got = self._reads[key]
            if isinstance(got, BaseException):
                raise got
            return got
        try:
            got = await call()
        except NoSecretError as err:
            self._reads[key] = err
            raise
        self._reads[key] = got
        return got

    async def get_secret(self, store: StoreRef | None, ref: RemoteRef) -> bytes:
        client = await self.client(store)
        value: bytes = await self._once(("get", store, ref), lambda: client.get_secret(ref))
        return value

    async def get_secret_map(self, store: StoreRef | None, ref: RemoteRef) -> dict[str, bytes]:
        client = await self.client(store)
        value: dict[str, bytes] = await self._once(("map", store, ref), lambda: client.get_secret_map(ref))
        return dict(value)

    async def get_all_secrets(self, store: StoreRef | None, find: FindRef) -> dict[str, bytes]:
        client = await self.client(store)
        key = ("find", store, find.read_key(), find.conversion_strategy, find.decoding_strategy)
        value: dict[str, bytes] = await self._once(key, lambda: client.get_all_secrets(find))
        return dict(value)


def _message(err: BaseException) -> str:
    if isinstance(err, SecretsKitError):
        return str(err)
    return f"{type(err).__name__}"  # a foreign exception's text could carry anything: name its type only


async def _data_from(reader: _Reader, es: ExternalSecret, item: DataFromItem, i: int,
                     transform: Transform | None) -> dict[str, bytes]:
    store = item.store_ref or es.store_ref
    if item.find is not None:
        what = "find"
        await reader.client(store)  # a store error is not wrapped in "error getting all secrets"
        try:
            got = await reader.get_all_secrets(store, item.find)
        except NoSecretError:
            raise
        except SecretsKitError as err:
            raise FetchError(f"error processing spec.dataFrom[{i}].find, err: error getting all secrets: "
                             f"{_message(err)}", where=es.where) from None
        conversion, decoding, nulls = item.find.conversion_strategy, item.find.decoding_strategy, "Ignore"
    elif item.extract is not None:
        what = "extract"
        got = await reader.get_secret_map(store, item.extract)
        conversion, decoding = item.extract.conversion_strategy, item.extract.decoding_strategy
        nulls = item.extract.null_bytes_policy
    elif item.generator_ref is not None:
        raise FetchError(f"error processing spec.dataFrom[{i}].sourceRef.generatorRef, err: generators are not "
                         "supported by this controller", where=es.where)
    else:
        return {}
    try:
        out = rewrite_map(item.rewrite, got, transform=transform)
        if not item.rewrite:
            out = convert_keys(conversion, out)
        out = validate_keys(out)
        out = decode_map(decoding, out)
        check_null_bytes(nulls, out)
    except SecretsKitError as err:
        raise FetchError(f"error processing spec.dataFrom[{i}].{what}, err: {_message(err)}",
                         where=es.where) from None
    return out


async def _data(reader: _Reader, es: ExternalSecret, item: DataItem) -> bytes:
    if item.generator_ref is not None and item.store_ref is None:
        raise ProviderError("generatorRef is not implemented in spec.data[]")
    value = await reader.get_secret(item.store_ref or es.store_ref, item.remote_ref)
    value = decode_one(item.remote_ref.decoding_strategy, value)
    check_null_bytes(item.remote_ref.null_bytes_policy, {item.secret_key: value})
    return value


async def fetch(es: ExternalSecret, client_for: ClientFor, *, transform: Transform | None = None) -> Fetched:
    """All provider data of `es`, ESO's way; raises FetchError (never with a value in it).

    `client_for(store_ref)` gives the StoreClient of the store an entry reads from (the entry's
    sourceRef.storeRef, else spec.secretStoreRef; None if neither is set). `transform` replaces the template
    module's rewrite renderer (tests)."""
    reader = _Reader(client_for)
    out = Fetched(data={})
    tolerate_missing = es.target.deletion_policy != "Retain"
    for i, item in enumerate(es.data_from):
        try:
            got = await _data_from(reader, es, item, i, transform)
        except NoSecretError as err:
            if tolerate_missing:
                out.events.append(FetchEvent("Normal", REASON_MISSING_PROVIDER_SECRET, EVENT_MISSING.format(i=i)))
                out.missing.append(f"spec.dataFrom[{i}]")
                continue
            what = "find" if item.find is not None else "extract"
            extra = "error getting all secrets: " if item.find is not None else ""
            raise FetchError(f"error processing spec.dataFrom[{i}].{what}, err: {extra}{_message(err)}",
                             where=es.where, not_found=True) from None
        except FetchError:
            raise
        except Exception as err:
            what = "find" if item.find is not None else "extract"
            raise FetchError(f"error processing spec.dataFrom[{i}].{what}, err: {_message(err)}",
                             where=es.where) from None
        out.data.update(got)
    for i, entry in enumerate(es.data):
        try:
            out.data[entry.secret_key] = await _data(reader, es, entry)
        except NoSecretError as err:
            if tolerate_missing:
                out.events.append(FetchEvent("Normal", REASON_MISSING_PROVIDER_SECRET,
                                             EVENT_MISSING_KEY.format(i=i, key=entry.remote_ref.key)))
                out.missing.append(f"spec.data[{i}]")
                continue
            raise FetchError(f"error processing spec.data[{i}] (key: {entry.remote_ref.key}), err: {_message(err)}",
                             where=es.where, not_found=True) from None
        except Exception as err:
            raise FetchError(f"error processing spec.data[{i}] (key: {entry.remote_ref.key}), err: {_message(err)}",
                             where=es.where) from None
    return out
