"""Timers that put keys back on the work queue: refreshes (jittered, so ExternalSecrets created together do
not refresh together forever: ESO #4231) and error backoff (exponential with full jitter)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Hashable
from typing import Generic, TypeVar

from ..workqueue import WorkQueue

K = TypeVar("K", bound=Hashable)


class Scheduler(Generic[K]):
    """One pending timer per key: the earliest wins (a later request never postpones an earlier one)."""

    def __init__(self, queue: WorkQueue[K], *, rng: random.Random | None = None) -> None:
        self.queue = queue
        self.rng = rng or random.Random()
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._timers)

    def at(self, key: K, delay: float) -> float:
        """Queue key after `delay` seconds (≥ 0), unless it is already due sooner."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max(delay, 0.0)
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return pending[0] - loop.time()
            pending[1].cancel()
        handle = loop.call_at(when, self._fire, key)
        self._timers[key] = (when, handle)
        return delay

    def refresh(self, key: K, delay: float, *, jitter: float, jitter_max: float) -> float:
        """A periodic refresh: due in `delay`, pushed later by up to `jitter`·delay (≤ jitter_max) so
        refreshes spread out; never earlier than due (an early wake-up would only find it not due)."""
        spread = min(max(delay, 0.0) * jitter, jitter_max)
        return self.at(key, delay + self.rng.uniform(0.0, spread))

    def backoff(self, key: K, base: float, cap: float) -> float:
        """After a failure: full-jitter exponential backoff (base·2^n, capped), counted per key."""
        count = self._failures.get(key, 0)
        self._failures[key] = count + 1
        ceiling = min(base * (2 ** min(count, 30)), cap)
        return self.at(key, self.rng.uniform(ceiling / 2, ceiling))

    def succeeded(self, key: K) -> None:
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def cancel(self, key: K) -> None:
        pending = self._timers.pop(key, None)
        if pending is not None:
            pending[1].cancel()
        self._failures.pop(key, None)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        task = asyncio.get_running_loop().create_task(self.queue.put(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
