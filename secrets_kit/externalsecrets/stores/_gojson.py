"""JSON the way ESO's Go code sees it: raw spans kept, Go's encoder, tidwall/gjson results.

- `parse(text)` reads JSON keeping, on every object, array and number, the exact text it came
  from (`.raw`): Go's `json.RawMessage` and gjson's `Result.Raw` hand out that text unchanged, and
  Vault's client decodes numbers as `json.Number` (the literal, not a float).
- `marshal(value)` is Go's `json.Marshal`: compact, map keys sorted, `<>&` and U+2028/U+2029
  escaped, invalid code points as U+FFFD; float64 numbers in Go's format, literals as written.
- `gjson_get(document, path)` evaluates a gjson path (the `gjson` package) and returns what Go's
  `Result.String()` gives, or None when the path does not exist.

Error texts never quote the input: it may be a secret.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


class RawDict(dict[str, Any]):
    raw: str = ""


class RawList(list[Any]):
    raw: str = ""


class RawInt(int):
    raw: str = ""


class RawFloat(float):
    raw: str = ""


class JSONSyntaxError(ValueError):
    """Not valid JSON; the message gives an offset and never the text."""


_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def parse(text: str) -> Any:
    """JSON text -> Python values with `.raw` kept (RawDict, RawList, RawInt, RawFloat, str, bool, None)."""
    value, end = _value(text, _WS.match(text, 0).end())  # type: ignore[union-attr]
    end = _WS.match(text, end).end()  # type: ignore[union-attr]
    if end != len(text):
        raise JSONSyntaxError(f"invalid character after top-level value (offset {end})")
    return value


def _value(text: str, i: int) -> tuple[Any, int]:
    if i >= len(text):
        raise JSONSyntaxError("unexpected end of JSON input")
    c = text[i]
    if c == "{":
        out: RawDict = RawDict()
        j = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        if text.startswith("}", j):
            out.raw = text[i:j + 1]
            return out, j + 1
        while True:
            m = _STRING.match(text, j)
            if m is None:
                raise _bad(text, j, "looking for beginning of object key string")
            key = json.loads(m.group())
            j = _WS.match(text, m.end()).end()  # type: ignore[union-attr]
            if not text.startswith(":", j):
                raise _bad(text, j, "after object key")
            j = _WS.match(text, j + 1).end()  # type: ignore[union-attr]
            out[key], j = _value(text, j)
            j = _WS.match(text, j).end()  # type: ignore[union-attr]
            if text.startswith(",", j):
                j = _WS.match(text, j + 1).end()  # type: ignore[union-attr]
                continue
            if text.startswith("}", j):
                out.raw = text[i:j + 1]
                return out, j + 1
            raise _bad(text, j, "after object key:value pair")
    if c == "[":
        arr: RawList = RawList()
        j = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        if text.startswith("]", j):
            arr.raw = text[i:j + 1]
            return arr, j + 1
        while True:
            item, j = _value(text, j)
            arr.append(item)
            j = _WS.match(text, j).end()  # type: ignore[union-attr]
            if text.startswith(",", j):
                j = _WS.match(text, j + 1).end()  # type: ignore[union-attr]
                continue
            if text.startswith("]", j):
                arr.raw = text[i:j + 1]
                return arr, j + 1
            raise _bad(text, j, "after array element")
    if c == '"':
        m = _STRING.match(text, i)
        if m is None:
            raise _bad(text, i, "in string literal")
        return json.loads(m.group()), m.end()
    for word, val in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, i):
            return val, i + len(word)
    m = _NUMBER.match(text, i)
    if m is None or m.end() == i:
        raise _bad(text, i, "looking for beginning of value")
    literal = m.group()
    num: RawInt | RawFloat
    num = RawInt(int(literal)) if m.group(1) is None and m.group(2) is None else RawFloat(float(literal))
    num.raw = literal
    return num, m.end()


def _bad(text: str, i: int, context: str) -> JSONSyntaxError:
    if i >= len(text):
        return JSONSyntaxError("unexpected end of JSON input")
    return JSONSyntaxError(f"invalid character {context} (offset {i})")


# ------------------------------------------------------------------------------------ encoder

_HEX = "0123456789abcdef"
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
          "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NEEDS = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]')


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    short = _SHORT.get(c)
    if short is not None:
        return short
    if "\ud800" <= c <= "\udfff":
        return "\ufffd"  # Go decodes a lone surrogate as U+FFFD and writes that character
    o = ord(c)
    return "\\u00" + _HEX[o >> 4] + _HEX[o & 0xF]


def quote(text: str) -> str:
    """Go's JSON string encoding with HTML escaping (json.Marshal's default)."""
    return '"' + _NEEDS.sub(_escape_char, text) + '"'


def format_float_f(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0"
    return text


def _go_float(value: float) -> str:
    """encoding/json's float64 format (ES6 style: an exponent below 1e-6 or from 1e21)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("json: unsupported value: NaN or Inf")
    a = abs(value)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = repr(value)
        if "e" not in text:
            text = format(value, "e")
        mant, exp = text.split("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        if mant.endswith(".0"):
            mant = mant[:-2]
        return f"{mant}e{sign}{digits}"
    if value == int(value) and a >= 1e16:
        return str(int(value))
    return format_float_f(value)


def marshal(value: Any, *, raw: bool = False) -> str:
    """Go's json.Marshal. With `raw`, objects/arrays that came from `parse` are written as they were
    (json.RawMessage, gjson Raw); numbers that came from `parse` are always their literal (json.Number)."""
    parts: list[str] = []
    _encode(value, parts, raw)
    return "".join(parts)


def _encode(value: Any, out: list[str], raw: bool) -> None:
    if raw and isinstance(value, RawDict | RawList) and value.raw:
        out.append(value.raw)
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(quote(value))
    elif isinstance(value, RawInt | RawFloat) and value.raw:
        out.append(value.raw)
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_go_float(value))
    elif isinstance(value, Mapping):
        out.append("{")
        items = value.items() if raw else sorted(value.items())  # raw: gjson builds in its own order
        for n, (k, v) in enumerate(items):
            if n:
                out.append(",")
            out.append(quote(str(k)))
            out.append(":")
            _encode(v, out, raw)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for n, v in enumerate(value):
            if n:
                out.append(",")
            _encode(v, out, raw)
        out.append("]")
    else:
        raise TypeError(f"json: unsupported type: {type(value).__name__}")


# -------------------------------------------------------------------------------------- gjson


def result_string(value: Any, *, raw: bool) -> str:
    """tidwall/gjson Result.String(): strings unquoted, integers literal, other numbers FormatFloat
    'f', true/false, null as "", objects and arrays as their raw JSON."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        literal = value.raw if isinstance(value, RawInt | RawFloat) and value.raw else marshal(value)
        if re.fullmatch(r"-?[0-9]+", literal):
            return literal
        return format_float_f(float(value))
    return marshal(value, raw=raw)


_MISSING = object()
# a member name with none of gjson's path syntax (. * ? # | @ \ ! = < > % ( ) [ ] { } , : ") in it
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def gjson_get(document: Any, path: str, *, raw: bool) -> str | None:
    """gjson.Get(json, path).String(), None when the result does not exist."""
    if isinstance(document, dict) and _PLAIN_KEY.fullmatch(path):
        value = document.get(path, _MISSING)  # the common `property: password`: no query engine needed
    else:
        import gjson

        try:
            value = gjson.get(document, path)
        except Exception:  # gjson-py raises for a path that does not resolve (gjson's !Exists())
            return None
    if value is _MISSING:
        return None
    return result_string(value, raw=raw)
