"""The Sprig v3 functions this engine implements, as Sprig's GenericFuncMap defines them.

Never here: env, expandenv and getHostByName (they read the host running the template; SealedSecret
templates and ESO's engine both remove them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from .. import limits
from .values import go_quote, text, truthy, within

_GO_INT = r"[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)"


def parse_int(source: str, base0: bool) -> int | None:
    """strconv.ParseInt(source, 0 or 10, 64): None when Go would return an error."""
    if not re.fullmatch(_GO_INT if base0 else r"[+-]?[0-9]+", source):
        return None
    digits = source.lstrip("+-").replace("_", "")
    if base0 and len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        digits = "0o" + digits[1:]  # a leading 0 means octal in Go
    number = int(digits, 0 if base0 else 10) * (-1 if source.startswith("-") else 1)
    return number if -(2**63) <= number < 2**63 else None


def _trim_zero_decimal(source: str) -> str:
    """spf13/cast's trimZeroDecimal: "1.0" -> "1"; its loop kept as is, quirks included."""
    found_zero = False
    for i in range(len(source), 0, -1):
        if source[i - 1] == ".":
            if found_zero:
                return source[:i - 1]
        elif source[i - 1] == "0":
            found_zero = True
        else:
            return source
    return source


def to_int64(value: Any) -> int:
    """Sprig's toInt64 (spf13/cast v1.7 ToInt64): what cannot be converted counts as 0."""
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        return parse_int(_trim_zero_decimal(value), base0=True) or 0
    return 0


def go_json(value: Any) -> str:
    """Go's json.Marshal, as Sprig's toJson uses it: compact, sorted keys, HTML characters escaped."""
    out = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _b64dec(value: Any) -> str:
    try:
        return base64.b64decode(text(value), validate=True).decode("utf-8", "replace")
    except ValueError:
        return ""


def _indent(n: Any, value: Any) -> str:
    body = text(value)
    pad = " " * within(limits.TEMPLATE_WIDTH, int(n))
    within(limits.TEMPLATE_OUTPUT, len(body) + len(pad) * (body.count("\n") + 1))
    return pad + body.replace("\n", "\n" + pad)


def _repeat(n: Any, value: Any) -> str:
    body, count = text(value), int(n)
    within(limits.TEMPLATE_OUTPUT, max(count, 0) * len(body))
    return body * count


def _replace(old: Any, new: Any, value: Any) -> str:
    body, old_text, new_text = text(value), text(old), text(new)
    hits = body.count(old_text) if old_text else len(body) + 1
    within(limits.TEMPLATE_OUTPUT, len(body) + hits * len(new_text))
    return body.replace(old_text, new_text)


def _default(fallback: Any, *given: Any) -> Any:
    return given[0] if given and truthy(given[0]) else fallback


SPRIG: dict[str, Callable[..., Any]] = {
    # strings
    "upper": lambda s: text(s).upper(), "lower": lambda s: text(s).lower(),
    "title": lambda s: text(s).title(), "trim": lambda s: text(s).strip(),
    "trimAll": lambda cut, s: text(s).strip(text(cut)),
    "trimPrefix": lambda p, s: text(s).removeprefix(text(p)),
    "trimSuffix": lambda p, s: text(s).removesuffix(text(p)),
    "trunc": lambda n, s: text(s)[:int(n)] if int(n) >= 0 else text(s)[int(n):],
    "replace": _replace,
    "repeat": _repeat, "nospace": lambda s: re.sub(r"\s", "", text(s)),
    "contains": lambda sub, s: text(sub) in text(s),
    "hasPrefix": lambda p, s: text(s).startswith(text(p)),
    "hasSuffix": lambda p, s: text(s).endswith(text(p)),
    "quote": lambda *a: " ".join(go_quote(v) for v in a if v is not None),
    "squote": lambda *a: " ".join(f"'{text(v)}'" for v in a if v is not None),
    "cat": lambda *a: " ".join(text(v) for v in a if v is not None),
    "indent": _indent, "nindent": lambda n, s: "\n" + _indent(n, s),
    "toString": text, "join": lambda sep, items: text(sep).join(text(i) for i in items),
    "splitList": lambda sep, s: text(s).split(text(sep)), "list": lambda *a: list(a),
    # defaults and logic
    "default": _default, "empty": lambda v: not truthy(v),
    "coalesce": lambda *a: next((v for v in a if truthy(v)), None),
    "ternary": lambda yes, no, cond: yes if truthy(cond) else no,
    # encodings and digests
    "b64enc": lambda s: base64.b64encode(text(s).encode()).decode(), "b64dec": _b64dec,
    "b32enc": lambda s: base64.b32encode(text(s).encode()).decode(),
    "sha1sum": lambda s: hashlib.sha1(text(s).encode()).hexdigest(),
    "sha256sum": lambda s: hashlib.sha256(text(s).encode()).hexdigest(),
    "toJson": go_json,
    "toPrettyJson": lambda v: json.dumps(v, indent="  ", ensure_ascii=False, sort_keys=True),
    "toRawJson": lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=True),
    # dicts, lists and numbers
    "dict": lambda *a: {text(a[i]): a[i + 1] if i + 1 < len(a) else "" for i in range(0, len(a), 2)},
    "get": lambda d, k: d.get(text(k), "") if isinstance(d, dict) else "",
    "hasKey": lambda d, k: isinstance(d, dict) and text(k) in d,
    "keys": lambda *ds: [k for d in ds for k in d], "add": lambda *a: sum(to_int64(x) for x in a),
    "atoi": lambda s: parse_int(text(s), base0=False) or 0,
}
