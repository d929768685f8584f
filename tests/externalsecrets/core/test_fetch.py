"""fetch(): ESO's order (dataFrom then data), transforms, NotFound per deletionPolicy, no values in errors."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from secrets_kit.externalsecrets.fetch import FetchError, fetch
from secrets_kit.externalsecrets.spec import parse_external_secret

from .helpers import SECRET_VALUE, FakeClient, client_for, es_manifest, render_rewrite


def run(spec: dict[str, Any], values: dict[str, Any]) -> tuple[Any, FakeClient]:
    client = FakeClient(values)
    es = parse_external_secret(es_manifest(spec={"secretStoreRef": {"name": "s"}, **spec}))
    return asyncio.run(fetch(es, client_for(client), transform=render_rewrite)), client


def test_data_from_then_data_overwrites() -> None:
    got, _ = run({"dataFrom": [{"extract": {"key": "a"}}, {"extract": {"key": "b"}}],
                  "data": [{"secretKey": "x", "remoteRef": {"key": "c"}}]},
                 {"a": {"x": "1", "y": "1"}, "b": {"y": "2"}, "c": b"3"})
    assert got.data == {"x": b"3", "y": b"2"} and got.events == []


def test_extract_convert_validate_decode() -> None:
    got, _ = run({"dataFrom": [{"extract": {"key": "a", "decodingStrategy": "Base64"}}]},
                 {"a": {"my key": base64.b64encode(b"v").decode(), "": "dropped"}})
    assert got.data == {"my_key": b"v"}


def test_rewrite_skips_conversion() -> None:
    with pytest.raises(FetchError, match=r"invalid secret keys.*key has invalid character"):
        run({"dataFrom": [{"extract": {"key": "a"}, "rewrite": [{"regexp": {"source": "^x", "target": "y"}}]}]},
            {"a": {"my key": "v"}})


def test_find_with_rewrite_and_transform() -> None:
    got, _ = run({"dataFrom": [{"find": {"path": "app/", "name": {"regexp": "."}},
                                "rewrite": [{"regexp": {"source": "app/(.*)", "target": "$1"}},
                                            {"transform": {"template": "{{ .value | upper }}"}}]}]},
                 {"app/one": b"1", "app/two": b"2", "other": b"3"})
    assert got.data == {"ONE": b"1", "TWO": b"2"}


def test_find_keys_converted() -> None:
    got, _ = run({"dataFrom": [{"find": {"path": "app/", "name": {"regexp": "."}}}]}, {"app/one": b"1"})
    assert got.data == {"app_one": b"1"}


def test_data_decoding() -> None:
    got, _ = run({"data": [{"secretKey": "k", "remoteRef": {"key": "a", "decodingStrategy": "Auto"}},
                           {"secretKey": "r", "remoteRef": {"key": "b", "decodingStrategy": "Auto"}}]},
                 {"a": base64.urlsafe_b64encode(b"\xfb\xff").rstrip(b"") , "b": b"raw value!"})
    assert got.data == {"k": b"\xfb\xff", "r": b"raw value!"}


def test_identical_reads_made_once() -> None:
    got, client = run({"data": [{"secretKey": "a", "remoteRef": {"key": "db", "property": "u"}},
                                {"secretKey": "b", "remoteRef": {"key": "db", "property": "u"}}]},
                      {"db": {"u": "x"}})
    assert got.data == {"a": b"x", "b": b"x"}
    assert len(client.calls) == 1


@pytest.mark.parametrize("policy", ["Delete", "Merge"])
def test_not_found_skipped_unless_retain(policy: str) -> None:
    got, _ = run({"target": {"deletionPolicy": policy},
                  "dataFrom": [{"extract": {"key": "gone"}}],
                  "data": [{"secretKey": "k", "remoteRef": {"key": "gone2"}},
                           {"secretKey": "ok", "remoteRef": {"key": "here"}}]},
                 {"here": b"v"})
    assert got.data == {"ok": b"v"}
    assert [(e.type, e.reason, e.message) for e in got.events] == [
        ("Normal", "MissingProviderSecret", "secret does not exist at provider using spec.dataFrom[0]"),
        ("Normal", "MissingProviderSecret", "secret does not exist at provider using spec.dataFrom[0] (key=gone2)"),
    ]


def test_not_found_with_retain_is_an_error() -> None:
    with pytest.raises(FetchError) as err:
        run({"data": [{"secretKey": "k", "remoteRef": {"key": "gone"}}]}, {})
    assert str(err.value).startswith("ExternalSecret default/my-es: error processing spec.data[0] (key: gone), err:")
    assert err.value.not_found


def test_generators_refused() -> None:
    with pytest.raises(FetchError, match="generators are not supported"):
        run({"dataFrom": [{"sourceRef": {"generatorRef": {"kind": "Password", "name": "p"}}}]}, {})


def test_errors_carry_no_value() -> None:
    value = SECRET_VALUE.encode()
    for spec, values in (
        ({"dataFrom": [{"extract": {"key": "a", "decodingStrategy": "Base64"}}]}, {"a": {"k": SECRET_VALUE}}),
        ({"data": [{"secretKey": "k", "remoteRef": {"key": "a", "decodingStrategy": "Base64"}}]}, {"a": value}),
        ({"dataFrom": [{"extract": {"key": "a", "nullBytePolicy": "Fail"}}]}, {"a": {"k": SECRET_VALUE + "\0"}}),
        ({"dataFrom": [{"extract": {"key": "a"}, "rewrite": [{"transform": {"template": "{{ .nope }}"}}]}]},
         {"a": {"k": SECRET_VALUE}}),
    ):
        with pytest.raises(FetchError) as err:
            run(spec, values)
        assert SECRET_VALUE not in str(err.value) and SECRET_VALUE not in repr(err.value.args)


def test_foreign_exception_text_not_copied() -> None:
    class Boom(FakeClient):
        async def get_secret(self, ref: Any) -> bytes:
            raise RuntimeError(SECRET_VALUE)
    es = parse_external_secret(es_manifest())
    with pytest.raises(FetchError) as err:
        asyncio.run(fetch(es, client_for(Boom({}))))
    assert "RuntimeError" in str(err.value) and SECRET_VALUE not in str(err.value)


def test_store_errors_wrapped_as_eso() -> None:
    from secrets_kit.errors import ProviderError

    async def broken(_ref: Any) -> Any:
        raise ProviderError("SecretStore s is not ready")

    cases: list[tuple[dict[str, Any], str]] = [({"dataFrom": [{"find": {"name": {"regexp": "."}}}]},
              "error processing spec.dataFrom[0].find, err: SecretStore s is not ready"),
             ({"dataFrom": [{"extract": {"key": "a"}}]},
              "error processing spec.dataFrom[0].extract, err: SecretStore s is not ready"),
             ({"data": [{"secretKey": "k", "remoteRef": {"key": "db"}}]},
              "error processing spec.data[0] (key: db), err: SecretStore s is not ready")]
    for spec, message in cases:
        es = parse_external_secret(es_manifest(spec={"secretStoreRef": {"name": "s"}, **spec}))
        with pytest.raises(FetchError) as err:
            asyncio.run(fetch(es, broken))
        assert err.value.message == message
