"""`secrets-kit operator refresh`: ESO's force-sync — set the annotation `force-sync` to the current
time on ExternalSecrets, which makes the controller (ours or ESO) read the provider again at once."""

from __future__ import annotations

import time
from typing import Any

from ..kube import Kube, KubeError, load_credentials

ES_API = "/apis/external-secrets.io/v1"
FORCE_SYNC = "force-sync"


async def refresh(kubeconfig: str | None, namespace: str, names: list[str], every: bool) -> list[dict[str, Any]]:
    """One row per ExternalSecret: {namespace, name, refreshed, error}; `every`: all in the namespace."""
    configuration, _ = await load_credentials(kubeconfig)
    kube = Kube(configuration)
    try:
        if every:
            listing = await kube.request("GET", f"{ES_API}/namespaces/{namespace}/externalsecrets")
            names = sorted(item["metadata"]["name"] for item in listing.get("items") or [])
        stamp = str(time.time())
        rows = []
        for name in names:
            row: dict[str, Any] = {"namespace": namespace, "name": name, "refreshed": False, "error": None}
            try:
                await kube.request("PATCH", f"{ES_API}/namespaces/{namespace}/externalsecrets/{name}",
                                   {"metadata": {"annotations": {FORCE_SYNC: stamp}}},
                                   content_type="application/merge-patch+json")
                row["refreshed"] = True
            except KubeError as err:
                row["error"] = "not found" if err.status == 404 else f"HTTP {err.status} {err.reason}".strip()
            rows.append(row)
        return rows
    finally:
        await kube.close()
