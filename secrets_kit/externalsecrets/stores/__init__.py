"""The stores an ExternalSecret reads from: one kept `StoreClient` per SecretStore/ClusterSecretStore.

- `PROVIDERS`: provider name (the one key of `spec.provider`) -> its module. A module has
  `check_spec(spec, ctx)` (ESO's ValidateStore), `is_referent(spec)` and
  `async new_client(spec, ctx) -> StoreClient`; AWS/GCP are one module and one line here.
- `StoreClients`: the cache. A client is keyed by the store's kind, namespace, name, uid and
  `metadata.generation` (plus, for a ClusterSecretStore with referent auth, the ExternalSecret's
  namespace); a new generation or uid replaces (and closes) the old client. Concurrent requests
  for one key build one client.
- `validate_store(...)` / `StoreClients.validate(store)`: ESO's store validation -> Validation
  (Valid; Unknown for a ClusterSecretStore using referent auth; Error with a message that never
  carries a value).
- `cluster_store_allows(store, namespace, labels)`: ClusterSecretStore `spec.conditions`;
  `denied_message(store, namespace)` is ESO's text for a refusal.

Namespace isolation (see `_context.StoreContext`): a SecretStore's refs are read in its own
namespace only; a ClusterSecretStore's refs in their namespace, else the ExternalSecret's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from ...errors import ProviderError, SecretsKitError
from ..refs import StoreClient, Validation
from . import aws, fake, gcp, vault
from ._context import CLUSTER_SECRET_STORE, SECRET_STORE, KubeReads, StoreContext

__all__ = ["CLUSTER_SECRET_STORE", "DENIED_BY_CONDITION", "PROVIDERS", "SECRET_STORE", "KubeReads",
           "StoreClients", "StoreContext", "cluster_store_allows", "denied_message", "provider_of",
           "store_context", "validate_store"]

PROVIDERS: dict[str, ModuleType] = {
    aws.NAME: aws,
    fake.NAME: fake,
    gcp.NAME: gcp,
    vault.NAME: vault,
}

DENIED_BY_CONDITION = "using cluster store %q is not allowed from namespace %q: denied by spec.condition"


def _meta(store: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = store.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _kind(store: Mapping[str, Any]) -> str:
    kind = store.get("kind") or SECRET_STORE
    if kind not in (SECRET_STORE, CLUSTER_SECRET_STORE):
        raise ProviderError(f"not a store kind: {kind!r}", where=str(_meta(store).get("name") or "store"))
    return str(kind)


def store_context(store: Mapping[str, Any], es_namespace: str, kube: KubeReads | None) -> StoreContext:
    kind = _kind(store)
    meta = _meta(store)
    namespace = "" if kind == CLUSTER_SECRET_STORE else str(meta.get("namespace") or "")
    es_ns = es_namespace if kind == CLUSTER_SECRET_STORE else namespace
    return StoreContext(kind=kind, name=str(meta.get("name") or ""), namespace=namespace, es_namespace=es_ns,
                        kube=kube)


def provider_of(store: Mapping[str, Any], where: str) -> tuple[str, ModuleType, Mapping[str, Any]]:
    """(name, module, provider spec) of `spec.provider`, which holds exactly one key."""
    spec = store.get("spec")
    provider = spec.get("provider") if isinstance(spec, Mapping) else None
    if not isinstance(provider, Mapping) or len(provider) != 1:
        raise ProviderError("spec.provider must hold exactly one provider", where=where)
    (name, body), = provider.items()
    module = PROVIDERS.get(name)
    if module is None:
        raise ProviderError(f"provider {name!r} is not supported", where=where,
                            hint="supported: " + ", ".join(sorted(PROVIDERS)))
    if not isinstance(body, Mapping):
        raise ProviderError(f"spec.provider.{name} must be an object", where=where)
    return name, module, body


def denied_message(store: Mapping[str, Any], namespace: str) -> str:
    name = str(_meta(store).get("name") or "")
    return DENIED_BY_CONDITION.replace("%q", vault.go_quote(name), 1).replace("%q", vault.go_quote(namespace), 1)


# ---------------------------------------------------------------------------- conditions

_NAME_LABEL = "kubernetes.io/metadata.name"


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str], where: str) -> bool:
    """metav1.LabelSelectorAsSelector(...).Matches(labels); an empty selector matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op in ("In", "NotIn"):
            if not values:
                raise ProviderError("failed to convert label selector into selector: values: Invalid value: "
                                    "for 'in', 'notin' operators, values set can't be empty", where=where)
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and key in labels and labels[key] in values:
                return False
        elif op in ("Exists", "DoesNotExist"):
            if values:
                raise ProviderError("failed to convert label selector into selector: values: Invalid value: "
                                    "values set must be empty for exists and does not exist", where=where)
            if (key in labels) != (op == "Exists"):
                return False
        else:
            raise ProviderError(f"failed to convert label selector into selector: {op!r} is not a valid "
                                "label selector operator", where=where)
    return True


def cluster_store_allows(store: Mapping[str, Any], namespace: str, namespace_labels: Mapping[str, str]) -> bool:
    """ClusterSecretStore `spec.conditions` (ORed): namespaceSelector, namespaces, namespaceRegexes.

    A SecretStore, or a ClusterSecretStore without conditions, allows every namespace.
    """
    if store.get("kind") != CLUSTER_SECRET_STORE:
        return True
    spec = store.get("spec") or {}
    conditions = spec.get("conditions") or []
    if not conditions:
        return True
    where = f"{CLUSTER_SECRET_STORE} {_meta(store).get('name') or ''}"
    for condition in conditions:
        selectors: list[Mapping[str, Any]] = []
        if condition.get("namespaceSelector") is not None:
            selectors.append(condition["namespaceSelector"])
        selectors.extend({"matchLabels": {_NAME_LABEL: n}} for n in condition.get("namespaces") or [])
        if any(_selector_matches(s, namespace_labels, where) for s in selectors):
            return True
        for pattern in condition.get("namespaceRegexes") or []:
            try:
                import re2

                if re2.search(pattern, namespace):
                    return True
            except re2.error:
                raise ProviderError(f"failed to compile regex {pattern}", where=where) from None
    return False


# ---------------------------------------------------------------------------- validation


def _check(store: Mapping[str, Any], ctx: StoreContext) -> tuple[ModuleType, Mapping[str, Any]]:
    _, module, body = provider_of(store, ctx.where)
    module.check_spec(body, ctx)
    return module, body


async def validate_store(store: dict[str, Any], kube: KubeReads | None = None) -> Validation:
    """ESO's store validation with a throwaway client (StoreClients.validate keeps the client)."""
    clients = StoreClients(kube)
    try:
        return await clients.validate(store)
    finally:
        await clients.close()


# ---------------------------------------------------------------------------- the cache


def _identity(store: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = _meta(store)
    kind = _kind(store)
    return (kind, "" if kind == CLUSTER_SECRET_STORE else str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class StoreClients:
    """One kept StoreClient per store (and per ExternalSecret namespace for referent auth)."""

    def __init__(self, kube: KubeReads | None = None, *, vault_cache_seconds: float = vault.CACHE_SECONDS,
                 on_call: vault.OnCall | None = None) -> None:
        self.kube = kube
        self.vault_cache_seconds = vault_cache_seconds
        self.on_call = on_call  # told of every provider HTTP request (Vault: logins included)
        # (kind, namespace, name, es_ns) -> ((uid, generation), the client being built or built)
        self._clients: dict[tuple[str, str, str, str], tuple[tuple[str, Any], asyncio.Future[StoreClient]]] = {}
        self.built = 0  # clients created (a test's view of reuse)

    async def client_for(self, store: dict[str, Any], es_namespace: str) -> StoreClient:
        ctx = store_context(store, es_namespace, self.kube)
        _, module, body = provider_of(store, ctx.where)
        referent = ctx.cluster and module.is_referent(body)
        kind, ns, name = _identity(store)
        slot = (kind, ns, name, es_namespace if referent else "")
        meta = _meta(store)
        version = (str(meta.get("uid") or ""), meta.get("generation"))
        held = self._clients.get(slot)
        if held is not None:
            if held[0] == version:
                return await asyncio.shield(held[1])
            del self._clients[slot]
            await self._close_future(held[1])
        if ctx.cluster and not referent:
            ctx = dataclasses.replace(ctx, es_namespace="")  # one client for every namespace: no fallback
        module.check_spec(body, ctx)  # once per store version: a kept client's spec was checked when built
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoreClient] = loop.create_future()
        self._clients[slot] = (version, future)
        try:
            client = await self._build(module, body, ctx)
        except BaseException as exc:
            if self._clients.get(slot, (None, None))[1] is future:
                del self._clients[slot]
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved: other waiters see it, nobody logs "never retrieved"
            else:
                future.cancel()
            raise
        future.set_result(client)
        self.built += 1
        return client

    async def _build(self, module: ModuleType, body: Mapping[str, Any], ctx: StoreContext) -> StoreClient:
        if module is vault:
            return await vault.new_client(body, ctx, cache_seconds=self.vault_cache_seconds,
                                          on_call=self.on_call)
        if module is aws or module is gcp:
            return await module.new_client(body, ctx, cache_seconds=self.vault_cache_seconds, on_call=self.on_call)
        client: StoreClient = await module.new_client(body, ctx)
        return client

    async def validate(self, store: dict[str, Any]) -> Validation:
        """Valid | Unknown (ClusterSecretStore with referent auth) | Error(message without values)."""
        try:
            ctx = store_context(store, "", self.kube)
            module, body = _check(store, ctx)
            if ctx.cluster and module.is_referent(body):
                return Validation("Unknown")
            client = await self.client_for(store, "")
            return await client.validate()
        except SecretsKitError as exc:
            return Validation("Error", str(exc))

    async def forget(self, store: Mapping[str, Any]) -> None:
        """Close every client of a deleted store."""
        kind, ns, name = _identity(store)
        for slot in [s for s in self._clients if s[:3] == (kind, ns, name)]:
            _, future = self._clients.pop(slot)
            await self._close_future(future)

    async def close(self) -> None:
        held = list(self._clients.values())
        self._clients.clear()
        for _, future in held:
            await self._close_future(future)

    @staticmethod
    async def _close_future(future: asyncio.Future[StoreClient]) -> None:
        with contextlib.suppress(Exception):
            client = await asyncio.shield(future)
            await client.close()
