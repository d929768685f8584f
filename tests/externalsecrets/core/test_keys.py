"""Key rewriting, conversion, validation and decoding, checked against the Go oracle where Go decides."""

from __future__ import annotations

import base64

import pytest

from secrets_kit.externalsecrets import keys
from secrets_kit.externalsecrets.spec import Rewrite

from .helpers import ORACLE, SECRET_VALUE, render_rewrite


@pytest.mark.parametrize("case", ORACLE["regexp"], ids=lambda c: f"{c['source']}→{c['target']}")
def test_regexp_replace_all_matches_go(case: dict) -> None:
    if case["error"]:
        with pytest.raises(keys.KeyError_, match="rewriting regexp operation\\[0\\]"):
            keys.rewrite_map((Rewrite(case["source"], case["target"]),), {case["input"]: b"v"})
        return
    out = keys.rewrite_map((Rewrite(case["source"], case["target"]),), {case["input"]: b"v"})
    assert out == {case["output"]: b"v"}


def test_rewrites_apply_in_order_and_transform() -> None:
    ops = (Rewrite("^db/", ""), Rewrite(transform="{{ .value | upper }}"), Rewrite("_", "-"))
    out = keys.rewrite_map(ops, {"db/user_name": b"1", "db/pass": b"2"}, transform=render_rewrite)
    assert out == {"USER-NAME": b"1", "PASS": b"2"}


def test_transform_error_names_operation_not_value() -> None:
    with pytest.raises(keys.KeyError_) as err:
        keys.rewrite_map((Rewrite(transform="{{ .nokey }}"),), {"k": SECRET_VALUE.encode()},
                         transform=render_rewrite)
    assert "transform operation[0]" in str(err.value) and SECRET_VALUE not in str(err.value)


@pytest.mark.parametrize("case", ORACLE["convert"], ids=lambda c: c["key"])
def test_convert_keys_matches_go(case: dict) -> None:
    assert keys.convert_keys("Default", {case["key"]: b"v"}) == {case["default"]: b"v"}
    assert keys.convert_keys("Unicode", {case["key"]: b"v"}) == {case["unicode"]: b"v"}


def test_convert_collision() -> None:
    with pytest.raises(keys.KeyError_, match="secret name collision during conversion: a_b"):
        keys.convert_keys("Default", {"a/b": b"1", "a:b": b"2"})


def test_validate_keys() -> None:
    assert keys.validate_keys({"": b"x", "ok.key-1_": b"y"}) == {"ok.key-1_": b"y"}
    with pytest.raises(keys.KeyError_, match="key has invalid character /"):
        keys.validate_keys({"a/b": SECRET_VALUE.encode()})
    with pytest.raises(keys.KeyError_, match="key has length 254 but max is 253"):
        keys.validate_keys({"k" * 254: b"x"})


@pytest.mark.parametrize("case", ORACLE["base64"], ids=lambda c: repr(c["input"]))
def test_decoding_matches_go(case: dict) -> None:
    raw = case["input"].encode()
    for strategy, want, failed in (("Base64", case["std"], case["std_error"]),
                                   ("Base64URL", case["url"], case["url_error"])):
        if failed:
            with pytest.raises(keys.KeyError_):
                keys.decode_map(strategy, {"k": raw})
        else:
            assert keys.decode_map(strategy, {"k": raw}) == {"k": base64.b64decode(want or "")}
    # Auto: std, then URL, then the raw value
    if not case["std_error"]:
        auto = base64.b64decode(case["std"] or "")
    elif not case["url_error"]:
        auto = base64.b64decode(case["url"] or "")
    else:
        auto = raw
    assert keys.decode_map("Auto", {"k": raw}) == {"k": auto}
    assert keys.decode_map("None", {"k": raw}) == {"k": raw}


def test_decode_error_names_key_not_value() -> None:
    with pytest.raises(keys.KeyError_) as err:
        keys.decode_map("Base64", {"pw": SECRET_VALUE.encode()})
    assert "failure decoding key pw" in str(err.value) and SECRET_VALUE not in str(err.value)


def test_null_bytes() -> None:
    keys.check_null_bytes("Ignore", {"k": b"a\x00b"})
    with pytest.raises(keys.KeyError_, match="key k contains null bytes"):
        keys.check_null_bytes("Fail", {"k": b"a\x00b"})
