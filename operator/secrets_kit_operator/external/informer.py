"""One LIST+WATCH of a collection, held in memory by (namespace, name): client-go's informer, small.

Why not kopf's watches: kopf runs a worker task per object and dispatches every event through its
handler machinery — a third of the event loop's CPU at 1,000 ExternalSecrets (bench/RESULTS.md), and
every status write of ours comes back as such an event. Here an event costs a dict update and one
callback. The listing is paged (500 a page: 10,000 ExternalSecrets are not one 20 MB answer); a watch
that expires (410 Gone) or breaks is followed by a relist that reports what changed meanwhile;
`synced` is clear from the break until that relist is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from ..kube import KubeError

log = logging.getLogger("secrets_kit_operator.external")
Key = tuple[str, str]
Changed = Callable[[Key, "dict[str, Any] | None"], Awaitable[None]]
PAGE = 500


def compact(value: Any) -> Any:
    """The same object with its keys and short strings interned: JSON decoding gives every object its own
    copy of "metadata", "external-secrets.io/v1", "SecretSynced", a namespace's name...; shared, 10,000
    ExternalSecrets and their Secrets hold ~60 MiB less (bench/RESULTS.md)."""
    if isinstance(value, dict):
        return {sys.intern(k): compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, str) and len(value) <= 64:
        return sys.intern(value)
    return value


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _version(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")


class Informer:
    """`items` by (namespace, name) — "" for cluster-scoped objects —, each passed through `transform`
    on arrival; `on_change(key, obj_or_None)` for every change (the first listing included when
    `report_initial`). `put` records an object we just wrote, so the next reconcile need not wait
    for the watch; a later event of that same resourceVersion is then not reported again."""

    def __init__(self, kube: Any, path: str, *, kind: str, on_change: Changed, selector: str | None = None,
                 transform: Callable[[dict[str, Any]], dict[str, Any]] = lambda obj: obj,
                 accept: Callable[[dict[str, Any]], bool] = lambda obj: True, report_initial: bool = False,
                 index: Callable[[dict[str, Any]], Hashable | None] | None = None) -> None:
        self.kube, self.path, self.kind, self.on_change = kube, path, kind, on_change
        self.selector, self.accept = selector, accept
        self.transform: Callable[[dict[str, Any]], dict[str, Any]] = lambda obj: compact(transform(obj))
        self.report_initial = report_initial
        self.items: dict[Key, dict[str, Any]] = {}
        # a secondary index (e.g. Secrets by their created-by label): index value → keys; kept with items
        self.index = index
        self.indexed: dict[Hashable, set[Key]] = {}
        self.synced = asyncio.Event()
        self.lists = 0

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((namespace, name))

    def lookup(self, value: Hashable) -> set[Key]:
        """Keys whose `index` value is `value`."""
        return set(self.indexed.get(value, ()))

    def put(self, obj: dict[str, Any]) -> None:
        if self.accept(obj):
            self._set(_key(obj), self.transform(obj))

    def drop(self, namespace: str, name: str) -> None:
        self._remove((namespace, name))

    def _set(self, key: Key, item: dict[str, Any]) -> None:
        self._remove(key)
        self.items[key] = item
        if self.index is not None and (value := self.index(item)) is not None:
            self.indexed.setdefault(value, set()).add(key)

    def _remove(self, key: Key) -> None:
        item = self.items.pop(key, None)
        if item is not None and self.index is not None and (value := self.index(item)) is not None:
            keys = self.indexed.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.indexed[value]

    def _query(self, **extra: str) -> dict[str, str]:
        return {**({"labelSelector": self.selector} if self.selector else {}), **extra}

    async def _list(self) -> str:
        fresh: dict[Key, dict[str, Any]] = {}
        token, version = "", ""
        while True:
            page = await self.kube.request("GET", self.path, kind=self.kind, query=self._query(
                limit=str(PAGE), **({"continue": token} if token else {})))
            for item in page.get("items") or []:
                fresh[_key(item)] = self.transform(item)
            meta = page.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            token = str(meta.get("continue") or "")
            if not token:
                break
        self.lists += 1
        old = self.items
        self.items, self.indexed = {}, {}
        for key, item in fresh.items():
            self._set(key, item)
        # a relist after a gap reports what changed meanwhile (`synced` is clear by then: count the lists)
        if self.lists > 1 or self.report_initial:
            for key in old.keys() - fresh.keys():
                await self.on_change(key, None)
            for key, item in fresh.items():
                if _version(old.get(key)) != _version(item):
                    await self.on_change(key, item)
        return version

    async def _watch(self, version: str, stop: asyncio.Event) -> None:
        """Follow the watch from `version` until it expires (410: return for a relist) or stop."""
        while not stop.is_set():
            query = self._query(watch="1", resourceVersion=version, allowWatchBookmarks="true",
                                timeoutSeconds="300")
            async for event in self.kube.watch_lines(self.path, query, timeout=330):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        return
                    raise KubeError("WATCH", self.path, int(obj.get("code") or 0), str(obj.get("reason") or ""),
                                    str(obj.get("message") or "")[:200])
                version = str(_version(obj) or version)
                if kind == "BOOKMARK":
                    continue
                key = _key(obj)
                if kind == "DELETED":
                    self._remove(key)
                    await self.on_change(key, None)
                    continue
                before = self.items.get(key)
                if _version(before) == version:
                    continue  # what we recorded with put(): our own write coming back
                item = self.transform(obj)
                self._set(key, item)
                await self.on_change(key, item)

    async def run(self, stop: asyncio.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            try:
                version = await self._list()
                self.synced.set()
                delay = 1.0
                await self._watch(version, stop)
                self.synced.clear()  # 410: what happened meanwhile is known only after the relist
            except asyncio.CancelledError:
                raise
            except Exception as err:  # API errors, disconnects, aiohttp's payload errors: relist
                # until the relist, `items` may be stale: reconciles wait (see the controller's work())
                self.synced.clear()
                log.warning("watch failed; relisting", extra={"fields": {
                    "kind": self.kind, "error": f"{type(err).__name__}: {str(err)[:200]}", "retry_in_s": delay}})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 30.0)
