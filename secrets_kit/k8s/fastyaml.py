"""A fast reader for the plain block YAML that manifests are usually written in.

ruamel's pure-Python parser costs about a millisecond per small manifest, which
dominates sealing a thousand files. This reader handles the common subset: block
mappings and sequences, single-line plain and quoted scalars, `|` literal blocks,
comments, `---` separators, empty `{}`/`[]`. It returns None for anything else (anchors,
tags, flow collections, folded or multi-line scalars, numbers other than plain decimal
integers, odd indentation ...), and the caller then uses ruamel, so results never differ
and ruamel reports every error.
"""

from __future__ import annotations

import re
from typing import Any

_BLANK = " \t"  # YAML white space; str.strip() would also eat NBSP and friends
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,17})\Z")
_NULLS = frozenset(("~", "null", "Null", "NULL"))
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
_JSON_ESCAPE = re.compile(r'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})')
_BLOCK_HEADER = re.compile(r"\|([-+]?)[ \t]*(?:#.*)?\Z")
# A plain scalar may not start with these; "-", "?" and ":" are fine before a non-space.
_INDICATORS = frozenset("[]{}#&*!|>'\"%@`,")


class _Unsupported(Exception):
    """Outside the subset: the caller falls back to the full parser."""


def _strip_comment(text: str) -> str:
    """Drop a trailing ` # comment` outside quotes; the result is right-stripped."""
    if "#" not in text:
        return text.rstrip(_BLANK)
    quote = ""
    prev = " "
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                    i += 2
                    continue
                quote = ""
            elif ch == "\\" and quote == '"':
                i += 2
                continue
        elif ch in "'\"" and prev in " \t:-[{,":
            quote = ch
        elif ch == "#" and prev in " \t":
            return text[:i].rstrip(_BLANK)
        prev = ch
        i += 1
    return text.rstrip(_BLANK)


def _scalar(text: str, *, key: bool = False) -> Any:
    if not text:
        return None
    first = text[0]
    if first == '"':
        if len(text) < 2 or text[-1] != '"':
            raise _Unsupported
        inner = text[1:-1]
        if "\\" in inner and _JSON_ESCAPE.sub("", inner).count("\\"):
            raise _Unsupported  # a YAML-only escape (\x, \0, \N, ...)
        if '"' in _JSON_ESCAPE.sub("", inner):
            raise _Unsupported
        if "\\" not in inner:
            return inner  # no escape to decode (json loads only for one)
        import json

        return json.loads(f'"{inner}"', strict=False)
    if first == "'":
        if len(text) < 2 or text[-1] != "'":
            raise _Unsupported
        inner = text[1:-1]
        if "'" in inner.replace("''", ""):
            raise _Unsupported
        return inner.replace("''", "'")
    if first in _INDICATORS or (first in "-?:" and (len(text) == 1 or text[1] in " \t")):
        if text in ("{}", "[]") and not key:
            return {} if text == "{}" else []
        raise _Unsupported
    if ": " in text or text.endswith(":") or "\t" in text:
        raise _Unsupported
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _DECIMAL.match(text):
        return int(text)
    if first.isdigit() or first in "+-." or text == "<<" or text == "=":
        raise _Unsupported  # floats, octals, timestamps, merge keys: let the full resolver decide
    return text


def _split_key(content: str) -> tuple[str, str] | None:
    """(key text, rest) of `key: rest`, or None if the line is not a mapping entry."""
    if content[0] in "'\"":
        quote = content[0]
        i = 1
        while i < len(content):
            if content[i] == quote:
                if quote == "'" and content[i + 1:i + 2] == "'":
                    i += 2
                    continue
                break
            if content[i] == "\\" and quote == '"':
                i += 1
            i += 1
        end = i + 1
        if content[end:end + 1] != ":" or content[end + 1:end + 2] not in ("", " "):
            return None
        return content[:end], content[end + 1:].strip(_BLANK)
    pos = content.find(": ")
    if pos < 0:
        if content.endswith(":"):
            return content[:-1].rstrip(_BLANK), ""
        return None
    return content[:pos].rstrip(_BLANK), content[pos + 2:].strip(_BLANK)


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.raw = lines
        self.pos = 0
        self.cache: dict[int, tuple[int, str] | None] = {}

    def line(self, index: int) -> tuple[int, str] | None:
        """(indent, content) of a structural line; None for blank or comment-only lines."""
        if index in self.cache:
            return self.cache[index]
        raw = self.raw[index]
        stripped = raw.lstrip(" ")
        if stripped.startswith("\t") and stripped.strip(_BLANK):
            raise _Unsupported  # tabs in indentation
        result: tuple[int, str] | None
        if not stripped.strip(_BLANK) or stripped.startswith("#"):
            result = None
        else:
            result = (len(raw) - len(stripped), _strip_comment(stripped))
        self.cache[index] = result
        return result

    def next_structural(self, index: int) -> int:
        while index < len(self.raw) and self.line(index) is None:
            index += 1
        return index

    def peek(self, index: int) -> tuple[int, tuple[int, str]] | None:
        """(index, (indent, content)) of the first structural line at or after `index`; None at the end."""
        index = self.next_structural(index)
        if index >= len(self.raw):
            return None
        info = self.line(index)
        assert info is not None
        return index, info

    def block(self, indent: int) -> Any:
        nxt = self.peek(self.pos)
        if nxt is None or nxt[1][0] != indent:
            raise _Unsupported
        info = nxt[1]
        if info[1] == "-" or info[1].startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def value_after(self, indent: int, rest: str, allow_same_indent_sequence: bool) -> Any:
        """The value of `key:` or `-` whose inline text is `rest`; the cursor is on the next line."""
        if rest:
            header = _BLOCK_HEADER.match(rest)
            if header:
                return self.literal(indent, header.group(1))
            value = _scalar(rest)
            nxt = self.peek(self.pos)
            if nxt is not None and nxt[1][0] > indent:
                raise _Unsupported  # a continued (multi-line) scalar
            return value
        nxt = self.peek(self.pos)
        if nxt is None:
            return None
        info = nxt[1]
        if info[0] > indent:
            return self.block(info[0])
        if allow_same_indent_sequence and info[0] == indent and (info[1] == "-" or info[1].startswith("- ")):
            return self.sequence(indent)
        return None

    def mapping(self, indent: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        while True:
            nxt = self.peek(self.pos)
            if nxt is None:
                return out
            index, info = nxt
            if info[0] < indent:
                return out
            if info[0] > indent:
                raise _Unsupported
            content = info[1]
            if content == "-" or content.startswith("- "):
                return out  # a sequence at this indent belongs to the parent key
            split = _split_key(content)
            if split is None:
                raise _Unsupported
            key = _scalar(split[0], key=True)
            if not isinstance(key, str) or key in out or content.startswith("? "):
                raise _Unsupported  # non-string or duplicate keys: the full parser says what is wrong
            self.pos = index + 1
            out[key] = self.value_after(indent, split[1], True)

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while True:
            nxt = self.peek(self.pos)
            if nxt is None:
                return out
            index, info = nxt
            if info[0] != indent or not (info[1] == "-" or info[1].startswith("- ")):
                if info[0] > indent:
                    raise _Unsupported
                return out
            item = info[1][2:].lstrip(" ")
            if not item:
                self.pos = index + 1
                out.append(self.value_after(indent, "", False))
                continue
            if item == "-" or item.startswith("- "):
                raise _Unsupported  # a sequence inside a sequence on one line
            split = _split_key(item) if item[0] not in "|" else None
            if split is not None and not _BLOCK_HEADER.match(item):
                # `- key: value`: a mapping whose keys sit two columns right of the dash
                inner = indent + (len(info[1]) - len(item))
                self.cache[index] = (inner, item)
                self.pos = index
                out.append(self.mapping(inner))
                continue
            self.pos = index + 1
            out.append(self.value_after(indent, item, False))

    def literal(self, indent: int, chomp: str) -> str:
        """A `|` block scalar whose lines are indented more than `indent`."""
        lines: list[str] = []
        block_indent = -1
        index = self.pos
        while index < len(self.raw):
            raw = self.raw[index]
            body = raw.lstrip(" ")
            spaces = len(raw) - len(body)
            if not body:  # an empty or all-space line
                if spaces > (block_indent if block_indent >= 0 else indent) or (spaces and block_indent < 0):
                    # spaces beyond the indentation, or on a line before the first one with text
                    # (ruamel refuses some of those): subtle rules, leave them to ruamel
                    raise _Unsupported
                lines.append("")
                index += 1
                continue
            if block_indent < 0:
                if spaces <= indent:
                    break
                block_indent = spaces
            elif spaces < block_indent:
                break
            lines.append(raw[block_indent:])
            index += 1
        self.pos = index
        while lines and lines[-1] == "" and chomp != "+":
            lines.pop()
        if not lines:
            return ""
        text = "\n".join(lines)
        return text if chomp == "-" else text + "\n"


_OTHER_BREAKS = re.compile("[\x85\u2028\u2029]|\r(?!\n)")
# Characters a YAML stream may not hold (ruamel's reader refuses them): control characters, surrogates,
# U+FFFE/U+FFFF. Written as the disallowed set, not the negated printable one: the same characters, but it
# compiles in 0.5 ms instead of 6.5 ms, and this runs at every seal's start.
_NON_PRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def load_simple(text: str) -> list[Any] | None:
    """The documents of `text` if it is within the subset, else None."""
    if _OTHER_BREAKS.search(text) or _NON_PRINTABLE.search(text) or "\t" in text or "\ufeff" in text:
        # NEL, LS, PS and a lone CR end lines for YAML readers, not for this one; tabs follow rules
        # of their own (refused before a token, kept inside a scalar), and so does a byte order mark: ruamel decides.
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    docs: list[list[str]] = [[]]
    open_doc = False  # a `---` or content since the last `...`: YAML refuses `...` that ends no document
    for line in lines:
        if line.startswith(("---", "...")) and (len(line) == 3 or line[3] in " \t"):
            rest = _strip_comment(line[3:].strip(_BLANK)) if len(line) > 3 else ""
            if rest:
                return None  # `--- value` or `--- !tag`
            if line[0] == "." and not open_doc:
                return None
            open_doc = line[0] == "-"
            docs.append([])
            continue
        if line.startswith("%"):
            return None  # a directive
        stripped = line.strip(" \r")
        if stripped and stripped[0] != "#":
            open_doc = True
        docs[-1].append(line.rstrip("\r"))
    out: list[Any] = []
    try:
        for doc_lines in docs:
            reader = _Reader(doc_lines)
            start = reader.peek(0)
            if start is None:
                continue  # an empty document
            if start[1][0] != 0:
                return None
            reader.pos = start[0]
            value = reader.block(0)
            if reader.peek(reader.pos) is not None:
                return None  # something the reader did not consume
            out.append(value)
    except (_Unsupported, ValueError, IndexError, RecursionError):
        return None
    return out
