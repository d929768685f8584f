"""A bounded, de-duplicating work queue of object keys, like client-go's workqueue.

A key added while it waits is not added twice; a key added while a worker holds it is
processed once more after that worker is done (never by two workers at once). Retries
come back after an exponential delay, at most `max_retries` times.

Two lanes: a key put `urgent` (an object never synced, a Secret gone) is handed out before every
routine one (a periodic refresh), so thousands of due refreshes never delay a first sync (ESO #4180).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, maxsize: int = 10_000, *, base_delay: float = 0.005, max_delay: float = 60.0) -> None:
        self.maxsize = maxsize
        self._waiting: dict[K, None] = {}  # insertion-ordered set: routine keys
        self._urgent: dict[K, None] = {}  # handed out first
        self._active: set[K] = set()
        self._again: dict[K, bool] = {}  # key → put again urgent
        self._failures: dict[K, int] = {}
        self._base, self._max = base_delay, max_delay
        self._ready = asyncio.Condition()
        self._room = asyncio.Condition()
        self._closed = False
        self.adds = 0  # keys offered
        self.taken = 0  # keys handed to workers (≤ adds: duplicates collapse)

    def __len__(self) -> int:
        return len(self._waiting) + len(self._urgent)

    def __contains__(self, key: object) -> bool:  # waiting (either lane), not held by a worker
        return key in self._waiting or key in self._urgent

    async def put(self, key: K, *, urgent: bool = False) -> None:
        """Queue key (once; an urgent put moves a waiting routine key ahead); wait while the queue is full."""
        self.adds += 1
        if key in self._urgent:
            return
        if key in self._waiting:
            if urgent:
                del self._waiting[key]
                self._urgent[key] = None
            return
        if key in self._active:
            self._again[key] = self._again.get(key, False) or urgent
            return
        async with self._room:
            await self._room.wait_for(lambda: len(self) < self.maxsize or self._closed)
        if self._closed or key in self._waiting or key in self._urgent:
            return
        (self._urgent if urgent else self._waiting)[key] = None
        async with self._ready:
            self._ready.notify()

    async def get(self) -> K | None:
        """The next key, or None once the queue is closed."""
        async with self._ready:
            await self._ready.wait_for(lambda: bool(self._waiting or self._urgent) or self._closed)
            if self._closed:
                return None
            lane = self._urgent or self._waiting
            key = next(iter(lane))
            del lane[key]
            self._active.add(key)
        self.taken += 1
        async with self._room:
            self._room.notify()
        return key

    async def done(self, key: K) -> None:
        self._active.discard(key)
        if key in self._again:
            await self.put(key, urgent=self._again.pop(key))

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def retry_later(self, key: K) -> float:
        """Queue key again after an exponential delay; returns the delay."""
        count = self._failures.get(key, 0)
        self._failures[key] = count + 1
        delay = min(self._base * (2 ** count), self._max)
        loop = asyncio.get_running_loop()
        loop.call_later(delay, lambda: loop.create_task(self.put(key)) if not self._closed else None)
        return delay

    async def close(self) -> None:
        self._closed = True
        async with self._ready:
            self._ready.notify_all()
        async with self._room:
            self._room.notify_all()

    def idle(self) -> bool:
        return not self._waiting and not self._urgent and not self._active
