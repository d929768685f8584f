"""Emitting: a yaml.v3-style block emitter, what sops writes for a document.

Used when a document cannot be written by editing its own text (`splice.py`): aliases, a
changed shape, another input format. Indent 4 like sops, or the file's own indent.
"""

from __future__ import annotations

from typing import Any

from ...tree import Branch, Comment
from .scalars import render_key, render_scalar

ENC_PREFIX = "ENC[AES256_GCM,"


class Emitter:
    """A yaml.v3-style block emitter (what sops writes), for documents without a source."""

    def __init__(self, indent: int) -> None:
        self.n = max(1, indent)
        self.out: list[str] = []

    def document(self, branch: Branch, base: int = 0) -> str:
        self.out = []
        if not branch:
            self.out.append("{}\n")
        else:
            self._map(branch, base, base, base + self.n, first_inline=False)
        return "".join(self.out)

    def map_items(self, branch: Branch, key_col: int) -> str:
        """The items of `branch` as block-mapping lines at `key_col` (appended to a map in place)."""
        self.out = []
        self._map(branch, key_col, key_col, key_col + self.n, first_inline=False)
        return "".join(self.out)

    def sequence(self, items: list[Any]) -> str:
        """A block sequence at column 0 ("" if it has no items)."""
        self.out = []
        self._seq(items, 0, first_inline=False)
        return "".join(self.out)

    def _aligned(self, col: int) -> int:
        """yaml.v3's indent for what a key at `col` holds: the next multiple of the indent step.
        (What a `- ` item holds starts right after the dash, at its column + 2.)"""
        return self.n * ((col + self.n) // self.n)

    def _comment_lines(self, comments: list[str], indent: int) -> None:
        for c in comments:
            self.out.append(" " * indent + "#" + c + "\n")

    def _scalar(self, value: Any, content_indent: int) -> str:
        return render_scalar(value, flow=False, indent=content_indent)

    def _map(self, branch: Branch, key_col: int, level: int, child: int, first_inline: bool) -> None:
        out = self.out
        inline: list[str] = []
        first = True
        for key, value in branch:
            if isinstance(key, Comment):
                if key.inline:
                    inline.append(key.value)
                else:
                    out.append(("" if first and first_inline else " " * key_col) + "#" + key.value + "\n")
                    first = False
                continue
            prefix = "" if first and first_inline else " " * key_col
            first = False
            line_comment = (" #" + " #".join(inline)) if inline else ""
            inline = []
            head = prefix + render_key(str(key)) + ":"
            if isinstance(value, Branch) and value:
                out.append(head + line_comment + "\n")
                self._map(value, child, child, self._aligned(child), first_inline=False)
            elif isinstance(value, list) and not isinstance(value, Branch) and has_items(value):
                out.append(head + line_comment + "\n")
                self._seq(value, child, first_inline=False)
            elif isinstance(value, Branch):
                out.append(head + " {}" + line_comment + "\n")
            elif isinstance(value, list):
                out.append(head + " []" + line_comment + "\n")
                self._comment_lines([c.value for c in value if isinstance(c, Comment)], child)
            else:
                out.append(head + " " + self._scalar(value, child) + line_comment + "\n")
        if inline:
            self._comment_lines(inline, key_col)

    def _seq(self, items: list[Any], dash_col: int, first_inline: bool) -> None:
        out = self.out
        inline: list[str] = []
        first = True
        for value in items:
            if isinstance(value, Comment):
                if value.inline:
                    inline.append(value.value)
                else:
                    # sops stores an encrypted comment of a list as an item: `- ENC[...,type:comment]`.
                    mark = "- " if value.value.startswith(ENC_PREFIX) else "#"
                    out.append(("" if first and first_inline else " " * dash_col) + mark + value.value + "\n")
                    first = False
                continue
            prefix = ("" if first and first_inline else " " * dash_col) + "- "
            first = False
            line_comment = (" #" + " #".join(inline)) if inline else ""
            inline = []
            if isinstance(value, Branch) and value:
                out.append(prefix)
                key_col = dash_col + 2
                self._map(value, key_col, dash_col, self._aligned(key_col), first_inline=True)
            elif isinstance(value, list) and not isinstance(value, Branch) and has_items(value):
                out.append(prefix)
                self._seq(value, dash_col + 2, first_inline=True)
            elif isinstance(value, Branch):
                out.append(prefix + "{}" + line_comment + "\n")
            elif isinstance(value, list):
                out.append(prefix + "[]" + line_comment + "\n")
            else:
                out.append(prefix + self._scalar(value, dash_col + 2) + line_comment + "\n")
        if inline:
            self._comment_lines(inline, dash_col)


def has_items(value: list[Any]) -> bool:
    return any(not isinstance(v, Comment) for v in value)
