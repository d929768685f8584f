"""Text splicing: write a tree back by editing the text it was loaded from.

When the documents are the ones loaded and their shape changed at most by keys removed or
added at the end of a map, only the changed spots are rewritten: values (ENC strings on
encrypt, plaintext on decrypt), comments, removed items, appended items and the `sops:`
block. The file keeps its own indentation, quoting, flow style and comments, and a
`set`/`edit` changes only the lines it touched. Anything else returns None, and the store
writes the document with the emitter instead.
"""

from __future__ import annotations

from typing import Any

from ...tree import Branch, Comment
from ..base import SOPS_KEY
from .emitter import ENC_PREFIX, Emitter
from .scalars import render_scalar
from .source import COMMENT_TOKEN, Slot, YamlSource, after_line, line_start, next_indent, shape_tokens


class Plan:
    """The items removed, the items appended and how old item indexes map to new ones."""

    __slots__ = ("appends", "deletions", "remap")  # a plain class: `dataclasses` costs ~6 ms to import

    def __init__(self) -> None:
        self.deletions: list[tuple[int, int]] = []
        self.appends: list[tuple[int, Branch, int, int]] = []  # (pos, map, from index, col)
        self.remap: dict[int, dict[int, int | None]] = {}

    def index(self, slot: Slot) -> int | None:
        remap = self.remap.get(id(slot.container))
        return slot.index if remap is None else remap.get(slot.index)

    def deleted(self, slot: Slot) -> bool:
        return any(start <= slot.start < end for start, end in self.deletions)


def _plan(source: YamlSource) -> Plan | None:
    """How the text must change for the tree's current shape: None if only the emitter can."""
    plan = Plan()
    for container, length in source.containers:
        tokens = source.tokens.get(id(container))
        if tokens is None:
            if len(container) != length:
                return None
            continue
        current = shape_tokens(container)
        if current == tokens:
            continue
        remap: dict[int, int | None] = {}
        j = 0
        for i, token in enumerate(tokens):
            if j < len(current) and current[j] == token:
                remap[i] = j
                j += 1
            elif token is COMMENT_TOKEN:
                return None  # a comment went away: let the emitter write the document
            else:
                remap[i] = None
        appended = current[j:]
        if any(t is COMMENT_TOKEN or t in tokens for t in appended):
            return None  # not a plain removal or addition at the end
        info = source.maps[id(container)]
        spans = {item[0]: (item[1], item[2]) for item in info.items}
        for i, token in enumerate(tokens):
            if remap[i] is None:
                if token not in spans:
                    return None
                plan.deletions.append(spans[token])
        if appended:
            ends = [end for key, _, end in info.items if key != SOPS_KEY]
            ends += [after_line(source.text, slot.end) for slot in source.slots
                     if slot.container is container and slot.kind == "comment"]
            position = max(ends, default=info.end)
            plan.appends.append((position, container, len(container) - len(appended), info.key_col))
        plan.remap[id(container)] = remap
    return plan


def splice(source: YamlSource, meta_branch: Branch | None, list_items: bool = True) -> str | None:
    """The text with every value, comment and sops block changed in place, or None if the
    tree's shape changed in a way only the emitter can write.

    With `list_items`, an encrypted comment line of a block list becomes an item, as sops
    stores it (the caller checks that this left every other comment where it was)."""
    plan = _plan(source)
    if plan is None:
        return None
    text = source.text
    edits: list[tuple[int, int, str]] = [(start, end, "") for start, end in plan.deletions]
    for slot in source.slots:
        index = plan.index(slot)
        if index is None or (plan.deletions and plan.deleted(slot)):
            continue
        if index >= len(slot.container):
            return None
        item = slot.container[index]
        if slot.kind == "value" and isinstance(item, Comment):
            edit = _comment_item(text, slot, item)
            if edit is None:
                return None
            edits.append(edit)
            continue
        if list_items and slot.kind == "comment" and not isinstance(slot.container, Branch) and not slot.flow:
            list_item = _list_comment_item(text, slot, item)
            if list_item is not None:
                edits.append(list_item)
                continue
        rendered = _render_slot(slot, text, index)
        if rendered is None:
            return None
        if rendered != text[slot.start:slot.end]:
            edits.append((slot.start, slot.end, rendered))
    for position, container, first, key_col in plan.appends:
        items = Emitter(source.indent).map_items(Branch(container[first:]), key_col)
        prefix = "" if position == 0 or text[position - 1] == "\n" else "\n"
        edits.append((position, position, prefix + items))
    for doc in source.docs:
        if meta_branch is None:
            if doc.sops_range is not None:
                # An empty document is written `{}` (as sops does), not left blank.
                edits.append((doc.sops_range[0], doc.sops_range[1], "" if doc.branch else "{}\n"))
            continue
        indent = doc.sops_indent or source.indent
        block = Emitter(indent).document(Branch([(SOPS_KEY, meta_branch)]), base=doc.base_col)
        if doc.sops_range is not None:
            start, end = doc.sops_range
            old = text[start:end]
            if old and not old.endswith("\n") and end < len(text):
                block = block.rstrip("\n")
            edits.append((start, end, block))
        else:
            pos = doc.end
            prefix = "" if pos == 0 or text[pos - 1] == "\n" else "\n"
            edits.append((pos, pos, prefix + block))
    if not edits:
        return text
    edits.sort(key=lambda e: (e[0], e[1]))
    out: list[str] = []
    last = 0
    for start, end, rendered in edits:
        if start < last:
            return None  # overlapping edits: let the emitter write the document
        out.append(text[last:start])
        out.append(rendered)
        last = end
    out.append(text[last:])
    return "".join(out)


def _render_slot(slot: Slot, text: str, index: int) -> str | None:
    container = slot.container
    if slot.kind == "comment":
        item = container[index]
        comment = item[0] if isinstance(item, tuple) else item
        if not isinstance(comment, Comment):
            return None
        if comment.value == slot.original.value:
            return text[slot.start:slot.end]
        return "#" + comment.value
    item = container[index]
    value = item[1] if isinstance(container, Branch) else item
    original = slot.original
    if type(value) is type(original) and value == original:
        return text[slot.start:slot.end]
    if isinstance(value, list):
        return None  # a leaf became a collection: the emitter writes the document
    if isinstance(value, Comment):
        return None  # a list item that decrypted to a comment: handled by _comment_item
    ended_line = slot.end > 0 and text[slot.end - 1] == "\n"
    if isinstance(value, str) and value.startswith(ENC_PREFIX):
        if slot.style in ("'", '"'):
            rendered = slot.style + value + slot.style
        elif slot.flow:
            rendered = '"' + value + '"'
        else:
            rendered = value
    else:
        # A double-quoted ENC value in a flow collection was quoted by necessity, not by choice.
        style = slot.style if slot.style == "'" or (slot.style == '"' and not slot.flow) else None
        # A block scalar would take in a following line indented as deep as its content
        # (a comment below the value): write the value on its line then.
        allow_block = (slot.line_end or ended_line) and next_indent(text, slot.end) < slot.indent
        rendered = render_scalar(value, flow=slot.flow, indent=slot.indent, style=style,
                                 allow_block=allow_block)
    if ended_line:
        rendered += "\n"
    return rendered


def _comment_item(text: str, slot: Slot, comment: Comment) -> tuple[int, int, str] | None:
    """sops writes a comment of a list as an item `- ENC[...,type:comment]`: turn the item back
    into a comment line (`# text`) in place."""
    if isinstance(slot.original, str) and slot.original == comment.value:
        return slot.start, slot.end, text[slot.start:slot.end]
    if slot.flow:
        return None
    start = line_start(text, slot.start)
    stripped = text[start:slot.start].rstrip()
    if not stripped.endswith("-") or stripped[:-1].strip():
        return None
    dash = start + len(stripped) - 1
    return dash, slot.end, "#" + comment.value


def _list_comment_item(text: str, slot: Slot, comment: Any) -> tuple[int, int, str] | None:
    """sops stores an encrypted comment line of a block list as an item `- ENC[...,type:comment]`
    at the list's dash column (`slot.indent`): write it so. A line comment stays a comment."""
    if not isinstance(comment, Comment) or comment.inline or not comment.value.startswith(ENC_PREFIX):
        return None
    start = line_start(text, slot.start)
    if text[start:slot.start].strip():
        return None
    return start, slot.end, " " * slot.indent + "- " + comment.value


def comment_shape(value: Any) -> Any:
    """The tree as plain data where a comment and a list item `ENC[...,type:comment]` look
    alike: what reading back a file we wrote must give."""
    if isinstance(value, Branch):
        return [(comment_shape(k), comment_shape(v)) for k, v in value
                if not (isinstance(k, str) and k == SOPS_KEY)]
    if isinstance(value, list):
        return [comment_shape(v) for v in value]
    if isinstance(value, Comment):
        return ("#", value.value)
    if isinstance(value, str) and value.startswith(ENC_PREFIX) and value.endswith(",type:comment]"):
        return ("#", value)
    return value
