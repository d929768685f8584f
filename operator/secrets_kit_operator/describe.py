"""`secrets-kit operator describe`: the cluster reads (objects, stores, target Secrets, events, keys).

Why each object is or is not synced is the core's (secrets_kit.externalsecrets.diagnose,
secrets_kit.sealed.describe); this module fetches what they need, once per namespace or store, with
a few requests in flight. Secret data is read only for the data-hash comparison and never leaves the
core's report except as key names.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from secrets_kit.externalsecrets.diagnose import (
    describe_cluster_external_secret,
    describe_external_secret,
    describe_store,
)
from secrets_kit.sealed.describe import describe_sealed_secret

from .kube import SEALED_API, Kube, KubeError, load_credentials

ES_API = "/apis/external-secrets.io/v1"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
KINDS = {  # --kind -> (API path, plural, namespaced)
    "sealedsecret": (SEALED_API, "sealedsecrets", True),
    "externalsecret": (ES_API, "externalsecrets", True),
    "clusterexternalsecret": (ES_API, "clusterexternalsecrets", False),
    "secretstore": (ES_API, "secretstores", True),
    "clustersecretstore": (ES_API, "clustersecretstores", False),
}


@dataclass
class Result:
    reports: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # names asked for and found in no kind
    not_installed: list[str] = field(default_factory=list)  # kinds whose CRD the API server does not serve


class Reads:
    """Cached GETs: each namespace's events, each store, the key Secrets — read once per run."""

    def __init__(self, kube: Kube, controller_namespace: str) -> None:
        self.kube, self.controller_namespace = kube, controller_namespace
        self._events: dict[str, asyncio.Task[list[dict[str, Any]]]] = {}
        self._stores: dict[tuple[str, str, str], asyncio.Task[dict[str, Any] | None]] = {}
        self._keys: asyncio.Task[list[dict[str, Any]] | None] | None = None
        self.limit = asyncio.Semaphore(16)

    async def get(self, path: str) -> dict[str, Any] | None:
        async with self.limit:
            try:
                return await self.kube.request("GET", path)
            except KubeError as err:
                if err.status == 404:
                    return None
                raise

    def events(self, namespace: str) -> asyncio.Task[list[dict[str, Any]]]:
        if namespace not in self._events:
            async def fetch() -> list[dict[str, Any]]:
                listing = await self.get(f"/api/v1/namespaces/{namespace}/events")
                return list((listing or {}).get("items") or [])
            self._events[namespace] = asyncio.ensure_future(fetch())
        return self._events[namespace]

    async def events_for(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"  # cluster-scoped objects' events go to default
        uid = meta.get("uid")
        return [e for e in await self.events(namespace)
                if (e.get("involvedObject") or {}).get("kind") == obj.get("kind")
                and (e.get("involvedObject") or {}).get("name") == meta["name"]
                and (not uid or not (e.get("involvedObject") or {}).get("uid") or e["involvedObject"]["uid"] == uid)]

    def store(self, kind: str, namespace: str, name: str) -> asyncio.Task[dict[str, Any] | None]:
        key = (kind, namespace if kind == "SecretStore" else "", name)
        if key not in self._stores:
            path = (f"{ES_API}/namespaces/{namespace}/secretstores/{name}" if kind == "SecretStore"
                    else f"{ES_API}/clustersecretstores/{name}")
            self._stores[key] = asyncio.ensure_future(self.get(path))
        return self._stores[key]

    def key_secrets(self) -> asyncio.Task[list[dict[str, Any]] | None]:
        """The controller's key Secrets; None when they cannot be read (RBAC: no `get secrets` there)."""
        if self._keys is None:
            async def fetch() -> list[dict[str, Any]] | None:
                try:
                    return await self.kube.list_secrets(self.controller_namespace, KEY_LABEL)
                except KubeError as err:
                    if err.status in (401, 403, 404):
                        return None
                    raise
            self._keys = asyncio.ensure_future(fetch())
        return self._keys


async def _list(kube: Kube, kind: str, namespace: str | None) -> list[dict[str, Any]] | None:
    """Every object of a kind (in `namespace`, or all); None when the kind is not served."""
    api, plural, namespaced = KINDS[kind]
    path = f"{api}/namespaces/{namespace}/{plural}" if namespaced and namespace else f"{api}/{plural}"
    try:
        listing = await kube.request("GET", path)
    except KubeError as err:
        if err.status == 404:
            return None
        raise
    singular = {"sealedsecrets": "SealedSecret", "externalsecrets": "ExternalSecret",
                "clusterexternalsecrets": "ClusterExternalSecret", "secretstores": "SecretStore",
                "clustersecretstores": "ClusterSecretStore"}[plural]
    items = [dict(item, kind=singular) for item in listing.get("items") or []]
    return sorted(items, key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))


async def _sealed(reads: Reads, obj: dict[str, Any], explicit: bool) -> dict[str, Any]:
    meta = obj["metadata"]
    secret, events, keys = await asyncio.gather(
        reads.get(f"/api/v1/namespaces/{meta['namespace']}/secrets/{meta['name']}"), reads.events_for(obj),
        reads.key_secrets())
    synced = any(c.get("type") == "Synced" and c.get("status") == "True"
                 for c in (obj.get("status") or {}).get("conditions") or [])
    # RSA work off the event loop; tried only where it explains something (or for a named object)
    return await asyncio.to_thread(describe_sealed_secret, obj, secret, events, keys,
                                   controller_namespace=reads.controller_namespace,
                                   try_keys=explicit or not synced)


def _store_refs(es: dict[str, Any]) -> list[tuple[str, str]]:
    spec = es.get("spec") or {}
    refs: list[tuple[str, str]] = []
    for ref in [spec.get("secretStoreRef")] + [((i or {}).get("sourceRef") or {}).get("storeRef")
                                               for i in list(spec.get("data") or []) + list(spec.get("dataFrom") or [])]:
        if isinstance(ref, dict) and ref.get("name"):
            pair = (str(ref.get("kind") or "SecretStore"), str(ref["name"]))
            if pair not in refs:
                refs.append(pair)
    return refs


async def _external(reads: Reads, obj: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    meta = obj["metadata"]
    ns = meta["namespace"]
    refs = _store_refs(obj)
    target = str(((obj.get("spec") or {}).get("target") or {}).get("name") or meta["name"])
    secret, events, *stores = await asyncio.gather(
        reads.get(f"/api/v1/namespaces/{ns}/secrets/{target}"), reads.events_for(obj),
        *(reads.store(kind, ns, name) for kind, name in refs))
    return describe_external_secret(obj, dict(zip(refs, stores, strict=True)), secret, events, now)


async def _cluster_external(reads: Reads, obj: dict[str, Any]) -> dict[str, Any]:
    return describe_cluster_external_secret(obj, await reads.events_for(obj))


async def _store(reads: Reads, obj: dict[str, Any]) -> dict[str, Any]:
    return describe_store(obj, await reads.events_for(obj))


async def describe(kubeconfig: str | None, *, namespace: str | None, names: list[str], kinds: list[str],
                   controller_namespace: str, now: dt.datetime) -> Result:
    """Reports for the objects of `kinds` in `namespace` (None: all) named `names` (empty: all)."""
    configuration, _ = await load_credentials(kubeconfig)
    kube = Kube(configuration)
    result = Result()
    try:
        reads = Reads(kube, controller_namespace)
        found: set[str] = set()
        work = []
        for kind in kinds:
            objects = await _list(kube, kind, namespace)
            if objects is None:
                result.not_installed.append(kind)
                continue
            for obj in objects:
                name = obj["metadata"]["name"]
                if names and name not in names:
                    continue
                found.add(name)
                if kind == "sealedsecret":
                    work.append(_sealed(reads, obj, bool(names)))
                elif kind == "externalsecret":
                    work.append(_external(reads, obj, now))
                elif kind == "clusterexternalsecret":
                    work.append(_cluster_external(reads, obj))
                else:
                    work.append(_store(reads, obj))
        result.reports = list(await asyncio.gather(*work))
        result.missing = [n for n in names if n not in found]
        return result
    finally:
        await kube.close()
