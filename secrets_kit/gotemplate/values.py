"""Go's view of template values: how fmt prints them, what counts as true, and their type names."""

from __future__ import annotations

import json
from typing import Any

from .. import limits


class TemplateError(Exception):
    """A template that Go's text/template would refuse to parse or execute. Messages never quote data."""


def within(limit: limits.Limit, amount: int) -> int:
    """`amount` (a width, a count, a length about to be built) if it is within `limit`, else a
    TemplateError naming the limit and its setting (the caller adds which template failed)."""
    message = limits.exceeds(limit, amount)
    if message is not None:
        raise TemplateError(message)
    return amount


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()  # a map key that is not there: prints as <no value>, is false


class StringMap(dict[str, str]):
    """Go's map[string]string: a missing key indexes to "" (Sprig's dicts give <no value>)."""


def go_str(value: Any) -> str:
    """How Go's fmt prints a value with %v."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def text(value: Any) -> str:
    """A string argument as Go functions taking `string` (or Sprig's toString) see it."""
    return value if isinstance(value, str) else go_str(value)


def go_quote(value: Any) -> str:
    return json.dumps(text(value), ensure_ascii=False)


def truthy(value: Any) -> bool:
    """Go's truth: false, 0, nil, and empty strings, lists and maps are false."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | dict | bytes):
        return len(value) > 0
    return True


def go_type(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float64", str: "string", list: "[]interface {}"}
    return "nil" if value is None or value is MISSING else names.get(type(value), "map")
