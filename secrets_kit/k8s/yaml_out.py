"""The YAML writer: what kubeseal writes, byte for byte.

kubeseal (sigs.k8s.io/yaml) feeds JSON through go-yaml v2's encoder into a port of libyaml's
emitter. go-yaml asks for a double-quoted string when YAML 1.1 would read it as something
else, a literal block when it holds a newline, else plain; libyaml's scalar analysis then
falls back to single, then double quotes, and folds long scalars at column 80. Block style,
2-space indent, a sequence under a key not indented further, keys in Go's order.

Regexes for the rare cases compile on first use: compiling them all costs ~3 ms of every
cold start, and most documents (names, base64) only need the common-plain check.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cmp_to_key
from typing import Any

from ..lazyre import LazyRe as _LazyRe  # patterns compile on first use

_BEST_WIDTH = 80
# The common case, written as is: no space, no indicator, no YAML 1.1 number or timestamp.
_COMMON_PLAIN = _LazyRe(r"[A-Za-z_/][A-Za-z0-9_./+=-]*\Z")
_YAML11_WORDS = frozenset((
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
    "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL",
    ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
))
_BREAKS = "\r\n\x85\u2028\u2029"
_BREAK = _LazyRe(f"[{_BREAKS}]")
_SPACE_BREAK = _LazyRe(f" [{_BREAKS}]")
_SPACE_NEXT_TO_BREAK = _LazyRe(f" [{_BREAKS}]|[{_BREAKS}] ")
# libyaml's is_printable: LF, ASCII, BMP without C1 controls, surrogates, BOM and FFFE/FFFF.
# (Spelled as the characters outside the printable set: the negated class costs ~5 ms to compile.)
_UNPRINTABLE = _LazyRe("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff\U00010000-\U0010ffff]")
# From the second character on: " #" starts a comment, ": " (or a final ":") a mapping value.
_LATER_INDICATOR = _LazyRe(f"[ \t\x00{_BREAKS}]#|:(?:[ \t]|\\Z)")
_GO_INT = _LazyRe(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_YAML_FLOAT = _LazyRe(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = _LazyRe(r"\.[0-9]+([eE][-+]?[0-9]+)?\Z")
_LONE_UNDERSCORE = _LazyRe(r"(?<![0-9])_|_(?![0-9])")
_ZERO_B = _LazyRe(r"0b([-+]?)([01]+)\Z")  # go-yaml retries "0b..." with the sign after the prefix
_BASE60 = _LazyRe(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")
_TIMESTAMP = _LazyRe(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?(?:Z|[+-]([0-9]{2}):([0-9]{2}))"
    r"| ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?)?\Z"
)
_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
            "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\u2028": "L", "\u2029": "P"}
_NEEDS_ESCAPE = _LazyRe(f'[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff\U00010000-\U0010ffff"\\\\{_BREAKS}]')
_WORDS_AND_SPACES = _LazyRe(r" +|[^ ]+")
_LITERAL_PIECES = _LazyRe(f"[{_BREAKS}]|[^{_BREAKS}]+")
_INT64 = 1 << 63


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _is_timestamp(value: str) -> bool:
    """One of the layouts go-yaml tries with Go's time.Parse, which also checks the ranges."""
    m = _TIMESTAMP.match(value)
    if not m:
        return False
    year, month, day, *clock = (int(g) if g else 0 for g in m.groups())
    hour, minute, second, tz_hour, tz_minute = (clock[0] or clock[5], clock[1] or clock[6],
                                                clock[2] or clock[7], clock[3], clock[4])
    return (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month) and hour < 24
            and minute < 60 and second < 60 and tz_hour <= 24 and tz_minute <= 60)


def _is_go_number(plain: str) -> bool:
    """go-yaml's number tests on the text without underscores: ParseInt, ParseUint, float, big.Int."""
    m = _GO_INT.match(plain)
    if m:
        sign, digits = m.groups()
        number = int(digits, 8 if digits[:1] == "0" and digits[1:2].isdigit() else 0)
        if -_INT64 <= (-number if sign == "-" else number) < _INT64 or not sign:
            return True  # int64, or uint64 and beyond (big.Int) when there is no sign
    if _YAML_FLOAT.match(plain) and float(plain) not in (float("inf"), float("-inf")):
        return True
    zero_b = _ZERO_B.match(plain)
    if zero_b:
        number = int(zero_b.group(2), 2)
        return number < _INT64 or (zero_b.group(1) == "-" and number == _INT64)
    return False


def _resolves_to_non_string(value: str) -> bool:
    """Whether YAML 1.1 as go-yaml reads it would take the plain text for a non-string."""
    if value in _YAML11_WORDS or not value:
        return True
    first = value[0]
    if first == ".":  # Go's ParseFloat: "_" only between digits
        plain = value.replace("_", "")
        return bool(_DOT_FLOAT.match(plain) and not _LONE_UNDERSCORE.search(value)) and float(plain) != float("inf")
    if first not in "+-0123456789":
        return False
    if first.isdigit() and _is_timestamp(value):
        return True
    # go-yaml also quotes YAML 1.1 base-60 floats (12:30), though it no longer reads them.
    return _is_go_number(value.replace("_", "")) or bool(_BASE60.match(value))


def _plain_allowed(value: str) -> bool:
    """libyaml's block_plain_allowed: no edge spaces, no break, no special character, no indicator."""
    if value[0] == " " or value[-1] == " " or _BREAK.search(value) or _UNPRINTABLE.search(value):
        return False
    first, second = value[0], value[1:2]
    if first in "#,[]{}&*!|>'\"%@`" or value.startswith(("---", "...")):
        return False
    if first in "?:-" and second in ("", " ", "\t"):
        return False
    return not _LATER_INDICATOR.search(value, 1)


def _quotable(value: str) -> bool:
    """libyaml's single_quoted_allowed: no special character, no space next to a break."""
    return not _UNPRINTABLE.search(value) and not _SPACE_NEXT_TO_BREAK.search(value)


def _literal_allowed(value: str) -> bool:
    """libyaml's block_allowed: no special character, no trailing space, no space before a break."""
    return value[-1] != " " and not _UNPRINTABLE.search(value) and not _SPACE_BREAK.search(value)


def _scalar_style(value: str, simple_key: bool) -> str:
    """go-yaml's requested style, corrected as libyaml's select_scalar_style does."""
    if _LINE_SEPARATORS.search(value):
        return "double"  # go-yaml writes LS/PS raw, which our reader folds: escaped, they read back
    if "\n" in value:
        return "literal" if _literal_allowed(value) and not simple_key else "double"
    if _resolves_to_non_string(value):
        return "double"
    if _plain_allowed(value):
        return "plain" if _reads_back_plain(value) else "double"
    return "single" if _quotable(value) else "double"


# Where go-yaml writes plain text that our own YAML 1.2 reader would not read back as that text
# (`=`, `<<`, `1e999`, `._5`, `1_`): we quote, giving up kubeseal's bytes for a round trip.
# Only text made of number and timestamp characters can resolve to something else.
_RESOLVER_CANDIDATE = _LazyRe(r"(?:=|<<|[-+.0-9][-+.0-9_:eExXoObBa-fA-FtTzZ \t]*)\Z")
_LINE_SEPARATORS = _LazyRe("[\u2028\u2029]")


def _reads_back_plain(value: str) -> bool:
    if not _RESOLVER_CANDIDATE.match(value):
        return True
    from ruamel.yaml.nodes import ScalarNode  # rare: only text that starts like a number
    from ruamel.yaml.resolver import VersionedResolver

    return str(VersionedResolver().resolve(ScalarNode, value, (True, False))) == "tag:yaml.org,2002:str"


def _fold(pieces: Iterable[str], column: int, indent: int, can_fold: Any) -> str:
    """Write words and runs of spaces, breaking a line at a single space past the width."""
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if piece == " " and column > _BEST_WIDTH and can_fold(index):
            out.append("\n" + " " * indent)
            column = indent
        else:
            out.append(piece)
            column += len(piece)
    return "".join(out)


def _plain(value: str, column: int, indent: int, allow_breaks: bool) -> str:
    if not allow_breaks or " " not in value:
        return value
    return _fold(_WORDS_AND_SPACES.findall(value), column, indent, lambda _: True)


def _single_quoted(value: str, column: int, indent: int, allow_breaks: bool) -> str:
    pieces = _WORDS_AND_SPACES.findall(value.replace("'", "''"))
    last = len(pieces) - 1
    if not allow_breaks:
        return "'" + "".join(pieces) + "'"
    # libyaml never folds at the first or last character.
    return "'" + _fold(pieces, column + 1, indent, lambda i: 0 < i < last) + "'"


def _escape(char: str) -> str:
    short = _ESCAPES.get(char)
    if short:
        return "\\" + short
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _double_quoted(value: str, column: int, indent: int, allow_breaks: bool) -> str:
    if value[:1] == "\ufeff":  # go-yaml's is_bom looks at the first character only: all escaped
        return '"' + "".join(map(_escape, value)) + '"'
    escaped = _NEEDS_ESCAPE.sub(lambda m: _escape(m.group()), value)
    if not allow_breaks or " " not in value or column + 1 + len(escaped) <= _BEST_WIDTH:
        return f'"{escaped}"'
    out = ['"']
    column += 1
    spaces = False
    for index, char in enumerate(value):
        if char == " ":
            if not spaces and column > _BEST_WIDTH and 0 < index < len(value) - 1:
                # The break folds to the skipped space; "\" keeps a next space from being trimmed.
                out.append("\n" + " " * indent + ("\\" if value[index + 1] == " " else ""))
                column = indent + (value[index + 1] == " ")
            else:
                out.append(char)
                column += 1
            spaces = True
            continue
        text = _escape(char) if _NEEDS_ESCAPE.match(char) else char
        out.append(text)
        column += len(text)
        spaces = False
    return "".join(out) + '"'


def _literal(value: str, indent: int) -> str:
    """`|` with libyaml's hints: indentation when the text starts with a space or a break,
    `-` without a final break, `+` with more than one; lines (not empty ones) indented."""
    header = "|2" if value[0] == " " or value[0] in _BREAKS else "|"
    if value[-1] not in _BREAKS:
        header += "-"
    elif len(value) == 1 or value[-2] in _BREAKS:
        header += "+"
    pad = " " * indent
    body = "".join(p if p in _BREAKS else pad + p for p in _LITERAL_PIECES.findall(value))
    return f"{header}\n{body}"


def _yaml_str(value: str, column: int = 0, indent: int = 2, simple_key: bool = False) -> str:
    """A string as go-yaml writes it, starting at `column`; folded lines are indented by `indent`."""
    if _COMMON_PLAIN.match(value) and value not in _YAML11_WORDS:
        return value
    style = _scalar_style(value, simple_key)
    if style == "plain":
        return _plain(value, column, indent, not simple_key)
    if style == "single":
        return _single_quoted(value, column, indent, not simple_key)
    if style == "double":
        return _double_quoted(value, column, indent, not simple_key)
    return _literal(value, indent)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64) with YAML's names for the infinities and NaN."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp_text or 0) - (len(whole + frac) - len(digits))
    digits = digits.rstrip("0") or "0"
    if digits == "0":
        point = 1
    sign = "-" if value < 0 or str(value).startswith("-") else ""
    exponent = point - 1
    if exponent < -4 or exponent >= 6:  # the shortest form switches to %e outside [1e-4, 1e6)
        tail = "." + digits[1:] if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{tail}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _yaml_scalar(value: Any, column: int = 0, indent: int = 2) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _yaml_str(value, column, indent)
    raise TypeError(f"cannot write a {type(value).__name__} as YAML")


_ASCII_ORDER_KEY = _LazyRe(r"[\x00-\x2f\x3a-\x5a\x61-\x7a]*\Z")


def _wrap64(number: int) -> int:
    return (number + _INT64) % (1 << 64) - _INT64


def _digits_at(text: str, start: int, number: int) -> tuple[int, int]:
    end = start
    while end < len(text) and text[end].isdecimal():
        number = _wrap64(number * 10 + ord(text[end]) - 48)
        end += 1
    return number, end


def _go_key_cmp(a: str, b: str) -> int:
    """go-yaml's key order: letters after other characters, runs of digits by their number."""
    for i, (ca, cb) in enumerate(zip(a, b, strict=False)):
        if ca == cb:
            continue
        a_letter, b_letter = ca.isalpha(), cb.isalpha()
        if a_letter and b_letter:
            return -1 if ca < cb else 1
        if a_letter or b_letter:
            return 1 if a_letter else -1
        start = 0
        if "0" in (ca, cb):  # a zero after other digits counts as a digit, not a leading zero
            j = i - 1
            while j >= 0 and a[j].isdecimal() and a[j] == "0":
                j -= 1
            start = int(j >= 0 and a[j].isdecimal())
        an, a_end = _digits_at(a, i, start)
        bn, b_end = _digits_at(b, i, start)
        if an != bn:
            return -1 if an < bn else 1
        if a_end != b_end:
            return -1 if a_end < b_end else 1
        return -1 if ca < cb else 1
    return (len(a) > len(b)) - (len(a) < len(b))


def _sorted_keys(mapping: dict[Any, Any]) -> list[Any]:
    keys = sorted(mapping, key=str)
    # Plain code-point order is go-yaml's unless a key holds digits or sorts between the letters.
    if _ASCII_ORDER_KEY.match("".join(map(str, keys))):
        return keys
    return sorted(keys, key=cmp_to_key(lambda a, b: _go_key_cmp(str(a), str(b))))


def _is_common(text: str) -> bool:
    """Plain as it is, in any place: the fast path for names, base64 and most keys."""
    return bool(_COMMON_PLAIN.match(text)) and text not in _YAML11_WORDS


def _column(text: str) -> int:
    return len(text) - text.rfind("\n") - 1


def _ends_line(text: str) -> str:
    """A newline, unless a literal block already ended the line with its last break."""
    return "" if text[-1:] in _BREAKS else "\n"


def _key_head(key: str, indent: int) -> tuple[str, bool]:
    """`key:`, or libyaml's `? key` and `:` lines for a key too long or not on one line.

    The flag says the value continues the `:` line (libyaml's compact form after `? key`)."""
    pad = " " * indent
    if len(key.encode("utf-8", "surrogatepass")) <= 128 and not _BREAK.search(key):
        return f"{pad}{_yaml_str(key, simple_key=True)}:", False
    text = _yaml_str(key, indent + 2, indent + 2)
    return f"{pad}? {text}{_ends_line(text)}{pad}:", True


def _place(item: Any, head: str, indent: int, compact: bool, out: list[str]) -> None:
    """Write `item` after `head` (a key and colon, or a `-`), the node's parent at `indent`."""
    if isinstance(item, str) and _is_common(item):
        out.append(f"{head} {item}\n")
    elif isinstance(item, dict | list) and item:
        if compact:  # after `-` or `? key` `:`, the first line continues the current one
            lines: list[str] = []
            _emit(item, indent + 2, lines)
            out.append(f"{head} {lines[0][indent + 2:]}")
            out.extend(lines[1:])
        else:
            out.append(head + "\n")
            # Go's style: a sequence under a key is not indented further.
            _emit(item, indent if isinstance(item, list) else indent + 2, out)
    else:
        text = _inline(item, _column(head) + 1, indent + 2)
        out.append(f"{head} {text}{_ends_line(text)}")


def _emit(value: Any, indent: int, out: list[str]) -> None:
    """Append the block form of a non-empty mapping or sequence, each line indented by `indent`."""
    if isinstance(value, dict):
        pad = " " * indent
        for key in _sorted_keys(value):
            name = str(key)
            simple = _is_common(name) and len(name) <= 128  # a longer key is written as `? key`
            head, compact = (f"{pad}{name}:", False) if simple else _key_head(name, indent)
            _place(value[key], head, indent, compact, out)
    else:
        dash = " " * indent + "-"
        for item in value:
            _place(item, dash, indent, True, out)


def _inline(value: Any, column: int = 0, indent: int = 2) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _yaml_scalar(value, column, indent)


def dump_yaml(doc: Any, *, document_marker: bool = True) -> str:
    """One YAML document in block style with sorted keys, byte for byte as kubeseal writes it."""
    lines: list[str] = ["---\n"] if document_marker else []
    if isinstance(doc, dict | list) and doc:
        _emit(doc, 0, lines)
    else:
        text = _inline(doc)
        lines.append(text + _ends_line(text))
    return "".join(lines)
