"""YAML scalars as yaml.v3 (the parser sops uses) reads and writes them.

`resolve_plain` types a plain scalar the way yaml.v3 does (null, bool, int, float,
timestamp, else string); `render_scalar` writes a value back so that it reads as the same
value in yaml.v3 and in YAML 1.1 parsers (PyYAML, kubectl): plain when safe, otherwise
single- or double-quoted, multi-line strings as literal blocks where possible.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ....lazyre import LazyRe  # compiled on first use: most values need none of these
from ...gofmt import format_float_yaml, parse_yaml_timestamp
from ...tree import Comment, Timestamp

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_SPECIAL_FLOATS = {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
                   ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
                   "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
                   "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf}
_YAML_STYLE_FLOAT = LazyRe(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_FLOAT_DOT = LazyRe(r"^\.[0-9_]+([eE][-+]?[0-9]+)?$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# Plain scalars a YAML 1.1 reader (PyYAML, Kubernetes tooling) would not read as a string.
_YAML11_SPECIAL = LazyRe(
    r"""^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE
    |~|null|Null|NULL|=|<<
    |[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)
    |[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+][0-9]+)?
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?.*)$""", re.X)


def _go_parse_int(text: str) -> int | None:
    """Go `strconv.ParseInt(s, 0, 64)` (underscores already removed), else None."""
    sign = 1
    body = text
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    try:
        if body[:2] in ("0x", "0X"):
            value = int(body[2:], 16)
        elif body[:2] in ("0b", "0B"):
            value = int(body[2:], 2)
        elif body[:2] in ("0o", "0O"):
            value = int(body[2:], 8)
        elif len(body) > 1 and body[0] == "0":
            value = int(body[1:], 8)
        elif body.isdigit():
            value = int(body)
        else:
            return None
    except ValueError:
        return None
    value *= sign
    if _INT64_MIN <= value <= 2**64 - 1:
        return value
    return None


def resolve_plain(text: str) -> Any:
    """The value yaml.v3 gives an untagged plain scalar."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    first = text[0]
    if first in "+-.0123456789":
        special = _SPECIAL_FLOATS.get(text)
        if special is not None:
            return special
        if first == ".":
            if _GO_FLOAT_DOT.match(text):
                try:
                    return float(text.replace("_", ""))
                except ValueError:
                    return text
            return text
        if first.isdigit():
            stamp = parse_yaml_timestamp(text)
            if stamp is not None:
                return stamp
        plain = text.replace("_", "")
        value = _go_parse_int(plain)
        if value is not None:
            return value
        if _YAML_STYLE_FLOAT.match(plain):
            try:
                return float(plain)
            except ValueError:
                return text
    return text


def resolve_tagged(tag: str, text: str, plain: bool) -> Any:
    """A scalar with an explicit tag (`!!str 123`, `!!int "5"`, ...)."""
    short = tag.replace("tag:yaml.org,2002:", "!!")
    if short == "!!str" or short == "!":
        return text
    if short in ("!!int", "!!float", "!!bool", "!!null", "!!timestamp"):
        value = resolve_plain(text) if text else None
        if short == "!!float" and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if short == "!!timestamp" and isinstance(value, str):
            stamp = parse_yaml_timestamp(text)
            return stamp if stamp is not None else text
        return value
    if short == "!!binary":
        import base64

        try:
            return base64.b64decode("".join(text.split())).decode("utf-8", "surrogateescape")
        except ValueError:
            return text
    return resolve_plain(text) if plain else text


# ------------------------------------------------------------------------- writing

_PLAIN_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@` \t")
_PLAIN_BAD = LazyRe(r"[\x00-\x1f\x7f\ufeff\u0085\u2028\u2029]|: |:$| #|\t")
_FLOW_BAD = LazyRe(r"[,\[\]{}]")
# Outside YAML's printable set, or read as a line break (NEL, LS, PS) or BOM.
_NON_PRINTABLE = LazyRe("[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
                            "|[\u2028\u2029]")


def needs_type_quotes(text: str) -> bool:
    """Would this string read back as something else than a string (yaml.v3 or YAML 1.1)?"""
    resolved = resolve_plain(text)
    if not isinstance(resolved, str) or isinstance(resolved, Timestamp):
        return True
    return bool(_YAML11_SPECIAL.match(text))


# Most values: a letter then word characters; only YAML 1.1's bool/null words need quotes.
_SIMPLE = re.compile(r"[A-Za-z][A-Za-z0-9_./@+=-]*\Z")
_WORDS = frozenset({"y", "yes", "n", "no", "on", "off", "true", "false", "null"})


def plain_ok(text: str, flow: bool) -> bool:
    if _SIMPLE.match(text):
        return text.lower() not in _WORDS
    dash_ok = len(text) > 1 and text[0] == "-" and text[1] not in " \t"
    if (not text or text[0] in _PLAIN_BAD_START) and not dash_ok:
        return False
    if text[-1] in " \t" or _PLAIN_BAD.search(text) or _NON_PRINTABLE.search(text):
        return False
    if flow and _FLOW_BAD.search(text):
        return False
    if text.startswith(("---", "...")):
        return False
    return not needs_type_quotes(text)


# What yaml.v3 escapes in a double-quoted scalar: all but its printable set, line breaks, BOM,
# `"` and `\`. Characters beyond the BMP are the exception: yaml.v3 writes them as `\UXXXXXXXX`,
# we keep them as they are (a deliberate difference, see the README).
_ESCAPED = LazyRe(r"[^\x20\x21\x23-\x5b\x5d-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                      r"\U00010000-\U0010ffff]")
_SHORT_ESCAPES = {0x00: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0A: "n", 0x0B: "v", 0x0C: "f", 0x0D: "r",
                  0x1B: "e", 0x22: '"', 0x5C: "\\", 0x85: "N", 0x2028: "L", 0x2029: "P"}


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    short = _SHORT_ESCAPES.get(code)
    if short is not None:
        return "\\" + short
    if code <= 0xFF:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def double_quoted(text: str) -> str:
    """A double-quoted scalar with yaml.v3's escapes (tab as \\t, BEL as \\a, DEL as \\x7F, ...)."""
    return '"' + _ESCAPED.sub(_escape_char, text) + '"'


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal_ok(text: str) -> bool:
    """Can this multi-line string be a `|` block without an indentation indicator?"""
    if "\n" not in text or _NON_PRINTABLE.search(text) or "\r" in text:
        return False
    first = text.split("\n", 1)[0]
    if first.startswith((" ", "\t")) or (first == "" and text.strip("\n") != ""):
        return False
    body = text.rstrip("\n")
    if " \n" in text or text.endswith(" "):
        return False  # yaml.v3 double-quotes strings with trailing spaces on a line
    return body != "" and "\t" not in text[:1]


def literal_block(text: str, indent: int) -> str:
    """`|`, `|-` or `|+` header plus the content lines, each indented (no final newline)."""
    if text.endswith("\n\n"):
        header, body = "|+", text[:-1]
    elif text.endswith("\n"):
        header, body = "|", text[:-1]
    else:
        header, body = "|-", text
    pad = " " * indent
    lines = [pad + line if line else "" for line in body.split("\n")]
    return header + "\n" + "\n".join(lines)


def render_string(text: str, flow: bool, indent: int, style: str | None = None, allow_block: bool = True) -> str:
    if style in ("'", '"') and "\n" not in text and not _NON_PRINTABLE.search(text):
        return single_quoted(text) if style == "'" else double_quoted(text)
    if "\n" in text:
        if not flow and allow_block and literal_ok(text):
            return literal_block(text, indent)
        return double_quoted(text)
    if plain_ok(text, flow):
        return text
    if needs_type_quotes(text) or _NON_PRINTABLE.search(text) or "\t" in text:
        return double_quoted(text)
    return single_quoted(text)


def render_scalar(value: Any, flow: bool = False, indent: int = 2, style: str | None = None,
                  allow_block: bool = True) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Timestamp):
        return str(value)
    if isinstance(value, str):
        return render_string(value, flow, indent, style, allow_block)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float_yaml(value)
    if isinstance(value, bytes):
        return render_string(value.decode("utf-8", "surrogateescape"), flow, indent, style, allow_block)
    if isinstance(value, Comment):
        return render_string(value.value, flow, indent, style, allow_block)
    return double_quoted(str(value))


def render_key(key: str) -> str:
    if key == "<<":
        return "!!merge <<"  # what yaml.v3 (so sops) writes for this key, quoted or not in the input
    if "\n" in key:
        return double_quoted(key)
    return render_string(key, flow=False, indent=0, allow_block=False)
