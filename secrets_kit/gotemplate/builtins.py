"""Go text/template's predefined functions (and, or, not, len, index, print*, comparisons, escapes)."""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from .. import limits
from .values import MISSING, StringMap, TemplateError, go_quote, go_str, go_type, text, truthy, within


@functools.cache
def _verb_pattern() -> re.Pattern[str]:
    return re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def go_sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %x %X %f %c %t %%."""
    out: list[str] = []
    pos, arg_index = 0, 0
    for match in _verb_pattern().finditer(fmt):
        out.append(fmt[pos:match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        for number in (width, precision):  # a width of 10**9 would build a gigabyte
            if number:
                within(limits.TEMPLATE_WIDTH, int(number))
        if verb == "%":
            out.append("%")
            continue
        if arg_index >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[arg_index]
        arg_index += 1
        if verb in "sv":
            piece = text(arg)
            if precision is not None and verb == "s":
                piece = piece[:int(precision)]
        elif verb == "d":
            piece = str(int(arg)) if isinstance(arg, int | float) and not isinstance(arg, bool) else f"%!d({go_str(arg)})"
        elif verb == "q":
            piece = go_quote(arg)
        elif verb in "xX":
            raw = arg.encode() if isinstance(arg, str) else arg
            piece = raw.hex() if isinstance(raw, bytes) else format(int(raw), "x")
            piece = piece.upper() if verb == "X" else piece
        elif verb == "f":
            piece = f"{float(arg):.{int(precision) if precision else 6}f}"
        elif verb == "c" and isinstance(arg, int) and not isinstance(arg, bool):
            piece = chr(arg)
        elif verb == "t":
            piece = go_str(bool(arg))
        else:
            raise TemplateError(f"printf verb %{verb} is not supported")
        if width:
            piece = piece.ljust(int(width)) if "-" in flags else piece.rjust(int(width), "0" if "0" in flags else " ")
        out.append(piece)
    out.append(fmt[pos:])
    if arg_index < len(args):
        out.append("%!(EXTRA " + ", ".join(go_str(a) for a in args[arg_index:]) + ")")
    return "".join(out)


def _index(container: Any, *keys: Any) -> Any:
    """Go's index: maps by key; lists and strings by integer, a string giving a byte (an int)."""
    if container is MISSING or container is None:
        raise TemplateError("index of untyped nil")
    for key in keys:
        if isinstance(container, dict):
            if not isinstance(key, str):
                raise TemplateError(f"value has type {go_type(key)}; should be string")
            container = container.get(key, "" if isinstance(container, StringMap) else MISSING)
        elif isinstance(container, list | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(f"cannot index slice/array with type {go_type(key)}")
            seq = container.encode() if isinstance(container, str) else container
            if not 0 <= key < len(seq):
                raise TemplateError("index out of range")  # Go prints the index: it may come from a secret
            container = seq[key]
        else:
            raise TemplateError(f"can't index item of type {go_type(container)}")
    return container


def _sprint(args: tuple[Any, ...]) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out.append(" ")
        out.append(text(arg))
    return "".join(out)


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, b: Any) -> bool:
        return op(a, b)
    return compare


def _eq(first: Any, *others: Any) -> bool:
    return any(first == other for other in others)


def _and(*args: Any) -> Any:
    for arg in args:
        if not truthy(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truthy(arg):
            return arg
    return args[-1]


def _html(value: Any) -> str:
    return (text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _and, "or": _or, "not": lambda v: not truthy(v), "len": lambda v: len(v),
    "index": _index, "print": lambda *a: _sprint(a),
    "println": lambda *a: " ".join(text(v) for v in a) + "\n", "printf": go_sprintf,
    "eq": _eq, "ne": _cmp(lambda a, b: a != b), "lt": _cmp(lambda a, b: a < b), "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b), "ge": _cmp(lambda a, b: a >= b),
    "urlquery": lambda *a: urllib.parse.quote_plus("".join(text(v) for v in a)),
    "html": _html,
}
