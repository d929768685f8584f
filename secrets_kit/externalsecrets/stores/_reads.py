"""Provider reads shared across reconciles: single-flight, then answered again from memory for a short
window (the provider read window). A read still in flight is always joined; a landed one serves only a
reconcile that accepts its age (refs.READ_MAX_AGE: 0 for a force-sync or a retry after a failure).
Failures are shared by those waiting for them but never kept."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from ..refs import READ_MAX_AGE

_MAX_KEPT = 4096


class _Flight:
    __slots__ = ("expires", "future", "landed_at")

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future
        self.expires = math.inf
        self.landed_at = math.inf

    def serves(self, now: float) -> bool:
        if not self.future.done():
            return True
        max_age = READ_MAX_AGE.get()
        return self.expires > now and (max_age is None or now - self.landed_at <= max_age)


class SharedReads:
    def __init__(self, window: float) -> None:
        self.window = window
        self._flights: dict[Hashable, _Flight] = {}
        self.reads = 0  # reads sent to the provider (after sharing)

    def joinable(self, key: Hashable) -> asyncio.Future[Any] | None:
        """The read this reconcile may share, if any."""
        flight = self._flights.get(key)
        if flight is not None and flight.serves(asyncio.get_running_loop().time()):
            return flight.future
        return None

    async def read(self, key: Hashable, start: Callable[[], Awaitable[Any]]) -> Any:
        """The shared answer for `key`, or a new read made with `start()`."""
        joined = self.joinable(key)
        if joined is not None:
            return await asyncio.shield(joined)
        loop = asyncio.get_running_loop()
        if len(self._flights) > _MAX_KEPT:
            now = loop.time()
            for k in [k for k, f in self._flights.items() if f.future.done() and f.expires <= now]:
                del self._flights[k]
        self.reads += 1
        future = asyncio.ensure_future(start())
        flight = _Flight(future)
        self._flights[key] = flight

        def landed(f: asyncio.Future[Any]) -> None:
            if f.cancelled() or f.exception() is not None:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            else:
                flight.landed_at = loop.time()
                flight.expires = flight.landed_at + self.window

        future.add_done_callback(landed)
        return await asyncio.shield(future)
