"""The controller's sealing keys at run time: loaded at start, kept current from watch events
(added, relabelled or deleted key Secrets take effect at once), the first one minted when none
exists, and renewed on --key-renew-period / --key-cutoff-time.

What a key Secret means (parsing, states, which is newest, when to renew) is the core's
(secrets_kit.sealed.controller_keys); this module only decides when to ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from secrets_kit.errors import KeyMaterialError
from secrets_kit.sealed import controller_keys as ck

from .kube import Kube, KubeError
from .options import Options

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
log = logging.getLogger("secrets_kit_operator.keys")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KeyState:
    def __init__(self, options: Options, kube: Kube) -> None:
        self.options, self.kube = options, kube
        self.secrets: dict[str, dict[str, Any]] = {}
        self.keys: list[Any] = []
        self.newest: Any = None
        self.keyring: Any = ck.decryption_keyring([])
        self.changed = asyncio.Event()
        self.loaded = False
        self.on_change: list[Callable[[], Any]] = []

    # -- which Secrets are key Secrets --------------------------------------------------------------

    def is_key_secret(self, body: dict[str, Any]) -> bool:
        meta = body.get("metadata") or {}
        if meta.get("namespace") != self.options.namespace:
            return False
        return KEY_LABEL in (meta.get("labels") or {}) or meta.get("name") == self.options.key_prefix \
            or meta.get("name") in self.secrets

    def observe(self, event_type: str | None, body: dict[str, Any]) -> None:
        """A watch event for a Secret in the key namespace: add, update or drop it."""
        meta = body.get("metadata") or {}
        name = str(meta.get("name"))
        labelled = KEY_LABEL in (meta.get("labels") or {}) or name == self.options.key_prefix
        if event_type == "DELETED" or not labelled:
            if self.secrets.pop(name, None) is not None:
                self._reload(f"key Secret {name} {'deleted' if event_type == 'DELETED' else 'unlabelled'}")
            return
        old = self.secrets.get(name)
        if old is not None and (old.get("metadata") or {}).get("resourceVersion") == meta.get("resourceVersion"):
            return
        self.secrets[name] = body
        self._reload(f"key Secret {name} {'added' if old is None else 'changed'}")

    def _reload(self, why: str) -> None:
        loaded = ck.load_key_secrets(list(self.secrets.values()), prefix=self.options.key_prefix)
        for problem in loaded.problems:
            log.error("key Secret not usable", extra={"fields": {
                "secret": f"{self.options.namespace}/{problem.secret_name}", "reason": problem.reason}})
        self.keys = list(loaded.keys)
        self.newest = ck.newest_key(self.keys, order=self.options.key_order_priority)
        self.keyring = ck.decryption_keyring(self.keys, self.keyring, order=self.options.key_order_priority)
        self.loaded = True
        log.info("keys loaded", extra={"fields": {
            "why": why, "keys": len(self.keys),
            "newest": getattr(self.newest, "fingerprint", "none"),
            "states": ",".join(sorted({str(k.state) for k in self.keys}))}})
        self.changed.set()
        for callback in self.on_change:
            callback()

    # -- start, first key, renewal ------------------------------------------------------------------

    async def bootstrap(self) -> None:
        """List the key Secrets (and the legacy `<prefix>` one); mint the first key if none may seal."""
        ns = self.options.namespace
        for body in await self.kube.list_secrets(ns, ck.KEY_SELECTOR):
            self.secrets[body["metadata"]["name"]] = body
        legacy = await self.kube.get_secret(ns, self.options.key_prefix)
        if legacy is not None:
            self.secrets[self.options.key_prefix] = legacy
        self._reload("start")
        if self.newest is None:
            if not self.options.generate_first_key:
                raise KeyMaterialError(
                    f"no active sealing key in namespace {ns} (label {KEY_LABEL}=active) and "
                    "--generate-key=false", hint="create the key Secret first, or allow the first key to be made")
            await self.create_key("no active key")

    async def create_key(self, why: str) -> None:
        o = self.options
        body = ck.new_key_secret(namespace=o.namespace, prefix=o.key_prefix, bits=o.key_size, ttl=o.key_ttl,
                                 common_name=o.my_cn, labels=dict(o.privatekey_labels),
                                 annotations=dict(o.privatekey_annotations), now=utcnow())
        created = await self.kube.create_secret(o.namespace, body)
        name = created["metadata"]["name"]
        self.secrets[name] = created
        self._reload(f"new key {name} ({why})")

    async def renew_forever(self) -> None:
        """Mint a key whenever the core says one is due; sleep until then or until the keys change."""
        o = self.options
        while True:
            due = ck.next_renewal(self.newest, period=o.key_renew_period, cutoff=o.key_cutoff_time, now=utcnow(),
                                  order=o.key_order_priority)
            self.changed.clear()
            if due is not None and due <= utcnow():
                try:
                    await self.create_key("renewal")
                except KubeError as err:
                    log.error("cannot write a new key; retrying in 30s", extra={"fields": {"error": str(err)}})
                    await asyncio.sleep(30)
                continue
            timeout = None if due is None else max((due - utcnow()).total_seconds(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout)
