"""Single-flight and the short cache window of the Vault store's raw reads (no server needed)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from secrets_kit.errors import ProviderError
from secrets_kit.externalsecrets.refs import READ_MAX_AGE, NoSecretError, RemoteRef
from secrets_kit.externalsecrets.stores import _gojson
from secrets_kit.externalsecrets.stores.vault import VaultStoreClient, VaultStoreSpec


class StubClient:
    connected = True


class Counting(VaultStoreClient):
    def __init__(self, cache_seconds: float, fail: bool = False) -> None:
        spec = VaultStoreSpec("http://vault", "secret", "v2", None, {}, {}, "tokenSecretRef")
        super().__init__(spec, StubClient(), where="SecretStore ns/v", cache_seconds=cache_seconds)  # type: ignore[arg-type]
        self.calls: list[str] = []
        self.fail = fail
        self.lock = threading.Lock()

    def _request(self, method: str, path: str, params: Any) -> Any:
        with self.lock:
            self.calls.append(path)
        time.sleep(0.05)
        if self.fail:
            raise ProviderError("Vault read denied", where=path)
        if path.endswith("/gone"):
            return None
        return _gojson.parse(json.dumps({"data": {"data": {"v": path}}}))


def test_concurrent_reads_of_one_path_cost_one_request() -> None:
    async def main() -> None:
        c = Counting(cache_seconds=0.3)
        refs = [RemoteRef(f"app{i % 5}", property="v") for i in range(200)]
        values = await asyncio.gather(*(c.get_secret(r) for r in refs))
        assert values == [f"secret/data/app{i % 5}".encode() for i in range(200)]
        assert sorted(c.calls) == [f"secret/data/app{i}" for i in range(5)] and c.reads == 5
        await c.get_secret(RemoteRef("app0", property="v"))  # within the window: cached
        assert len(c.calls) == 5
        await asyncio.sleep(0.35)
        await c.get_secret(RemoteRef("app0", property="v"))  # the window passed
        assert len(c.calls) == 6
        await c.get_secret(RemoteRef("app0", property="v", version="2"))  # another version: another read
        assert len(c.calls) == 7
        with pytest.raises(NoSecretError):
            await asyncio.gather(*(c.get_secret(RemoteRef("gone")) for _ in range(10)))
        assert len(c.calls) == 8  # a 404 is an answer too

    asyncio.run(main())


def test_a_reconcile_that_wants_a_fresh_read_gets_one() -> None:
    async def main() -> None:
        c = Counting(cache_seconds=30)
        await c.get_secret(RemoteRef("app", property="v"))
        await c.get_secret(RemoteRef("app", property="v"))  # a first-sync burst: shared
        assert len(c.calls) == 1
        token = READ_MAX_AGE.set(0.0)  # a force-sync, or a retry after a failure
        try:
            await c.get_secret(RemoteRef("app", property="v"))
            assert len(c.calls) == 2
            # concurrent fresh reads still share the one in flight
            await asyncio.gather(*(c.get_secret(RemoteRef("app", property="v")) for _ in range(10)))
            assert len(c.calls) == 3
        finally:
            READ_MAX_AGE.reset(token)
        await c.get_secret(RemoteRef("app", property="v"))  # back to the window: the fresh read serves
        assert len(c.calls) == 3

    asyncio.run(main())


def test_failures_are_shared_but_not_cached() -> None:
    async def main() -> None:
        c = Counting(cache_seconds=10, fail=True)
        results = await asyncio.gather(*(c.get_secret(RemoteRef("x")) for _ in range(20)), return_exceptions=True)
        assert all(isinstance(r, ProviderError) and "cannot read secret data from Vault" in str(r) for r in results)
        assert len(c.calls) == 1
        with pytest.raises(ProviderError):
            await c.get_secret(RemoteRef("x"))
        assert len(c.calls) == 2  # the next reconcile asks again

    asyncio.run(main())


def test_ca_bundle_and_ca_provider_become_one_verify_file() -> None:
    import base64
    import os

    from secrets_kit.externalsecrets.stores import StoreClients

    class Kube:
        async def secret_value(self, namespace: str, name: str, key: str) -> bytes:
            assert (namespace, name, key) == ("team-a", "ca", "ca.crt")  # the store's own namespace
            return b"-----PROVIDER CA-----\n"

        async def service_account_token(self, *args: Any) -> str:
            raise AssertionError("not used")

    store = {"kind": "SecretStore", "metadata": {"name": "v", "namespace": "team-a", "generation": 1},
             "spec": {"provider": {"vault": {
                 "server": "https://vault.example:8200", "caBundle": base64.b64encode(b"-----BUNDLE CA-----\n").decode(),
                 "caProvider": {"type": "Secret", "name": "ca", "key": "ca.crt"},
                 "auth": {"tokenSecretRef": {"name": "t", "key": "token"}}}}}}

    async def main() -> None:
        clients = StoreClients(Kube())
        client = await clients.client_for(store, "team-a")
        assert isinstance(client, VaultStoreClient)
        path = client.client.settings.verify
        assert isinstance(path, str)
        with open(path, "rb") as fh:
            assert fh.read() == b"-----BUNDLE CA-----\n-----PROVIDER CA-----\n"
        assert client.client.requests == 0  # building a client sends nothing
        await clients.close()
        assert not os.path.exists(path)

    asyncio.run(main())
