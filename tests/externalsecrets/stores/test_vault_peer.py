"""The Vault store against a real OpenBao dev server (fixture `vault_dev`), as ESO v0.16.2 reads it.

Requests are counted by the store client's own counter (a response hook on its requests
session: every HTTP request it sends, logins and token checks included).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import hvac.exceptions
import pytest

from secrets_kit.errors import ConfigError, ProviderError, SecretsKitError
from secrets_kit.externalsecrets.refs import METADATA_FETCH, FindRef, NoSecretError, RemoteRef
from secrets_kit.externalsecrets.stores import StoreClients
from secrets_kit.externalsecrets.stores.vault import VaultStoreClient
from tests.peers.kube import KubeCluster
from tests.peers.vault import JWT_AUDIENCE, KubeAuth, VaultSetup

pytestmark = pytest.mark.peer("vault")

NS = "team-a"


class FakeKube:
    """KubeReads over a dict of Secrets; TokenRequests go to the real kube-apiserver when given one."""

    def __init__(self, data: dict[tuple[str, str], dict[str, bytes]] | None = None,
                 cluster: KubeCluster | None = None) -> None:
        self.data = data or {}
        self.cluster = cluster
        self.secret_reads: list[tuple[str, str, str]] = []
        self.token_requests: list[tuple[str, str, tuple[str, ...], int]] = []

    async def secret_value(self, namespace: str, name: str, key: str) -> bytes:
        self.secret_reads.append((namespace, name, key))
        try:
            return self.data[(namespace, name)][key]
        except KeyError:
            raise ConfigError(f"Secret {namespace}/{name} has no key {key!r}") from None

    async def service_account_token(self, namespace: str, name: str, audiences: list[str],
                                    expiration_seconds: int) -> str:
        self.token_requests.append((namespace, name, tuple(audiences), expiration_seconds))
        assert self.cluster is not None
        cluster = self.cluster
        return await asyncio.to_thread(lambda: cluster.token_request(namespace, name, audiences=audiences or None,
                                                                     seconds=expiration_seconds))


def store(vault: VaultSetup, auth: dict[str, Any], *, kind: str = "SecretStore", namespace: str = NS,
          name: str = "vault", generation: int = 1, **provider: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": "uid-" + name, "generation": generation}
    if kind == "SecretStore":
        meta["namespace"] = namespace
    body = {"server": vault.server.url, "path": "kv-v2", "version": "v2", "auth": auth, **provider}
    return {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": meta,
            "spec": {"provider": {"vault": body}}}


def root_auth(kube: FakeKube, vault: VaultSetup, ns: str = NS) -> dict[str, Any]:
    kube.data[(ns, "vault-token")] = {"token": vault.server.root_token.encode()}
    return {"tokenSecretRef": {"name": "vault-token", "key": "token"}}


def approle_auth(kube: FakeKube, vault: VaultSetup, ns: str = NS) -> dict[str, Any]:
    kube.data[(ns, "approle")] = {"secret-id": vault.approle_secret_id.encode()}
    return {"appRole": {"path": "approle", "roleId": vault.approle_role_id,
                        "secretRef": {"name": "approle", "key": "secret-id"}}}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def client_of(kube: FakeKube, st: dict[str, Any], es_ns: str = NS, **kw: Any) -> tuple[StoreClients,
                                                                                               VaultStoreClient]:
    clients = StoreClients(kube, **kw)
    client = await clients.client_for(st, es_ns)
    assert isinstance(client, VaultStoreClient)
    return clients, client


def put_v2(vault: VaultSetup, path: str, data: dict[str, Any], mount: str = "kv-v2") -> None:
    vault.server.client().secrets.kv.v2.create_or_update_secret(path, data, mount_point=mount)


# ------------------------------------------------------------------------------- reads


def test_kv_v2_values_versions_properties(vault_dev: VaultSetup) -> None:
    key = f"eso/{secrets.token_hex(4)}"
    put_v2(vault_dev, key, {"password": "one"})
    put_v2(vault_dev, key, {"password": "two", "n": 1.0, "big": 1e3, "flag": True, "a.b": "exact",
                            "a": {"b": "nested", "deep": {"x": [1, "y"]}}, "html": "<&>"})
    kube = FakeKube()

    async def main() -> None:
        clients, c = await client_of(kube, store(vault_dev, root_auth(kube, vault_dev)))
        try:
            assert await c.get_secret(RemoteRef(key, property="password")) == b"two"
            assert await c.get_secret(RemoteRef(key, property="password", version="1")) == b"one"
            assert await c.get_secret(RemoteRef(f"kv-v2/{key}", property="password")) == b"two"  # mount stripped
            assert await c.get_secret(RemoteRef(f"kv-v2/data/{key}", property="password")) == b"two"
            # Vault's own literals (json.Number); OpenBao stores numbers as float64 and writes 1.0 as 1
            assert await c.get_secret(RemoteRef(key, property="n")) == b"1"
            assert await c.get_secret(RemoteRef(key, property="big")) == b"1000"
            assert await c.get_secret(RemoteRef(key, property="flag")) == b"true"
            assert await c.get_secret(RemoteRef(key, property="a.b")) == b"exact"  # exact key first
            assert await c.get_secret(RemoteRef(key, property="a.deep.x.1")) == b"y"  # gjson path
            assert await c.get_secret(RemoteRef(key, property="a.deep")) == b'{"x":[1,"y"]}'
            whole = await c.get_secret(RemoteRef(key, version="1"))
            assert whole == b'{"password":"one"}'
            assert b'"html":"\\u003c\\u0026\\u003e"' in await c.get_secret(RemoteRef(key))
            extracted = await c.get_secret_map(RemoteRef(key))
            assert extracted["n"] == b"1" and extracted["big"] == b"1000" and extracted["html"] == b"<&>"
            assert extracted["a"] == b'{"b":"nested","deep":{"x":[1,"y"]}}'
            assert await c.get_secret_map(RemoteRef(key, property="a")) == {
                "b": b"nested", "deep": b'{"x":[1,"y"]}'}
            with pytest.raises(ProviderError) as err:
                await c.get_secret(RemoteRef(key, property="nope"))
            assert err.value.message == 'cannot find secret data for key: "nope"'
            assert not isinstance(err.value, NoSecretError)
            with pytest.raises(NoSecretError):
                await c.get_secret(RemoteRef(f"eso/missing-{secrets.token_hex(3)}"))
            with pytest.raises(NoSecretError):
                await c.get_secret(RemoteRef(key, version="9"))
        finally:
            await clients.close()

    run(main())


def test_kv_v2_deleted_version_is_no_secret(vault_dev: VaultSetup) -> None:
    key = f"eso/{secrets.token_hex(4)}"
    put_v2(vault_dev, key, {"v": "1"})
    put_v2(vault_dev, key, {"v": "2"})
    vault_dev.server.client().secrets.kv.v2.delete_secret_versions(key, versions=[2], mount_point="kv-v2")
    kube = FakeKube()

    async def main() -> None:
        clients, c = await client_of(kube, store(vault_dev, root_auth(kube, vault_dev)))
        with pytest.raises(NoSecretError):
            await c.get_secret(RemoteRef(key, property="v"))  # latest is deleted: data null
        assert await c.get_secret(RemoteRef(key, property="v", version="1")) == b"1"
        await clients.close()

    run(main())


def test_kv_v1_and_path_without_mount(vault_dev: VaultSetup) -> None:
    key = f"eso/{secrets.token_hex(4)}"
    vault_dev.server.client().secrets.kv.v1.create_or_update_secret(key, {"token": "t1", "n": 7},
                                                                    mount_point="kv-v1")
    put_v2(vault_dev, key, {"p": "from-v2"})
    kube = FakeKube()

    async def main() -> None:
        clients, c = await client_of(kube, store(vault_dev, root_auth(kube, vault_dev), path="kv-v1", version="v1"))
        assert await c.get_secret(RemoteRef(key, property="token")) == b"t1"
        assert await c.get_secret(RemoteRef(key, property="n")) == b"7"
        assert await c.get_secret_map(RemoteRef(key)) == {"token": b"t1", "n": b"7"}
        with pytest.raises(ProviderError, match="cannot perform metadata fetch operations with kv version v1"):
            await c.get_secret(RemoteRef(key, metadata_policy=METADATA_FETCH))
        with pytest.raises(ProviderError, match="find by tag operations with kv version v1"):
            await c.get_all_secrets(FindRef(tags={"a": "b"}))
        assert await c.get_all_secrets(FindRef(path="eso", name_regexp=key.split("/")[1])) == {
            key: b'{"n":7,"token":"t1"}'}
        await clients.close()
        st = store(vault_dev, root_auth(kube, vault_dev), name="nopath")
        del st["spec"]["provider"]["vault"]["path"]
        clients, c = await client_of(kube, st)
        assert await c.get_secret(RemoteRef(f"kv-v2/{key}", property="p")) == b"from-v2"  # data/ inserted
        await clients.close()

    run(main())


def test_metadata_fetch_and_find(vault_dev: VaultSetup) -> None:
    base = f"find-{secrets.token_hex(3)}"
    put_v2(vault_dev, f"{base}/app/db", {"password": "db-pass"})
    put_v2(vault_dev, f"{base}/app/api", {"token": "api-token"})
    put_v2(vault_dev, f"{base}/other", {"x": "y"})
    kv = vault_dev.server.client().secrets.kv.v2
    kv.update_metadata(f"{base}/app/db", custom_metadata={"team": "a", "env": "prod"}, mount_point="kv-v2")
    kv.update_metadata(f"{base}/other", custom_metadata={"team": "a", "env": "dev"}, mount_point="kv-v2")
    kube = FakeKube()

    async def main() -> None:
        clients, c = await client_of(kube, store(vault_dev, approle_auth(kube, vault_dev)))
        md = await c.get_secret(RemoteRef(f"{base}/app/db", metadata_policy=METADATA_FETCH))
        assert md == b'{"env":"prod","team":"a"}'
        assert await c.get_secret(RemoteRef(f"{base}/app/db", metadata_policy=METADATA_FETCH,
                                            property="team")) == b"a"
        assert await c.get_secret(RemoteRef(f"{base}/app/api", metadata_policy=METADATA_FETCH)) == b""
        found = await c.get_all_secrets(FindRef(path=base, name_regexp="app/"))
        assert found == {f"{base}/app/db": b'{"password":"db-pass"}', f"{base}/app/api": b'{"token":"api-token"}'}
        tagged = await c.get_all_secrets(FindRef(path=base, tags={"team": "a", "env": "prod"}))
        assert tagged == {f"{base}/app/db": b'{"password":"db-pass"}'}
        assert set(await c.get_all_secrets(FindRef(path=base, tags={"team": "a"}))) == {
            f"{base}/app/db", f"{base}/other"}
        with pytest.raises(NoSecretError):
            await c.get_all_secrets(FindRef(path=f"absent-{base}", name_regexp="."))
        await clients.close()

    run(main())


# ------------------------------------------------------------------------------- auth


def _read_with(vault: VaultSetup, kube: FakeKube, auth: dict[str, Any], **kw: Any) -> tuple[bytes, int]:
    key = f"auth/{secrets.token_hex(4)}"
    put_v2(vault, key, {"v": "ok"})

    async def main() -> tuple[bytes, int]:
        clients, c = await client_of(kube, store(vault, auth, **kw))
        try:
            return await c.get_secret(RemoteRef(key, property="v")), c.client.logins
        finally:
            await clients.close()

    result: tuple[bytes, int] = run(main())
    return result


def test_auth_methods(vault_dev: VaultSetup) -> None:
    kube = FakeKube({(NS, "creds"): {
        "role-id": vault_dev.approle_role_id.encode(), "secret-id": vault_dev.approle_secret_id.encode(),
        "password": vault_dev.userpass_password.encode(),
        "jwt": vault_dev.jwt_signer.sign({"sub": "eso"}).encode()}})
    assert _read_with(vault_dev, kube, root_auth(kube, vault_dev)) == (b"ok", 1)
    assert _read_with(vault_dev, kube, approle_auth(kube, vault_dev)) == (b"ok", 1)
    assert _read_with(vault_dev, kube, {"appRole": {"roleRef": {"name": "creds", "key": "role-id"},
                                                    "secretRef": {"name": "creds", "key": "secret-id"}}}) == (b"ok", 1)
    assert _read_with(vault_dev, kube, {"userPass": {"username": vault_dev.userpass_user,
                                                     "secretRef": {"name": "creds", "key": "password"}}}) == (b"ok", 1)
    assert _read_with(vault_dev, kube, {"jwt": {"role": vault_dev.jwt_role,
                                                "secretRef": {"name": "creds", "key": "jwt"}}}) == (b"ok", 1)
    assert (NS, "creds", "password") in kube.secret_reads


def test_kubernetes_and_jwt_service_account_auth(vault_dev: VaultSetup, vault_kube_auth: KubeAuth,
                                                 kube_cluster: KubeCluster) -> None:
    kube = FakeKube(cluster=kube_cluster)
    ns, sa = vault_kube_auth.namespace, vault_kube_auth.service_account
    got = _read_with(vault_dev, kube, {"kubernetes": {"mountPath": vault_kube_auth.mount, "role": vault_kube_auth.role,
                                                      "serviceAccountRef": {"name": sa}}}, namespace=ns)
    assert got == (b"ok", 1)
    assert kube.token_requests[-1] == (ns, sa, (), 600)  # TokenRequest in the store's namespace, 600 s
    got = _read_with(vault_dev, kube, {"jwt": {"path": vault_kube_auth.jwt_mount, "role": vault_kube_auth.jwt_role,
                                               "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": sa}}}},
                     namespace=ns)
    assert got == (b"ok", 1)
    assert kube.token_requests[-1] == (ns, sa, (JWT_AUDIENCE,), 600)  # audiences default to ["vault"]
    token = kube_cluster.token_request(ns, sa)
    kube.data[(ns, "sa-token")] = {"token": token.encode()}
    got = _read_with(vault_dev, kube, {"kubernetes": {"role": vault_kube_auth.role,
                                                      "secretRef": {"name": "sa-token"}}}, namespace=ns)
    assert got == (b"ok", 1)  # secretRef key defaults to `token`


# ------------------------------------------------------------------------------- costs


def test_one_login_and_one_read_per_path_for_many_reconciles(vault_dev: VaultSetup) -> None:
    keys = [f"load/{secrets.token_hex(3)}-{i}" for i in range(10)]
    for k in keys:
        put_v2(vault_dev, k, {"v": k})
    kube = FakeKube()

    async def main() -> None:
        clients = StoreClients(kube)
        st = store(vault_dev, approle_auth(kube, vault_dev), headers={"X-Secrets-Kit-Test": "1"})

        async def reconcile(i: int) -> bytes:
            client = await clients.client_for(st, NS)  # every reconcile asks the cache
            value: bytes = await client.get_secret(RemoteRef(keys[i % 10], property="v"))
            return value

        values = await asyncio.gather(*(reconcile(i) for i in range(1000)))
        assert values == [keys[i % 10].encode() for i in range(1000)]
        c = await clients.client_for(st, NS)
        assert isinstance(c, VaultStoreClient)
        assert (clients.built, c.client.logins, c.reads, c.client.requests) == (1, 1, 10, 11)
        assert c.client.hvac().adapter.session.headers["X-Secrets-Kit-Test"] == "1"
        await asyncio.sleep(c.cache_seconds + 0.1)  # the window passed: one more read per path, no login
        await asyncio.gather(*(reconcile(i) for i in range(100)))
        assert (c.client.logins, c.reads, c.client.requests) == (1, 20, 21)
        await clients.close()

    run(main())


def test_token_renewed_and_relogin_after_revocation(vault_dev: VaultSetup) -> None:
    root = vault_dev.server.client()
    root.auth.approle.create_or_update_approle("eso-short", token_policies=[vault_dev.policy], token_ttl="90s",
                                               token_max_ttl="1h")
    role_id = root.auth.approle.read_role_id("eso-short")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("eso-short")["data"]["secret_id"]
    key = f"renew/{secrets.token_hex(3)}"
    put_v2(vault_dev, key, {"v": "x"})
    kube = FakeKube({(NS, "short"): {"id": secret_id.encode()}})
    auth = {"appRole": {"roleId": role_id, "secretRef": {"name": "short", "key": "id"}}}

    async def main() -> None:
        clients, c = await client_of(kube, store(vault_dev, auth), vault_cache_seconds=0)
        await c.get_secret(RemoteRef(key, property="v"))
        vc = c.client
        token, lease = vc.hvac().token, vc.lease
        assert lease is not None and 0 < lease.ttl <= 90 and lease.renewable
        vc.lease = type(lease)(lease.ttl, lease.renewable, time.monotonic() - 70)  # 70 s later: 20 s < a third of 90 s
        before = vc.requests
        await c.get_secret(RemoteRef(key, property="v"))
        assert vc.requests - before == 2  # renew-self + the read
        assert vc.logins == 1 and vc.hvac().token == token and vc.lease.remaining() > 30  # type: ignore[union-attr,operator]
        root.auth.token.revoke(token)  # revoked behind our back
        assert await c.get_secret(RemoteRef(key, property="v")) == b"x"
        last = vc.hvac().token
        assert vc.logins == 2 and last != token
        await clients.close()
        with pytest.raises(hvac.exceptions.VaultError):  # close() revoked the token it logged in for
            root.auth.token.lookup(last)

    run(main())


# ------------------------------------------------------------------------------- validation / isolation


def test_validation(vault_dev: VaultSetup) -> None:
    kube = FakeKube()

    async def main() -> None:
        clients = StoreClients(kube)
        assert (await clients.validate(store(vault_dev, approle_auth(kube, vault_dev)))).result == "Valid"
        kube.data[(NS, "bad")] = {"token": b"s.not-a-token-SECRET"}
        bad = await clients.validate(store(vault_dev, {"tokenSecretRef": {"name": "bad", "key": "token"}}, name="b"))
        assert bad.result == "Error" and "invalid vault credentials" in bad.message
        assert "SECRET" not in bad.message
        cluster = store(vault_dev, {"tokenSecretRef": {"name": "vault-token", "key": "token"}},
                        kind="ClusterSecretStore", name="c")
        assert (await clients.validate(cluster)).result == "Unknown"  # referent auth
        other = store(vault_dev, {"tokenSecretRef": {"name": "t", "key": "token", "namespace": "other"}}, name="o")
        refused = await clients.validate(other)
        assert refused.result == "Error" and "namespace should either be empty or match" in refused.message
        jwt = await clients.validate(store(vault_dev, {"jwt": {"role": "r"}}, name="j"))
        assert jwt.result == "Error" and "neither `secretRef` nor `kubernetesServiceAccountToken`" in jwt.message
        none = await clients.validate(store(vault_dev, {}, name="n"))
        assert none.message.endswith("cannot initialize Vault client: no valid auth method specified")
        await clients.close()

    run(main())


def test_namespace_isolation(vault_dev: VaultSetup) -> None:
    key = f"iso/{secrets.token_hex(3)}"
    put_v2(vault_dev, key, {"v": "ok"})
    kube = FakeKube()
    for ns in ("team-a", "team-b", "infra"):
        root_auth(kube, vault_dev, ns)

    async def main() -> None:
        clients = StoreClients(kube)
        referent = store(vault_dev, {"tokenSecretRef": {"name": "vault-token", "key": "token"}},
                         kind="ClusterSecretStore", name="shared")
        for es_ns in ("team-a", "team-b"):
            c = await clients.client_for(referent, es_ns)
            assert await c.get_secret(RemoteRef(key, property="v")) == b"ok"
            assert kube.secret_reads[-1] == (es_ns, "vault-token", "token")  # the ES's namespace
        assert clients.built == 2  # one client per ES namespace under referent auth
        fixed = store(vault_dev, {"tokenSecretRef": {"name": "vault-token", "key": "token", "namespace": "infra"}},
                      kind="ClusterSecretStore", name="fixed")
        first = await clients.client_for(fixed, "team-a")
        assert await clients.client_for(fixed, "team-b") is first
        await first.get_secret(RemoteRef(key, property="v"))
        assert kube.secret_reads[-1] == ("infra", "vault-token", "token")
        namespaced = store(vault_dev, {"tokenSecretRef": {"name": "vault-token", "key": "token"}}, namespace="team-b",
                           name="own")
        c = await clients.client_for(namespaced, "team-b")
        await c.get_secret(RemoteRef(key, property="v"))
        assert kube.secret_reads[-1] == ("team-b", "vault-token", "token")
        with pytest.raises(ProviderError, match="namespace should either be empty"):
            await clients.client_for(store(vault_dev, {"tokenSecretRef": {
                "name": "vault-token", "key": "token", "namespace": "infra"}}, name="sneaky"), NS)
        await clients.close()

    run(main())


def test_no_value_in_errors_or_logs(vault_dev: VaultSetup, caplog: pytest.LogCaptureFixture) -> None:
    plaintext = f"TOP-SECRET-{secrets.token_hex(6)}"
    key = f"leak/{secrets.token_hex(3)}"
    put_v2(vault_dev, key, {"v": plaintext, "obj": {"inner": plaintext}})
    kube = FakeKube({(NS, "pw"): {"password": plaintext.encode()}})
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []

    async def expect_error(fn: Callable[[], Any]) -> None:
        try:
            await fn()
        except SecretsKitError as exc:
            errors.append(str(exc))
        else:
            raise AssertionError("expected an error")

    async def main() -> None:
        clients, c = await client_of(kube, store(vault_dev, approle_auth(kube, vault_dev)))
        await expect_error(lambda: c.get_secret(RemoteRef(key, property="missing")))
        await expect_error(lambda: c.get_secret_map(RemoteRef(key, property="v")))  # a string, not an object
        await expect_error(lambda: c.get_secret(RemoteRef(key, version="7")))
        await clients.close()
        clients, c = await client_of(kube, store(vault_dev, approle_auth(kube, vault_dev), path="forbidden", name="f"))
        await expect_error(lambda: c.get_secret(RemoteRef(key)))  # permission denied
        assert (c.client.logins, c.client.requests) == (1, 3)  # login, the read, a token check; no retry
        await clients.close()
        wrong = {"userPass": {"username": vault_dev.userpass_user, "secretRef": {"name": "pw", "key": "password"}}}
        clients, c = await client_of(kube, store(vault_dev, wrong, name="w"))
        await expect_error(lambda: c.get_secret(RemoteRef(key)))  # login refused
        errors.append((await clients.validate(store(vault_dev, wrong, name="w2"))).message)
        await clients.close()

    run(main())
    assert len(errors) == 6 and all(errors)
    assert "permission denied" in errors[3]
    for text in [*errors, caplog.text]:
        assert plaintext not in text
        assert vault_dev.approle_secret_id not in text


def test_new_generation_replaces_the_client_and_revokes_its_token(vault_dev: VaultSetup) -> None:
    key = f"gen/{secrets.token_hex(3)}"
    put_v2(vault_dev, key, {"v": "ok"})
    kube = FakeKube()
    root = vault_dev.server.client()

    async def main() -> None:
        clients = StoreClients(kube)
        first = await clients.client_for(store(vault_dev, approle_auth(kube, vault_dev)), NS)
        assert isinstance(first, VaultStoreClient)
        await first.get_secret(RemoteRef(key, property="v"))
        old_token = first.client.hvac().token
        second = await clients.client_for(store(vault_dev, approle_auth(kube, vault_dev), generation=2), NS)
        assert second is not first and clients.built == 2
        with pytest.raises(hvac.exceptions.VaultError):  # the replaced client was closed: token revoked
            root.auth.token.lookup(old_token)
        assert await second.get_secret(RemoteRef(key, property="v")) == b"ok"
        await clients.close()

    run(main())


def test_short_lived_token_is_renewed_not_replaced_at_every_read(vault_dev: VaultSetup) -> None:
    root = vault_dev.server.client()
    root.auth.approle.create_or_update_approle("eso-30s", token_policies=[vault_dev.policy], token_ttl="30s",
                                               token_max_ttl="1h")
    role_id = root.auth.approle.read_role_id("eso-30s")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("eso-30s")["data"]["secret_id"]
    key = f"short/{secrets.token_hex(3)}"
    put_v2(vault_dev, key, {"v": "x"})
    kube = FakeKube({(NS, "s30"): {"id": secret_id.encode()}})
    auth = {"appRole": {"roleId": role_id, "secretRef": {"name": "s30", "key": "id"}}}

    async def main() -> None:
        clients, c = await client_of(kube, store(vault_dev, auth), vault_cache_seconds=0)
        for _ in range(5):
            await c.get_secret(RemoteRef(key, property="v"))
        vc = c.client
        assert (vc.logins, vc.requests) == (1, 6)  # 30 s < 60 s, yet no renewal while 2/3 of it is left
        lease = vc.lease
        assert lease is not None
        vc.lease = type(lease)(lease.ttl, lease.renewable, time.monotonic() - 25)  # 5 s left
        await c.get_secret(RemoteRef(key, property="v"))
        assert (vc.logins, vc.requests) == (1, 8)  # renew-self + the read
        await clients.close()

    run(main())
