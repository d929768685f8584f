"""The ExternalSecret controller's Kubernetes calls, on the shared adapter (one ApiClient, raw JSON):
status patches of the four external-secrets.io kinds, Secret writes under ESO's field manager, the
reads the stores need (credentials Secret keys, TokenRequest) behind a short cache, and the
label-filtered informer of the managed Secrets.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from ..kube import Kube, KubeError
from .informer import Informer

log = logging.getLogger("secrets_kit_operator.external")
ESO_API = "/apis/external-secrets.io/v1"
MANAGED_SELECTOR = "reconcile.external-secrets.io/managed=true"
# --shards: set by a worker for the object it reconciles; every write of what a reconcile owns (Secrets,
# events, external-secrets.io objects and statuses) asks it first, so a replica that lost the object's
# shard mid-reconcile writes nothing more
WRITE_GUARD: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar("WRITE_GUARD", default=None)
GUARDED_KINDS = frozenset({"Secret", "Event", "ExternalSecret", "SecretStore", "ClusterSecretStore",
                           "ClusterExternalSecret"})


class NotOwner(Exception):
    """A write refused: this replica no longer holds the object's shard."""
PLURALS = {"ExternalSecret": "externalsecrets", "SecretStore": "secretstores",
           "ClusterSecretStore": "clustersecretstores", "ClusterExternalSecret": "clusterexternalsecrets"}
Key = tuple[str, str]


class TokenBucket:
    """--client-qps / --client-burst: client-go's token bucket (qps <= 0: unlimited)."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps, self.burst = qps, max(burst, 1)
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        if self.qps <= 0:
            return
        async with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.qps)
            self.stamp = now
            if self.tokens < 1:
                wait = (1 - self.tokens) / self.qps
                await asyncio.sleep(wait)
                self.stamp = time.monotonic()
                self.tokens = 1.0
            self.tokens -= 1


class ExternalKube:
    """The calls the ExternalSecret controller makes, over the process's one `Kube`."""

    def __init__(self, kube: Kube, *, qps: float = 0.0, burst: int = 400, cache_ttl: float = 10.0) -> None:
        self.kube = kube
        self.bucket = TokenBucket(qps, burst)
        self.cache_ttl = cache_ttl
        self.calls: Counter[str] = Counter()  # "<VERB> <kind>" → count (tests, bench)
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._inflight: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    async def request(self, method: str, path: str, body: Any = None, *, kind: str,
                      query: dict[str, str] | None = None, content_type: str = "application/json") -> dict[str, Any]:
        guard = WRITE_GUARD.get()
        if guard is not None and method != "GET" and kind in GUARDED_KINDS and not guard():
            raise NotOwner(f"{method} {kind}: shard no longer held")
        await self.bucket.take()
        self.calls[f"{method} {kind}"] += 1
        return await self.kube.request(method, path, body, query=query, content_type=content_type)

    def writes(self, kind: str | None = None) -> int:
        return sum(n for call, n in self.calls.items()
                   if not call.startswith("GET ") and (kind is None or call.endswith(" " + kind)))

    # -- external-secrets.io objects ---------------------------------------------------------------

    @staticmethod
    def object_path(kind: str, namespace: str | None, name: str = "") -> str:
        plural = PLURALS[kind]
        base = f"{ESO_API}/namespaces/{namespace}/{plural}" if namespace else f"{ESO_API}/{plural}"
        return f"{base}/{name}" if name else base

    async def patch_status(self, kind: str, namespace: str | None, name: str,
                           status: dict[str, Any]) -> dict[str, Any]:
        """A merge patch of the status subresource (lists such as conditions are replaced whole)."""
        return await self.request("PATCH", self.object_path(kind, namespace, name) + "/status",
                                  {"status": status}, kind=kind, content_type="application/merge-patch+json")

    async def create_object(self, kind: str, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", self.object_path(kind, namespace), body, kind=kind)

    async def replace_object(self, kind: str, namespace: str | None, name: str,
                             body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PUT", self.object_path(kind, namespace, name), body, kind=kind)

    async def delete_object(self, kind: str, namespace: str | None, name: str) -> None:
        try:
            await self.request("DELETE", self.object_path(kind, namespace, name), kind=kind)
        except KubeError as err:
            if err.status != 404:
                raise

    async def get_object(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", self.object_path(kind, namespace, name), kind=kind)
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    # -- Secrets -------------------------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", kind="Secret")
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def create_secret(self, namespace: str, body: dict[str, Any], manager: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body, kind="Secret",
                                  query={"fieldManager": manager})

    async def update_secret(self, namespace: str, name: str, body: dict[str, Any], manager: str) -> dict[str, Any]:
        return await self.request("PUT", f"/api/v1/namespaces/{namespace}/secrets/{name}", body, kind="Secret",
                                  query={"fieldManager": manager})

    async def label_secret_managed(self, namespace: str, name: str, manager: str) -> dict[str, Any]:
        """ESO's first step for an unlabelled target Secret: a merge patch adding only the managed label."""
        return await self.request("PATCH", f"/api/v1/namespaces/{namespace}/secrets/{name}",
                                  {"metadata": {"labels": {"reconcile.external-secrets.io/managed": "true"}}},
                                  kind="Secret", query={"fieldManager": manager},
                                  content_type="application/merge-patch+json")

    async def delete_secret(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}} if uid else None
        try:
            await self.request("DELETE", f"/api/v1/namespaces/{namespace}/secrets/{name}", body, kind="Secret")
        except KubeError as err:
            if err.status != 404:
                raise

    async def list_secret_names(self, namespace: str, selector: str) -> list[str]:
        listing = await self.request("GET", f"/api/v1/namespaces/{namespace}/secrets", kind="Secret",
                                     query={"labelSelector": selector})
        return [item["metadata"]["name"] for item in listing.get("items") or []]

    async def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}", kind="ConfigMap")
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def get_service_account(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
                                      kind="ServiceAccount")
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def get_namespace(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", f"/api/v1/namespaces/{name}", kind="Namespace")
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def post_event(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", f"/api/v1/namespaces/{namespace}/events", body, kind="Event")

    # -- credentials (KubeReads), read on demand behind a short single-flight cache ------------------

    async def cached(self, key: tuple[Any, ...], ttl: float, load: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._inflight.pop(key, None)
        self._cache[key] = (time.monotonic() + ttl, value)
        if not future.done():
            future.set_result(value)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return value

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's `data` (base64 strings), cached for `cache_ttl` seconds."""
        async def load() -> dict[str, str] | None:
            secret = await self.get_secret(namespace, name)
            return None if secret is None else dict(secret.get("data") or {})

        data: dict[str, str] | None = await self.cached(("secret", namespace, name), self.cache_ttl, load)
        return data

    async def request_token(self, namespace: str, name: str, audiences: list[str],
                            expiration_seconds: int) -> tuple[str, float]:
        """TokenRequest for a ServiceAccount: (token, seconds it stays valid)."""
        body: dict[str, Any] = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": int(expiration_seconds)}}
        if audiences:
            body["spec"]["audiences"] = list(audiences)
        answer = await self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                                    body, kind="TokenRequest")
        token = str((answer.get("status") or {}).get("token") or "")
        return token, float(expiration_seconds)

    def forget_cached(self, namespace: str, name: str) -> None:
        self._cache.pop(("secret", namespace, name), None)

    # -- LIST + WATCH ---------------------------------------------------------------------------------

    async def watch_lines(self, path: str, query: dict[str, str], timeout: float) -> Any:
        """The raw watch stream: yields decoded JSON events, one per line."""
        import aiohttp

        api = self.kube.api
        headers = {"Accept": "application/json", "User-Agent": "secrets-kit-operator"}
        await api.update_params_for_auth(headers, [], ["BearerToken"])
        url = str(api.configuration.host) + path + "?" + urlencode(query)
        session = api.rest_client.pool_manager
        async with session.get(url, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout)) as resp:
            if resp.status >= 300:
                raw = await resp.read()
                raise KubeError("WATCH", path, resp.status, "", raw[:200].decode(errors="replace"))
            pending = b""
            async for chunk in resp.content.iter_any():
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)


def _owned_keys(entry: dict[str, Any]) -> dict[str, Any]:
    """A managedFields entry cut to what decides ownership: the manager, and the data, label and annotation
    keys of its fieldsV1 (not its time, operation, ownerReferences, type...)."""
    fields = entry.get("fieldsV1")
    fields = fields if isinstance(fields, dict) else {}
    found = fields.get("f:metadata")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    kept: dict[str, Any] = {}
    if isinstance(fields.get("f:data"), dict):
        kept["f:data"] = {k: {} for k in fields["f:data"] if k != "."}
    owned_meta: dict[str, Any] = {group: {k: {} for k in meta[group] if k != "."}
                  for group in ("f:labels", "f:annotations") if isinstance(meta.get(group), dict)}
    if owned_meta:
        kept["f:metadata"] = owned_meta
    return {"manager": entry.get("manager"), "fieldsV1": kept}


def slim_secret(secret: dict[str, Any]) -> dict[str, Any]:
    """What the reconcile reads of a managed Secret, and nothing else: metadata that decides validity
    and ownership, our field manager's managedFields (keys this ES wrote), type, immutable, data."""
    meta = secret.get("metadata") or {}
    keep = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "labels", "annotations",
                                 "ownerReferences", "deletionTimestamp") if k in meta}
    managed = [_owned_keys(f) for f in meta.get("managedFields") or []
               if str(f.get("manager", "")).startswith("externalsecrets.external-secrets.io/")]
    if managed:
        keep["managedFields"] = managed
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": keep}
    for field in ("type", "immutable", "data"):
        if field in secret:
            out[field] = secret[field]
    return out


CREATED_BY = "reconcile.external-secrets.io/created-by"


def _is_managed(secret: dict[str, Any]) -> bool:
    return ((secret.get("metadata") or {}).get("labels") or {}).get("reconcile.external-secrets.io/managed") == "true"


def _created_by(secret: dict[str, Any]) -> tuple[str, str] | None:
    """(namespace, created-by label): an owner's orphan clean-up finds its old Secrets without a scan."""
    meta = secret.get("metadata") or {}
    value = (meta.get("labels") or {}).get(CREATED_BY)
    return None if value is None else (str(meta.get("namespace") or ""), str(value))


class SecretInformer(Informer):
    """Managed Secrets (`reconcile.external-secrets.io/managed=true`, filtered by the API server) by
    (namespace, name), slimmed; `on_change(key, secret_or_None)` for every change after the first listing."""

    def __init__(self, kube: ExternalKube, namespace: str | None,
                 on_change: Callable[[Key, dict[str, Any] | None], Awaitable[None]]) -> None:
        path = f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
        super().__init__(kube, path, kind="Secret", on_change=on_change, selector=MANAGED_SELECTOR,
                         transform=slim_secret, accept=_is_managed, index=_created_by)


class KubeReadsAdapter:
    """The stores' `KubeReads` protocol on the shared client: credentials read on demand (short cache)."""

    def __init__(self, kube: ExternalKube) -> None:
        self.kube = kube

    async def secret_value(self, namespace: str, name: str, key: str) -> bytes:
        import base64

        from secrets_kit.errors import ConfigError

        data = await self.kube.secret_data(namespace, name)
        if data is None:
            raise ConfigError(f'cannot get Kubernetes secret "{name}" in namespace "{namespace}": not found',
                              where=f"Secret {namespace}/{name}")
        if key not in data:
            raise ConfigError(f'cannot find secret data for key: "{key}"', where=f"Secret {namespace}/{name}")
        return base64.b64decode(data[key])

    async def config_map_value(self, namespace: str, name: str, key: str) -> bytes:
        from secrets_kit.errors import ConfigError

        async def load() -> dict[str, str] | None:
            found = await self.kube.get_configmap(namespace, name)
            return None if found is None else dict(found.get("data") or {})

        data = await self.kube.cached(("configmap", namespace, name), self.kube.cache_ttl, load)
        if data is None or key not in data:
            raise ConfigError(f'cannot find configmap data for key: "{key}"', where=f"ConfigMap {namespace}/{name}")
        return str(data[key]).encode()

    async def service_account(self, namespace: str, name: str) -> dict[str, Any]:
        """The ServiceAccount (AWS auth.jwt reads its role annotations), cached for `cache_ttl` seconds."""
        from secrets_kit.errors import ConfigError

        async def load() -> dict[str, Any] | None:
            return await self.kube.get_service_account(namespace, name)

        found = await self.kube.cached(("serviceaccount", namespace, name), self.kube.cache_ttl, load)
        if found is None:
            raise ConfigError(f'serviceaccounts "{name}" not found', where=f"ServiceAccount {namespace}/{name}")
        return dict(found)

    async def service_account_token(self, namespace: str, name: str, audiences: list[str],
                                    expiration_seconds: int) -> str:
        async def load() -> str:
            token, _ = await self.kube.request_token(namespace, name, audiences, expiration_seconds)
            return token

        # reused while well inside its lifetime (a tenth of it, at most a minute)
        ttl = min(60.0, max(1.0, expiration_seconds / 10))
        token: str = await self.kube.cached(("token", namespace, name, tuple(audiences), expiration_seconds),
                                            ttl, load)
        return token


def quote_name(name: str) -> str:
    return quote(name, safe="")
