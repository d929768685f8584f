"""Our gjson results against tidwall/gjson v1.18.0 itself (gjson_oracle.json, made by gjson_oracle/main.go)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secrets_kit.errors import ProviderError
from secrets_kit.externalsecrets.stores import _gojson
from secrets_kit.externalsecrets.stores.vault import go_quote, secret_value

CASES = json.loads((Path(__file__).parent / "gjson_oracle.json").read_text(encoding="utf-8"))
# gjson's JSON-lines syntax (`..0`) is not supported by the gjson package: a known, documented gap
CASES = [c for c in CASES if not str(c["path"]).startswith("..")]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{c['path']}" for i, c in enumerate(CASES)])
def test_matches_tidwall_gjson(case: dict[str, object]) -> None:
    got = _gojson.gjson_get(_gojson.parse(str(case["doc"])), str(case["path"]), raw=True)
    assert (got is not None, got or "") == (case["exists"], case["string"])


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{c['path']}" for i, c in enumerate(CASES)])
def test_vault_property_matches_eso(case: dict[str, object]) -> None:
    data = _gojson.parse(str(case["doc"]))
    try:
        got: tuple[str, bool] = (secret_value(data, str(case["path"]), where="w").decode(), False)
    except ProviderError as exc:
        assert exc.message == f"cannot find secret data for key: {go_quote(str(case['path']))}"
        got = ("", True)
    assert got == (case["vault"], case["vault_err"])
