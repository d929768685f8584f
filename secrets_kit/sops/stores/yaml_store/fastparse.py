"""The parser events of the plain block YAML that sops writes, without importing PyYAML.

Importing PyYAML costs about 12 ms, most of a YAML decrypt's start-up beyond the interpreter's.
`events(text)` reads the common subset: one document of block mappings (plain keys) and block
sequences, with plain, quoted and `|` literal scalars on one line each (a literal's lines below
it), in printable ASCII without comments, tabs, blank lines or trailing blanks. It returns the
events libyaml's parser gives for such a text, with the same marks, so the loader builds the
very same tree and records from them; for anything else it returns None and the loader parses
with PyYAML, which also reports every error. tests/sops/test_yaml_fastparse.py holds the two
side by side.
"""

from __future__ import annotations

import re
from typing import Any

# A plain key followed by `:` and a space or the line's end (kept narrow: no quoting, no `:` inside).
_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.\-]*):(?: |\Z)")
# Plain scalars may not start with these (YAML's indicators; `-`, `?` and `:` need a look further).
_NOT_FIRST = frozenset(" -?:,[]{}#&*!|>'\"%@`")
_DOUBLE = re.compile(r'"[^"\\]*"\Z')
_SINGLE = re.compile(r"'[^']*'\Z")


class Mark:
    __slots__ = ("column", "index", "line")

    def __init__(self, index: int, line: int, column: int) -> None:
        self.index = index
        self.line = line
        self.column = column


class Event:
    """An event as the loader reads it: its kind by class name, as PyYAML's events."""

    __slots__ = ("end_mark", "start_mark")
    anchor = tag = None
    implicit: Any = True
    flow_style = explicit = False

    def __init__(self, start: Mark, end: Mark) -> None:
        self.start_mark = start
        self.end_mark = end


class StreamStartEvent(Event):
    __slots__ = ()


class StreamEndEvent(Event):
    __slots__ = ()


class DocumentStartEvent(Event):
    __slots__ = ()


class DocumentEndEvent(Event):
    __slots__ = ()


class MappingStartEvent(Event):
    __slots__ = ()


class MappingEndEvent(Event):
    __slots__ = ()


class SequenceStartEvent(Event):
    __slots__ = ()


class SequenceEndEvent(Event):
    __slots__ = ()


class ScalarEvent(Event):
    __slots__ = ("implicit", "style", "value")

    def __init__(self, start: Mark, end: Mark, value: str, style: str) -> None:
        self.start_mark = start
        self.end_mark = end
        self.value = value
        self.style = style
        self.implicit = (True, False) if style == "" else (False, True)


class _Unsupported(Exception):
    """Outside the subset: PyYAML reads the text."""


def events(text: str) -> list[Event] | None:
    """The parser events of `text`, or None when it is not in the subset."""
    # Printable ASCII and newlines only: anything else (tabs, control characters, non-ASCII) goes to PyYAML.
    if not text.endswith("\n") or "#" in text or not text.isascii() or not text.replace("\n", "").isprintable():
        return None
    try:
        return _Reader(text).read()
    except _Unsupported:
        return None


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = lines = text.split("\n")[:-1]
        self.starts = starts = [0] * (len(lines) + 1)  # where each line starts, and the end
        at = 0
        for i, line in enumerate(lines):
            at += len(line) + 1
            starts[i + 1] = at
        self.out: list[Event] = []
        self.stack: list[tuple[str, int, bool]] = []  # (kind "map"/"seq", column, indentless)

    def read(self) -> list[Event]:
        text, lines, out, stack = self.text, self.lines, self.out, self.stack
        if not lines or lines[0][:1] in ("", " ") or lines[0].startswith(("---", "...")):
            raise _Unsupported
        origin = Mark(0, 0, 0)
        out.append(StreamStartEvent(origin, origin))
        out.append(DocumentStartEvent(origin, origin))
        out.append(MappingStartEvent(origin, origin))
        stack.append(("map", 0, False))
        starts = self.starts
        pending = False  # the last line was `key:`: its value is the collection on the next lines
        n = 0
        while n < len(lines):
            line = lines[n]
            body = line.lstrip(" ")
            col = len(line) - len(body)
            start = starts[n] + col
            if not body or body[-1] == " ":
                raise _Unsupported  # a blank line or trailing blanks
            kind, top_col, _ = stack[-1]
            if pending:
                pending = False
                mark = Mark(start, n, col)
                if body.startswith("- ") and (col > top_col or (col == top_col and kind == "map")):
                    indentless = col == top_col
                    end = Mark(start + 1, n, col + 1) if indentless else mark
                    out.append(SequenceStartEvent(mark, end))
                    stack.append(("seq", col, indentless))
                elif col > top_col and _KEY.match(body):
                    out.append(MappingStartEvent(mark, mark))
                    stack.append(("map", col, False))
                else:
                    raise _Unsupported  # a null value, or a scalar on the next line
            else:
                self._close(col, start, n, body)
            kind, top_col, _ = stack[-1]
            if col != top_col:
                raise _Unsupported
            if kind == "seq":
                if not body.startswith("- "):
                    raise _Unsupported
                item = body[2:]
                if item[:1] == " " or item.startswith("- "):
                    raise _Unsupported
                if _KEY.match(item):
                    mark = Mark(start + 2, n, col + 2)
                    out.append(MappingStartEvent(mark, mark))
                    stack.append(("map", col + 2, False))
                    pending, n = self._entry(item, start + 2, n, col + 2)
                else:
                    self._scalar(item, start + 2, n, col + 2)
            else:
                pending, n = self._entry(body, start, n, col)
            n += 1
        if pending:
            raise _Unsupported
        end = Mark(len(text), len(lines), 0)
        self._close(-1, len(text), len(lines), "", end)
        out.append(DocumentEndEvent(end, end))
        out.append(StreamEndEvent(end, end))
        return out

    def _close(self, col: int, start: int, n: int, body: str, mark: Mark | None = None) -> None:
        """End every block that a line at `col` closes (an indentless sequence: a line that is not an item)."""
        stack, out = self.stack, self.out
        while stack:
            kind, top_col, indentless = stack[-1]
            if top_col > col or (indentless and top_col == col and not body.startswith("- ")):
                if mark is None:
                    mark = Mark(start, n, col)
                stack.pop()
                out.append((MappingEndEvent if kind == "map" else SequenceEndEvent)(mark, mark))
            else:
                break

    def _entry(self, body: str, start: int, n: int, col: int) -> tuple[bool, int]:
        """A `key:` or `key: value` at `start`; returns (a collection follows, the line it ended on)."""
        match = _KEY.match(body)
        if match is None:
            raise _Unsupported
        key = match.group(1)
        self.out.append(ScalarEvent(Mark(start, n, col), Mark(start + len(key), n, col + len(key)), key, ""))
        rest = body[match.end():]
        if not rest:
            return True, n
        at = len(body) - len(rest)
        if rest == "|":
            return False, self._literal(start + at, n, col + at, col)
        self._scalar(rest, start + at, n, col + at)
        return False, n

    def _scalar(self, value: str, start: int, n: int, col: int) -> None:
        first = value[0]
        if first == '"' or first == "'":
            if (_DOUBLE if first == '"' else _SINGLE).match(value) is None:
                raise _Unsupported
            inner, style = value[1:-1], first
        else:
            if first in _NOT_FIRST or ": " in value or value.endswith(":") or value.startswith(("---", "...")):
                raise _Unsupported
            inner, style = value, ""
        end = len(value)
        self.out.append(ScalarEvent(Mark(start, n, col), Mark(start + end, n, col + end), inner, style))

    def _literal(self, start: int, n: int, col: int, parent_col: int) -> int:
        """A `|` literal at `start` (its lines below, deeper than `parent_col`); returns its last line."""
        lines = self.lines
        first = n + 1
        if first >= len(lines):
            raise _Unsupported
        indent = len(lines[first]) - len(lines[first].lstrip(" "))
        if indent <= parent_col:
            raise _Unsupported  # an empty literal
        last = first
        while last + 1 < len(lines) and lines[last + 1][:indent].strip(" ") == "" and len(lines[last + 1]) > indent:
            last += 1
        for line in lines[first:last + 1]:
            if line[:indent].strip(" ") or not line[indent:].strip(" "):
                raise _Unsupported
        value = "\n".join(line[indent:] for line in lines[first:last + 1]) + "\n"
        self.out.append(ScalarEvent(Mark(start, n, col), Mark(self.starts[last + 1], last + 1, 0), value, "|"))
        return last
