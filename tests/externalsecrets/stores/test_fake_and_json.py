"""The fake provider, Go JSON encoding and gjson results, store conditions and the client cache.

Expected values follow ESO v0.16.2 (pkg/provider/fake/fake.go and fake_test.go, encoding/json,
tidwall/gjson Result.String, pkg/controllers/secretstore/client_manager.go).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from secrets_kit.errors import ProviderError
from secrets_kit.externalsecrets.refs import FindRef, NoSecretError, RemoteRef
from secrets_kit.externalsecrets.stores import (
    PROVIDERS,
    StoreClients,
    cluster_store_allows,
    denied_message,
    validate_store,
)
from secrets_kit.externalsecrets.stores import _gojson as gj
from secrets_kit.externalsecrets.stores.vault import VaultStoreSpec, byte_value, decode_map, secret_value


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def fake_store(data: list[dict[str, str]], *, name: str = "fake", kind: str = "SecretStore",
               generation: int = 1, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": "u-1", "generation": generation}
    if kind == "SecretStore":
        meta["namespace"] = "team-a"
    return {"apiVersion": "external-secrets.io/v1", "kind": kind, "metadata": meta,
            "spec": {"provider": {"fake": {"data": data}}, **spec}}


async def fake_client(data: list[dict[str, str]]) -> Any:
    return await StoreClients().client_for(fake_store(data), "team-a")


# ------------------------------------------------------------------------------------- fake


def test_fake_get_secret_versions_like_eso() -> None:
    data = [{"key": "/foo", "value": "bar2", "version": "v2"}, {"key": "junk", "value": "xxxxx"},
            {"key": "/foo", "value": "bar1", "version": "v1"}]

    async def main() -> None:
        c = await fake_client(data)
        assert await c.get_secret(RemoteRef("/foo", version="v2")) == b"bar2"
        assert await c.get_secret(RemoteRef("/foo", version="v1")) == b"bar1"
        with pytest.raises(NoSecretError) as err:
            await c.get_secret(RemoteRef("/foo"))  # no unversioned entry
        assert err.value.message == "Secret does not exist"
        with pytest.raises(NoSecretError):
            await c.get_secret(RemoteRef("/foo", version="v3"))

    run(main())


def test_fake_key_and_version_share_a_slot() -> None:
    # mapKey is key+version: ("a", "1") and ("a1", "") collide; the later entry wins and a read whose
    # version differs from the slot's is NoSecretErr
    async def main() -> None:
        c = await fake_client([{"key": "a", "value": "x", "version": "1"}, {"key": "a1", "value": "y"}])
        assert await c.get_secret(RemoteRef("a1")) == b"y"
        with pytest.raises(NoSecretError):
            await c.get_secret(RemoteRef("a", version="1"))

    run(main())


def test_fake_property_is_gjson_raw() -> None:
    value = '{"p1":"bar","p2":"bar2","n":{"b" : 1.50, "c":[1, 2]},"i":10,"f":1.50,"e":1e3,"t":true,"z":null}'

    async def main() -> None:
        c = await fake_client([{"key": "/foo", "value": value}])

        async def prop(p: str) -> bytes:
            result: bytes = await c.get_secret(RemoteRef("/foo", property=p))
            return result

        assert await prop("p2") == b"bar2"
        assert await prop("n") == b'{"b" : 1.50, "c":[1, 2]}'  # Raw, whitespace kept
        assert await prop("n.c") == b"[1, 2]"
        assert await prop("n.c.1") == b"2"
        assert await prop("n.c.#") == b"2"
        assert await prop("i") == b"10"
        assert await prop("f") == b"1.5"  # not an integer literal: FormatFloat 'f'
        assert await prop("e") == b"1000"
        assert await prop("t") == b"true"
        assert await prop("z") == b""  # exists, String() of null is ""
        with pytest.raises(NoSecretError):
            await prop("missing")
        with pytest.raises(NoSecretError):
            await prop("n.c.7")

    run(main())


def test_fake_extract_keeps_raw_json_members() -> None:
    value = '{"s":"a<b>&c", "esc":"\\u00e9\\n", "obj": {"b" : 1, "a":"<x>"}, "num": 1.50, "t": true, "z": null}'

    async def main() -> None:
        c = await fake_client([{"key": "k", "value": value}])
        got = await c.get_secret_map(RemoteRef("k"))
        assert got == {"s": b"a<b>&c", "esc": "é\n".encode(), "obj": b'{"b" : 1, "a":"<x>"}', "num": b"1.50",
                       "t": b"true", "z": b""}
        with pytest.raises(ProviderError) as err:
            await (await fake_client([{"key": "k", "value": '["secret-in-array"]'}])).get_secret_map(RemoteRef("k"))
        assert "cannot unmarshal array into Go value of type map[string]json.RawMessage" in str(err.value)
        assert "secret-in-array" not in str(err.value)
        with pytest.raises(ProviderError) as err:
            await (await fake_client([{"key": "k", "value": "not-json-SECRET"}])).get_secret_map(RemoteRef("k"))
        assert str(err.value).count("unable to unmarshal secret") == 1 and "SECRET" not in str(err.value)
        assert await (await fake_client([{"key": "k", "value": "null"}])).get_secret_map(RemoteRef("k")) == {}
        with pytest.raises(NoSecretError):
            await c.get_secret_map(RemoteRef("nope"))

    run(main())


def test_fake_find_by_name_latest_version() -> None:
    data = [{"key": "some-key1", "value": "some-value1-version1", "version": "1"},
            {"key": "some-key1", "value": "some-value1-version2", "version": "2"},
            {"key": "some-key2", "value": "some-value2-version1", "version": "1"},
            {"key": "some-key2", "value": "some-value2-version3", "version": "3"},
            {"key": "some-key2", "value": "some-value2-version2", "version": "2"},
            {"key": "another-key1", "value": "another-value1-version1", "version": "1"}]

    async def main() -> None:
        c = await fake_client(data)
        got = await c.get_all_secrets(FindRef(name_regexp="some-key.*"))
        assert got == {"some-key1": b"some-value1-version2", "some-key2": b"some-value2-version3"}
        assert await c.get_all_secrets(FindRef(name_regexp="key1")) == {
            "some-key1": b"some-value1-version2", "another-key1": b"another-value1-version1"}  # unanchored
        with pytest.raises(ProviderError, match="unsupported find operator"):
            await c.get_all_secrets(FindRef(tags={"a": "b"}))
        with pytest.raises(ProviderError, match=r"could not compile find\.name\.regexp"):
            await c.get_all_secrets(FindRef(name_regexp="(?<=x)y"))  # look-behind: not RE2

    run(main())


def test_fake_validation_errors_like_the_webhook() -> None:
    assert run(validate_store(fake_store([{"key": "a", "value": "v"}]))).result == "Valid"
    bad = run(validate_store(fake_store([{"key": "a", "value": "v"}, {"key": "", "value": "v"}])))
    assert (bad.result, bad.message.split(": ", 1)[1]) == ("Error", "key must be set in data 1")
    bad = run(validate_store(fake_store([{"key": "a", "value": ""}])))
    assert bad.message.endswith("at least one value must be set in data 0")
    none = run(validate_store({"kind": "SecretStore", "metadata": {"name": "x", "namespace": "n"},
                               "spec": {"provider": {"nope": {}}}}))
    assert none.result == "Error" and "not supported" in none.message
    assert set(PROVIDERS) >= {"fake", "vault"}


# ------------------------------------------------------------------------------- Go JSON


def test_go_marshal_matches_encoding_json() -> None:
    doc = {"b": "<&>", "a": "\u2028\x01\x7f\b\f\t\"\\", "c": [1.0, 1e21, 1e-7, 123456789.0, 0.000001, -0.0, 1e20],
           "é": True, "d": None}
    out = gj.marshal(doc)
    # what Go 1.24's json.Marshal writes for the same map[string]any
    assert out == ('{"a":"\\u2028\\u0001\x7f\\b\\f\\t\\"\\\\","b":"\\u003c\\u0026\\u003e",'
                   '"c":[1,1e+21,1e-7,123456789,0.000001,-0,100000000000000000000],"d":null,"é":true}')
    parsed = gj.parse('{"n": 1.50, "i": 12345678901234567890, "e": 1E3}')
    assert gj.marshal(parsed) == '{"e":1E3,"i":12345678901234567890,"n":1.50}'  # json.Number literals
    assert json.loads(gj.marshal(parsed)) == {"e": 1000.0, "i": 12345678901234567890, "n": 1.5}


def test_format_float_f() -> None:
    assert [gj.format_float_f(x) for x in (1.5, 1e21, 1e-7, 100.0, 1.2345678901234567e19, float("inf"))] == [
        "1.5", "1000000000000000000000", "0.0000001", "100", "12345678901234567000", "+Inf"]


def test_parse_rejects_bad_json_without_quoting_it() -> None:
    for text in ("", "{", '{"a":SECRET}', '{"a":1} x', '"\x01"'):
        with pytest.raises(gj.JSONSyntaxError) as err:
            gj.parse(text)
        assert "SECRET" not in str(err.value)


# ------------------------------------------------------------------------------- Vault value rules


def test_vault_property_rules() -> None:
    data = gj.parse('{"a.b": "exact", "a": {"b": "nested", "n": 1.0}, "num": 1.0, "big": 1e3, "list": [1, "x"],'
                    ' "t": false, "z": null, "html": "<p>"}')
    w = "w"
    assert secret_value(data, "a.b", where=w) == b"exact"  # exact key wins over the gjson path
    assert secret_value(data, "a", where=w) == b'{"b":"nested","n":1.0}'
    assert secret_value(data, "a.n", where=w) == b"1"  # through gjson: FormatFloat
    assert secret_value(data, "num", where=w) == b"1.0"  # exact key: json.Number literal
    assert secret_value(data, "big", where=w) == b"1e3"
    assert secret_value(data, "list", where=w) == b'[1,"x"]'
    assert secret_value(data, "t", where=w) == b"false"
    assert secret_value(data, "z", where=w) == b""
    assert secret_value(data, "list.1", where=w) == b"x"
    assert secret_value(data, "", where=w) == (
        b'{"a":{"b":"nested","n":1.0},"a.b":"exact","big":1e3,"html":"\\u003cp\\u003e","list":[1,"x"],'
        b'"num":1.0,"t":false,"z":null}')
    with pytest.raises(ProviderError) as err:
        secret_value(data, "nope.x", where=w)
    assert err.value.message == 'cannot find secret data for key: "nope.x"'
    with pytest.raises(NoSecretError):
        secret_value(None, "", where=w)


def test_vault_extract_numbers_become_float64() -> None:
    raw = b'{"n":1.0,"big":1e21,"i":12345678901234567890,"o":{"x":1.0,"h":"<"},"s":"v","t":true,"z":null}'
    assert decode_map(raw, where="w") == {
        "n": b"1", "big": b"1000000000000000000000", "i": b"12345678901234567000",
        "o": b'{"h":"\\u003c","x":1}', "s": b"v", "t": b"true", "z": b""}
    with pytest.raises(ProviderError, match="cannot unmarshal string into Go value"):
        decode_map(b'"just-a-string"', where="w")
    assert byte_value(True) == b"true"


@pytest.mark.parametrize(("path", "version", "key", "expected"), [
    ("secret/path", "v2", "foo", "secret/path/data/foo"),
    ("secret/path", "v1", "foo", "secret/path/foo"),
    ("secret/path", "v2", "secret/path/foo", "secret/path/data/foo"),
    ("secret/path", "v2", "secret/path/data/foo", "secret/path/data/foo"),
    ("secret/path", "v1", "secret/path/foo", "secret/path/foo"),
    (None, "v2", "secret/path/foo", "secret/data/path/foo"),
    (None, "v2", "secret/path/data/foo", "secret/path/data/foo"),
    (None, "v1", "secret/path/foo", "secret/path/foo"),
])
def test_build_path_like_eso(path: str | None, version: str, key: str, expected: str) -> None:
    spec = VaultStoreSpec(server="s", path=path, version=version, namespace=None, headers={}, auth={},
                          auth_method="tokenSecretRef")
    assert spec.build_path(key) == expected


def test_metadata_path_like_eso() -> None:
    v2 = VaultStoreSpec("s", "secret", "v2", None, {}, {}, "tokenSecretRef")
    assert v2.metadata_path("app/db", "w") == "secret/metadata/app/db"
    bare = VaultStoreSpec("s", None, "v2", None, {}, {}, "tokenSecretRef")
    assert bare.metadata_path("secret/data/app", "w") == "secret/metadata/app"
    with pytest.raises(ProviderError, match="provided Path isn't a valid kv v2 path"):
        bare.metadata_path("secret/app", "w")


# ------------------------------------------------------------------------------- conditions


def cluster(conditions: list[dict[str, Any]] | None) -> dict[str, Any]:
    store = fake_store([{"key": "a", "value": "b"}], kind="ClusterSecretStore", name="shared")
    if conditions is not None:
        store["spec"]["conditions"] = conditions
    return store


def test_cluster_store_conditions() -> None:
    labels = {"kubernetes.io/metadata.name": "team-a", "tier": "prod"}
    assert cluster_store_allows(cluster(None), "team-a", labels)
    assert cluster_store_allows(fake_store([]), "anything", {})  # a SecretStore has no conditions
    assert cluster_store_allows(cluster([{"namespaces": ["team-b", "team-a"]}]), "team-a", labels)
    assert not cluster_store_allows(cluster([{"namespaces": ["team-b"]}]), "team-a", labels)
    assert cluster_store_allows(cluster([{"namespaceSelector": {"matchLabels": {"tier": "prod"}}}]), "team-a",
                                labels)
    assert not cluster_store_allows(cluster([{"namespaceSelector": {"matchLabels": {"tier": "dev"}}}]),
                                    "team-a", labels)
    assert cluster_store_allows(cluster([{"namespaceSelector": {}}]), "team-a", labels)  # empty: everything
    exprs = [{"key": "tier", "operator": "In", "values": ["prod", "stage"]},
             {"key": "legacy", "operator": "DoesNotExist"}]
    assert cluster_store_allows(cluster([{"namespaceSelector": {"matchExpressions": exprs}}]), "team-a", labels)
    assert not cluster_store_allows(cluster([{"namespaceSelector": {"matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["prod"]}]}}]), "team-a", labels)
    assert cluster_store_allows(cluster([{"namespaceSelector": {"matchExpressions": [
        {"key": "tier", "operator": "Exists"}]}}]), "team-a", labels)
    assert cluster_store_allows(cluster([{"namespaces": ["x"]}, {"namespaceRegexes": ["^team-"]}]), "team-a",
                                labels)
    assert cluster_store_allows(cluster([{"namespaceRegexes": ["eam"]}]), "team-a", labels)  # MatchString
    assert not cluster_store_allows(cluster([{"namespaceRegexes": ["^eam"]}]), "team-a", labels)
    with pytest.raises(ProviderError):
        cluster_store_allows(cluster([{"namespaceSelector": {"matchExpressions": [
            {"key": "tier", "operator": "Bogus"}]}}]), "team-a", labels)
    assert denied_message(cluster(None), "team-a") == (
        'using cluster store "shared" is not allowed from namespace "team-a": denied by spec.condition')


# ------------------------------------------------------------------------------- the cache


def test_store_clients_reuse_and_replace() -> None:
    async def main() -> None:
        clients = StoreClients()
        store = fake_store([{"key": "a", "value": "one"}])
        first, again = await asyncio.gather(clients.client_for(store, "team-a"), clients.client_for(store, "team-a"))
        assert first is again and clients.built == 1
        changed = fake_store([{"key": "a", "value": "two"}], generation=2)
        second = await clients.client_for(changed, "team-a")
        assert second is not first and clients.built == 2
        assert await second.get_secret(RemoteRef("a")) == b"two"
        await clients.close()

    run(main())


def test_store_clients_bad_spec_is_a_provider_error() -> None:
    async def main() -> None:
        with pytest.raises(ProviderError, match="exactly one provider"):
            await StoreClients().client_for({"kind": "SecretStore", "metadata": {"name": "x", "namespace": "n"},
                                             "spec": {"provider": {"fake": {}, "vault": {}}}}, "n")

    run(main())
