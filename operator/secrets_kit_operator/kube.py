"""The Kubernetes API adapter: one kubernetes_asyncio ApiClient (one aiohttp connection pool) for
the whole process, raw JSON in and out (no model deserialisation), on kopf's event loop.

kopf watches with its own session; it logs in with the same credentials (`connection_info`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

SEALED_API = "/apis/bitnami.com/v1alpha1"


class KubeError(RuntimeError):
    """An API call that failed: HTTP status, the API's reason (e.g. AlreadyExists) and message."""

    def __init__(self, method: str, path: str, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message
        super().__init__(f"{method} {path}: HTTP {status} {reason}: {message}")


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_path: str | None
    token: str | None
    cert_path: str | None
    key_path: str | None
    insecure: bool


async def load_credentials(kubeconfig: str | None) -> tuple[Any, Credentials]:
    """kubernetes_asyncio configuration from --kubeconfig (or $KUBECONFIG), else in-cluster."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        await config.load_kube_config(config_file=path, client_configuration=configuration,
                                      persist_config=False)
    else:
        config.load_incluster_config(client_configuration=configuration)
    token = configuration.api_key.get("BearerToken")
    if token and token.startswith("Bearer "):
        token = token.removeprefix("Bearer ")
    creds = Credentials(server=str(configuration.host), ca_path=configuration.ssl_ca_cert, token=token,
                        cert_path=configuration.cert_file, key_path=configuration.key_file,
                        insecure=not configuration.verify_ssl)
    return configuration, creds


class Kube:
    """Raw JSON calls over one ApiClient. Each call counts into `calls` by verb (for tests/bench)."""

    def __init__(self, configuration: Any) -> None:
        from kubernetes_asyncio import client

        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 64)
        self.api = client.ApiClient(configuration)
        self.writes = 0

    async def close(self) -> None:
        await self.api.close()

    async def request(self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
                      content_type: str = "application/json", timeout: float = 30.0) -> dict[str, Any]:
        headers = {"Accept": "application/json", "User-Agent": "secrets-kit-operator"}
        await self.api.update_params_for_auth(headers, [], ["BearerToken"])
        url = str(self.api.configuration.host) + path + (("?" + urlencode(query)) if query else "")
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = content_type
        if method != "GET":
            self.writes += 1
        session = self.api.rest_client.pool_manager
        import aiohttp

        async with session.request(method, url, data=data, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            raw = await resp.read()
            status = resp.status
        decoded: dict[str, Any] = {}
        if raw.strip().startswith(b"{"):
            decoded = json.loads(raw)
        if status >= 300:
            raise KubeError(method, path, status, str(decoded.get("reason") or ""),
                            str(decoded.get("message") or raw[:200].decode(errors="replace")))
        return decoded

    # -- the few calls the controller makes ---------------------------------------------------------

    async def list_secrets(self, namespace: str, selector: str = "") -> list[dict[str, Any]]:
        query = {"labelSelector": selector} if selector else None
        listing = await self.request("GET", f"/api/v1/namespaces/{namespace}/secrets", query=query)
        return list(listing.get("items") or [])

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body)

    async def replace_secret(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PUT", f"/api/v1/namespaces/{namespace}/secrets/{name}", body)

    async def patch_sealed_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", f"{SEALED_API}/namespaces/{namespace}/sealedsecrets/{name}/status",
                                  {"status": status}, content_type="application/merge-patch+json")

    async def post_event(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", f"/api/v1/namespaces/{namespace}/events", body)
