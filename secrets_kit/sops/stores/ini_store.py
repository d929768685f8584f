"""INI store, following gopkg.in/ini.v1 as sops configures it.

Every section is a map of strings (path `section:key:`); a section's comment is its first
item, a key's comment follows the key. Values lose an inline `#`/`;` comment and
surrounding quotes on read; on write a value with a newline or backquote is wrapped in
`\"\"\"`, one with `#`/`;` in backquotes, one with outer spaces in double quotes; `=` signs
are aligned per section. Metadata is a `[sops]` section of flattened keys.
"""

from __future__ import annotations

from typing import Any

from ...errors import InputError
from ..gofmt import val_to_string
from ..reasons import Reason
from ..tree import Branch, Comment
from .base import FLAT_BELOW_TOP, Document, Store
from .json_store import scalar_json

DEFAULT_SECTION = "DEFAULT"
_DELIMS = "=:"


def _strip_comment_char(comment: str) -> str:
    if comment.startswith(";"):
        return comment.lstrip("; ")
    if comment.startswith("#"):
        return comment.lstrip("# ")
    return comment


def _surrounded(text: str, quote: str) -> bool:
    return len(text) >= 2 and text[0] == quote and text[-1] == quote and text[1:].find(quote) == len(text) - 2


class _Section:
    __slots__ = ("by_name", "comment", "keys", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.comment = ""
        self.keys: list[list[str]] = []  # [name, value, comment]
        self.by_name: dict[str, list[str]] = {}  # the same entries by name: a repeated key is found at once


def _read_key_name(line: str, number: int) -> tuple[str, int]:
    quote = ""
    if line[0] == '"':
        quote = '"""' if len(line) > 6 and line.startswith('"""') else '"'
    elif line[0] == "`":
        quote = "`"
    if quote:
        start = len(quote)
        pos = line.find(quote, start)
        if pos < 0:
            raise InputError("missing closing key quote", where=f"line {number}", reason=Reason.MALFORMED_INPUT)
        rest = line[pos + start:]
        i = min((rest.find(d) for d in _DELIMS if d in rest), default=-1)
        if i < 0:
            raise InputError("key-value delimiter not found", where=f"line {number}",
                             reason=Reason.MALFORMED_INPUT)
        return line[start:pos].strip(), pos + start + i + 1
    positions = [line.find(d) for d in _DELIMS if d in line]
    if not positions:
        raise InputError("key-value delimiter not found", where=f"line {number}", reason=Reason.MALFORMED_INPUT)
    end = min(positions)
    if end == 0:
        raise InputError("empty key name", where=f"line {number}", reason=Reason.MALFORMED_INPUT)
    return line[:end].strip(), end + 1


def parse_ini(text: str) -> list[_Section]:
    lines = text.split("\n")
    sections = [_Section(DEFAULT_SECTION)]
    current = sections[0]
    comment: list[str] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        number = i + 1
        i += 1
        line = raw.lstrip()
        if not line.strip():
            continue
        if line[0] in "#;":
            comment.append(line.rstrip("\r"))
            continue
        if line[0] == "[":
            close = line.rfind("]")
            if close < 0:
                raise InputError("unclosed section", where=f"line {number}", reason=Reason.MALFORMED_INPUT)
            name = line[1:close]
            trailing = line[close + 1:]
            hits = [p for p in (trailing.find("#"), trailing.find(";")) if p >= 0]
            if hits:
                comment.append(trailing[min(hits):].rstrip("\r"))
            current = _Section(name)
            current.comment = "\n".join(comment).strip()
            comment = []
            sections.append(current)
            continue
        name, offset = _read_key_name(line, number)
        value_text = line[offset:]
        value, extra_lines, inline_comment = _read_value(value_text, lines, i, number)
        i += extra_lines
        if inline_comment:
            comment.append(inline_comment)
        existing = current.by_name.get(name)
        key_comment = "\n".join(comment).strip()
        comment = []
        if existing is not None:  # ini.v1 without shadows: a repeated key overwrites the value
            existing[1] = value
            existing[2] = key_comment
        else:
            entry = [name, value, key_comment]
            current.keys.append(entry)
            current.by_name[name] = entry
    return sections


def _read_value(text: str, lines: list[str], next_index: int, number: int) -> tuple[str, int, str]:
    line = text.lstrip()
    if not line.strip():
        return "", 0, ""
    quote = ""
    if len(line) > 3 and line.startswith('"""'):
        quote = '"""'
    elif line[0] == "`":
        quote = "`"
    if quote:
        start = len(quote)
        body = line[start:]
        pos = body.rfind(quote)
        if pos >= 0:
            return body[:pos], 0, ""
        value = body + "\n"
        consumed = 0
        while next_index + consumed < len(lines):
            nxt = lines[next_index + consumed]
            consumed += 1
            pos = nxt.rfind(quote)
            if pos >= 0:
                value += nxt[:pos]
                return value, consumed, ""
            value += nxt + "\n"
        raise InputError("missing closing value quote", where=f"line {number}", reason=Reason.MALFORMED_INPUT)
    line = line.strip()
    consumed = 0
    if line.endswith("\\"):
        value = line[:-1]
        while next_index + consumed < len(lines):
            nxt = lines[next_index + consumed].strip()
            consumed += 1
            if not nxt:
                break
            value += nxt
            if not value.endswith("\\"):
                break
            value = value[:-1]
        return value, consumed, ""
    comment = ""
    hits = [p for p in (line.find("#"), line.find(";")) if p >= 0]
    if hits:
        cut = min(hits)
        comment = line[cut:]
        line = line[:cut].strip()
    if _surrounded(line, "'") or _surrounded(line, '"'):
        line = line[1:-1]
    return line, consumed, comment


def _format_comment(comment: str) -> list[str]:
    out = []
    for line in comment.split("\n"):
        if not line:
            continue
        if line[0] not in "#;":
            out.append("; " + line.strip())
        else:
            out.append(line[0] + " " + line[1:].strip())
    return out


def _quote_value(value: str) -> str:
    if "\n" in value or "`" in value:
        return '"""' + value + '"""'
    if "#" in value or ";" in value:
        return "`" + value + "`"
    if value.strip() != value:
        return '"' + value + '"'
    return value


def _quote_key(name: str) -> str:
    if '"' in name or any(d in name for d in _DELIMS):
        return "`" + name + "`"
    if "`" in name:
        return '"""' + name + '"""'
    return name


class IniStore(Store):
    name = "ini"
    metadata_style = FLAT_BELOW_TOP

    def load(self, data: bytes) -> Document:
        text = data.decode("utf-8", "surrogateescape")
        if text.startswith("\ufeff"):
            text = text[1:]
        branch = Branch()
        for section in parse_ini(text):
            items = Branch()
            if section.comment:
                items.append((Comment(_strip_comment_char(section.comment)), None))
            for name, value, comment in section.keys:
                items.append((name, value))
                if comment:
                    items.append((Comment(_strip_comment_char(comment)), None))
            branch.append((section.name, items))
        return Document([branch])

    def emit(self, doc: Document) -> bytes:
        out: list[str] = []
        rendered: list[tuple[str, str, list[tuple[str, str, str]]]] = []
        for branch in doc.branches:
            for key, value in branch:
                if isinstance(key, Comment):
                    continue
                if not isinstance(value, Branch):
                    raise InputError("Error encoding section: Section values should always be TreeBranches",
                                     where=f"[{key}]", reason=Reason.CANNOT_EMIT)
                section_comment = ""
                start = 0
                if value and isinstance(value[0][0], Comment):
                    section_comment = value[0][0].value
                    start = 1
                keys: list[tuple[str, str, str]] = []
                position: dict[Any, int] = {}  # key -> its index in keys: a repeated key is found at once
                for k, v in value[start:]:
                    if isinstance(k, Comment):
                        if keys:
                            name, val, _ = keys[-1]
                            keys[-1] = (name, val, k.value)
                        continue
                    text = v if isinstance(v, str) else val_to_string(v)
                    found = position.get(k) if isinstance(k, str) else \
                        next((n for n, item in enumerate(keys) if item[0] == k), None)
                    if found is not None:
                        keys[found] = (k, text, keys[found][2])
                    else:
                        position[k] = len(keys)
                        keys.append((k, text, ""))
                rendered.append((key, section_comment, keys))
        for index, (name, section_comment, keys) in enumerate(rendered):
            out.extend(line + "\n" for line in _format_comment(section_comment))
            if index > 0 or name.upper() != DEFAULT_SECTION:
                out.append(f"[{name}]\n")
            elif not keys:
                continue
            names = [_quote_key(k) for k, _, _ in keys]
            widths = [len(n.encode("utf-8", "surrogateescape")) for n in names]
            align = max(widths, default=0)
            for (_, val, comment), qname, width in zip(keys, names, widths, strict=True):
                out.extend(line + "\n" for line in _format_comment(comment))
                out.append(f"{qname}{' ' * (align - width)} = {_quote_value(val)}\n")
            if index != len(rendered) - 1:
                out.append("\n")
        return "".join(out).encode("utf-8", "surrogateescape")

    def emit_value(self, value: Any) -> bytes:
        if isinstance(value, Branch):
            return self.emit(Document([value]))
        return scalar_json(value).encode("utf-8", "surrogateescape")
