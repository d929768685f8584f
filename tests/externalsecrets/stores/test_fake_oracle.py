"""Our fake provider against ESO v0.16.2's own (fake_oracle.json, made by fake_oracle/main.go).

Errors: ESO's NoSecretErr must be our NoSecretError; Go's JSON syntax errors quote a character of
the value, ours never do (the rest of the text is compared).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.errors import ProviderError
from secrets_kit.externalsecrets.refs import FindRef, NoSecretError, RemoteRef
from secrets_kit.externalsecrets.stores.fake import FakeStoreClient, _entries

CASES = json.loads((Path(__file__).parent / "fake_oracle.json").read_text(encoding="utf-8"))


async def _run(case: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
    client = FakeStoreClient(_entries({"data": case["data"]}, "test"))
    ref = RemoteRef(case["key"], property=case["property"], version=case["version"])
    if case["op"] == "get":
        return (await client.get_secret(ref)).decode(), None
    if case["op"] == "map":
        got = await client.get_secret_map(ref)
    else:
        # fake_oracle/main.go passes a zero ExternalSecretFind (conversionStrategy "": keys kept as they are)
        got = await client.get_all_secrets(FindRef(name_regexp=case["regexp"], conversion_strategy=""))
    return "", {k: v.decode() for k, v in got.items()}


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{c['op']}:{c['key']}:{c['property'] or c['regexp']}"
                                             for i, c in enumerate(CASES)])
def test_fake_matches_eso(case: dict[str, Any]) -> None:
    expected_map = case["map"] if case["op"] != "get" else None
    if not case["err"]:
        assert asyncio.run(_run(case)) == (case["value"], expected_map)
        return
    with pytest.raises(ProviderError) as err:
        asyncio.run(_run(case))
    if case["err"] == "Secret does not exist":
        assert isinstance(err.value, NoSecretError) and err.value.message == case["err"]
        return
    assert not isinstance(err.value, NoSecretError)
    if "invalid character" in case["err"]:
        assert err.value.message.startswith("unable to unmarshal secret: invalid character")
    else:
        assert err.value.message == case["err"]


def test_fake_find_converts_keys_itself() -> None:
    """ESO's fake GetAllSecrets ends in utils.ConvertKeys(find.conversionStrategy): `/` → `_` (Default),
    `_U002f_` (Unicode), before any rewrite; a collision is an error naming the key only."""
    client = FakeStoreClient(_entries({"data": [{"key": "dir/a", "value": "x"}, {"key": "b", "value": "y"}]}, "test"))
    assert asyncio.run(client.get_all_secrets(FindRef(name_regexp="."))) == {"dir_a": b"x", "b": b"y"}
    unicode = asyncio.run(client.get_all_secrets(FindRef(name_regexp="dir", conversion_strategy="Unicode")))
    assert unicode == {"dir_U002f_a": b"x"}
    clash = FakeStoreClient(_entries({"data": [{"key": "a/b", "value": "x"}, {"key": "a_b", "value": "y"}]}, "test"))
    with pytest.raises(ProviderError) as err:
        asyncio.run(clash.get_all_secrets(FindRef(name_regexp="a")))
    assert "secret name collision during conversion: a_b" in err.value.message
