"""Events posted behind the reconciles, as client-go's event broadcaster does: a bounded queue and a
few senders, so a worker never waits for an Event before its next object.

Why: an Event is as costly for the API server as the Secret write itself (it carries a TTL lease),
and at a first sync of 10,000 ExternalSecrets the reconciles' own writes should go first. When the
queue is full an Event is dropped and counted (client-go drops too), never a write of a Secret or a
status; at shut-down what is queued is posted for a few seconds more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..kube import KubeError
from .kube import WRITE_GUARD, NotOwner

log = logging.getLogger("secrets_kit_operator.external")


class EventSink:
    def __init__(self, kube: Any, *, maxsize: int = 20_000, senders: int = 8) -> None:
        self.kube, self.senders = kube, senders
        # (namespace, event, the recording reconcile's write guard: --shards, the shard still held?)
        self.queue: asyncio.Queue[tuple[str, dict[str, Any], Any]] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.posted = 0

    def record(self, namespace: str, body: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((namespace, body, WRITE_GUARD.get()))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event queue full: events dropped", extra={"fields": {"dropped": self.dropped}})

    async def _post(self, namespace: str, body: dict[str, Any], guard: Any) -> None:
        token = WRITE_GUARD.set(guard)
        try:
            await self.kube.post_event(namespace, body)
            self.posted += 1
        except NotOwner:
            pass  # the shard went to another replica meanwhile: its events are its own
        except KubeError as err:
            involved = body.get("involvedObject") or {}
            log.error("posting an event failed", extra={"fields": {
                "kind": involved.get("kind"), "object": f"{namespace}/{involved.get('name')}",
                "status": err.status}})
        except OSError as err:
            log.error("posting an event failed", extra={"fields": {"error": type(err).__name__}})
        finally:
            WRITE_GUARD.reset(token)

    async def _send(self) -> None:
        while True:
            namespace, body, guard = await self.queue.get()
            try:
                await self._post(namespace, body, guard)
            finally:
                self.queue.task_done()

    async def run(self) -> None:
        """The senders, until cancelled."""
        tasks = [asyncio.create_task(self._send()) for _ in range(self.senders)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, timeout: float = 5.0) -> None:
        """Post what is queued now, for at most `timeout` seconds (shut-down; tests)."""
        async def post_all() -> None:
            while not self.queue.empty():
                namespace, body, guard = self.queue.get_nowait()
                try:
                    await self._post(namespace, body, guard)
                finally:
                    self.queue.task_done()

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(post_all(), timeout)
