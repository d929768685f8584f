"""What loading records about a YAML text so that emitting can edit it in place.

A `YamlSource` holds the text, where every leaf and comment sits in it (`Slot`), each
document's span and `sops:` block (`DocInfo`), each block mapping's item spans (`MapInfo`)
and a snapshot of every container's shape at load time. Plus the small text-position
helpers that loading and splicing share.
"""

from __future__ import annotations

from typing import Any

from ...tree import Branch, Comment

DEFAULT_INDENT = 4

COMMENT_TOKEN = object()  # stands for any comment item when comparing a map's shape


class Slot:
    """Where a leaf or comment sits: in the tree (container, index) and in the text.

    `indent` is the content indent for a literal block written here (for a comment of a
    block list: the list's dash column); `line_end` says that nothing but a newline follows
    on this line."""

    __slots__ = ("container", "end", "flow", "indent", "index", "kind", "line_end", "original", "start", "style")

    def __init__(self, container: Any, index: int, start: int, end: int, original: Any, kind: str,
                 style: str | None = None, flow: bool = False, indent: int = 2, line_end: bool = True) -> None:
        self.container = container
        self.index = index
        self.start = start
        self.end = end
        self.original = original
        self.kind = kind  # "value" or "comment"
        self.style = style
        self.flow = flow
        self.indent = indent
        self.line_end = line_end


# The records here are plain classes with __slots__, not dataclasses: `dataclasses` imports inspect,
# ast and dis (about 6 ms), a cost every YAML decrypt paid at start-up.
class DocInfo:
    """A document as written: where a new sops block goes (`end`), its top-level keys' column and
    the span and indent of its `sops:` block."""

    __slots__ = ("base_col", "branch", "end", "sops_indent", "sops_range")

    def __init__(self, branch: Branch, end: int) -> None:
        self.branch = branch
        self.end = end
        self.base_col = 0
        self.sops_range: tuple[int, int] | None = None
        self.sops_indent: int | None = None


class MapInfo:
    """A block mapping as written: its keys' column and each item's text span (whole lines)."""

    __slots__ = ("end", "items", "key_col")

    def __init__(self, key_col: int, items: list[list[Any]], end: int) -> None:
        self.key_col = key_col
        self.items = items  # [key, start, end]
        self.end = end  # where an appended item goes


def shape_tokens(branch: Branch) -> list[Any]:
    """A map's keys in order, every comment as the same token."""
    return [COMMENT_TOKEN if isinstance(k, Comment) else k for k, _ in branch]


class YamlSource:
    """A loaded text with what splicing needs: slots, documents, block maps and the shapes at load."""

    __slots__ = ("containers", "crlf", "docs", "indent", "maps", "slots", "spliceable", "text", "tokens")

    def __init__(self, text: str, crlf: bool, docs: list[DocInfo], slots: list[Slot], indent: int = DEFAULT_INDENT,
                 spliceable: bool = True, maps: dict[int, MapInfo] | None = None) -> None:
        self.text = text
        self.crlf = crlf
        self.docs = docs
        self.slots = slots
        self.containers: list[tuple[Any, int]] = []
        self.indent = indent
        self.spliceable = spliceable
        self.maps: dict[int, MapInfo] = {} if maps is None else maps
        self.tokens: dict[int, list[Any]] = {}

    def snapshot(self, containers: list[Any]) -> None:
        unique = list({id(c): c for c in containers}.values())
        self.containers = [(c, len(c)) for c in unique]
        containers = unique
        self.tokens = {id(c): shape_tokens(c) for c in containers if isinstance(c, Branch) and id(c) in self.maps}

    def same_documents(self, branches: list[Branch]) -> bool:
        if not self.spliceable or len(branches) != len(self.docs):
            return False
        return all(b is d.branch for b, d in zip(branches, self.docs, strict=True))


def line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def after_line(text: str, pos: int) -> int:
    """The start of the line after the one `pos` is on (or `pos` if it starts a line)."""
    if pos > 0 and text[pos - 1] == "\n":
        return pos
    newline = text.find("\n", pos)
    return len(text) if newline < 0 else newline + 1


def next_indent(text: str, pos: int) -> int:
    """The indentation of the first non-blank line after the one `pos` is on (-1 if none)."""
    start = after_line(text, pos)
    while start < len(text):
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip():
            return len(line) - len(line.lstrip(" \t"))
        if end < 0:
            break
        start = end + 1
    return -1


class Frame:
    """A collection being read: its node, style, column and (maps) the key awaiting its value."""

    __slots__ = ("anchor", "expect_key", "flow", "in_sops", "item_col", "items", "key", "key_event", "keys", "kind",
                 "node", "sops_start")

    def __init__(self, kind: str, node: Any, flow: bool, item_col: int, in_sops: bool, anchor: str | None) -> None:
        self.kind = kind
        self.node = node
        self.flow = flow
        self.item_col = item_col
        self.in_sops = in_sops
        self.anchor = anchor
        self.expect_key = True
        self.key: Any = None
        self.key_event: Any = None
        self.keys: dict[Any, int] = {}  # each key read so far -> its line (1-based)
        self.sops_start = -1
        self.items: list[list[Any]] = []  # block maps: [key, start, end] of each item in the text
