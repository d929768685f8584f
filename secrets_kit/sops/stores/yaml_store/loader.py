"""Loading: sops's tree from the YAML parser's events, with where each piece sits in the text.

`Loader.load` walks the parser's events (`fastparse.py`'s for the plain block YAML that sops
writes, else PyYAML's, the C parser when present), one handler per event kind: document start/end, alias, scalar, collection start/end. Values are typed
as yaml.v3 types them (`scalars.py`); comments are attached the way yaml.v3 attaches them
for sops: head comments to the map or list that holds the next item, line comments just
before the item on their line, comments before a dedent by yaml.v3's foot-comment rules
(`comments.py`). Every leaf and comment gets a `Slot`, every block mapping a `MapInfo`,
every document a `DocInfo`, so that emitting can edit the text in place (`splice.py`).
"""

from __future__ import annotations

import bisect
import json
import re
from typing import TYPE_CHECKING, Any

from .... import limits
from ....errors import InputError
from ...reasons import Reason
from ...tree import Branch, Comment
from ..base import SOPS_KEY
from .comments import CommentSpan, dedent_targets, find_comments
from .fastparse import events as fast_events
from .scalars import resolve_plain, resolve_tagged
from .source import DEFAULT_INDENT, DocInfo, Frame, MapInfo, Slot, after_line, line_start

if TYPE_CHECKING:
    import yaml

_BLOCK_ENDS = ("MappingEndEvent", "SequenceEndEvent")


def _hashable(key: Any) -> Any:
    if key.__class__ is str:
        return key
    try:
        hash(key)
        return (key.__class__.__name__, key)
    except TypeError:
        return ("unhashable", id(key))


def _unmarshal_error(message: str, hint: str | None = None) -> InputError:
    return InputError(f"Error unmarshaling input YAML: {message}", hint=hint, reason=Reason.MALFORMED_INPUT)


def _yaml_error(exc: yaml.YAMLError) -> str:
    """The parser's error as yaml.v3 (so sops) words it: `line N: problem`.

    The line is where the problem starts, the context (`while scanning a quoted scalar`,
    `while parsing a block mapping`) when it is past the first line, else the problem
    itself. Like yaml.v3, a scanner error counts lines from 1 and a parser error from 0
    (so "line 2" for a bad key on the third line, as sops says)."""
    import yaml

    problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    scanner = isinstance(exc, yaml.scanner.ScannerError)
    for mark in (getattr(exc, "context_mark", None), getattr(exc, "problem_mark", None)):
        if mark is not None and mark.line != 0:
            return f"line {mark.line + (1 if scanner else 0)}: {problem}"
    return str(problem)


def _parse(text: str) -> list[Any]:
    """The parser's events: read without PyYAML when the text is in the fast reader's subset."""
    events = fast_events(text)
    if events is not None:
        return events
    import yaml  # about 12 ms to import: only for texts outside that subset

    parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return list(yaml.parse(text, Loader=parser))
    except yaml.YAMLError as exc:
        raise _unmarshal_error(_yaml_error(exc)) from None
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept as surrogates by the decoding
        raise _unmarshal_error("yaml: invalid leading UTF-8 octet") from None


_STARTS = ("MappingStartEvent", "SequenceStartEvent")


def _check_depth(events: list[Any]) -> None:
    """Nesting beyond the depth limit is refused before the tree is built: emitting, flattening and
    the MAC walk a tree recursively (found by `make fuzz`: 1,000 levels of `{"a":` overflowed the emitter)."""
    depth, limit = 0, limits.DEPTH.value
    for event in events:
        name = type(event).__name__  # by name: the events are PyYAML's or fastparse's
        if name in _STARTS:
            depth += 1
            if depth > limit:
                raise limits.depth_error()
        elif name in _BLOCK_ENDS:
            depth -= 1


class Loader:
    """Turns the event stream of one YAML text into branches, slots and comments."""

    def __init__(self, text: str, sops_follows: bool = False) -> None:
        self.text = text
        # The text is a plaintext about to be encrypted: the file we write has each document
        # followed by the `sops:` key, which is what sops will see after its trailing comments.
        self.sops_follows = sops_follows
        self.slots: list[Slot] = []
        self.slots_by_container: dict[int, list[Slot]] = {}
        self.containers: list[Any] = []
        self.docs: list[DocInfo] = []
        self.anchors: dict[str, Any] = {}
        self.spliceable = True
        self.indent_step: int | None = None
        self.maps: dict[int, MapInfo] = {}
        self.last_content_end = 0
        # The last content was a `key:` ("value") or `-` ("item") with nothing written after it.
        self.prior_empty = ""
        self._line_starts: list[int] | None = None
        self.unstepped: list[Slot] = []  # value slots read before the indent step was known
        # The walk's state.
        self.events: list[Any] = []
        self.comments: list[CommentSpan] = []
        self.ci = 0  # the next comment not yet placed
        self.stack: list[Frame] = []
        self.branches: list[Branch] = []
        self.doc_info: DocInfo | None = None
        self.root: Any = None
        self.pending_sops_end: DocInfo | None = None  # a sops block that ends where the next token's line starts
        self.done: set[int] = set()  # comments already given to a block that ended
        self.planned = 0  # comments before this index have had their block-end targets worked out
        self.targets: dict[int, Frame] = {}
        self.expanded = 0  # values that aliases copied: bounded, or `*b` of `b: [*a, *a]` doubles

    # ------------------------------------------------------------ the walk
    def load(self) -> list[Branch]:
        text = self.text
        self.events = events = _parse(text)
        _check_depth(events)
        if "#" in text:
            spans = [(e.start_mark.index, e.end_mark.index) for e in events
                     if type(e).__name__ in ("ScalarEvent", "AliasEvent")]
            self.comments = find_comments(text, spans)
        handlers = {
            "DocumentStartEvent": self._document_start,
            "DocumentEndEvent": self._document_end,
            "AliasEvent": self._alias,
            "ScalarEvent": self._scalar,
            "MappingStartEvent": self._collection_start,
            "SequenceStartEvent": self._collection_start,
            "MappingEndEvent": self._collection_end,
            "SequenceEndEvent": self._collection_end,
        }
        stack = self.stack
        for position, ev in enumerate(events):
            if self.pending_sops_end is not None:
                self._end_sops_block(ev.start_mark.index)
            handler = handlers.get(type(ev).__name__)
            if handler is not None:
                handler(position, ev, stack[-1] if stack else None)
        if self.pending_sops_end is not None and self.pending_sops_end.sops_range is not None:
            self.pending_sops_end.sops_range = (self.pending_sops_end.sops_range[0], len(text))
        step = self.indent_step or DEFAULT_INDENT
        for slot in self.unstepped:
            slot.indent += step
        return self.branches

    def _end_sops_block(self, start: int) -> None:
        """The sops block ends where the next token's line starts."""
        doc = self.pending_sops_end
        assert doc is not None and doc.sops_range is not None
        ls = line_start(self.text, start)
        end = ls if self.text[ls:start].strip() == "" else start
        doc.sops_range = (doc.sops_range[0], end)
        self.pending_sops_end = None

    # ------------------------------------------------------------ event handlers
    def _document_start(self, position: int, ev: Any, frame: Frame | None) -> None:
        self.root = None
        self.doc_info = DocInfo(Branch(), end=len(self.text))

    def _document_end(self, position: int, ev: Any, frame: Frame | None) -> None:
        doc_info = self.doc_info
        assert doc_info is not None
        root = self.root
        if root is None:
            branch = Branch()
        elif isinstance(root, Branch):
            branch = root
        elif isinstance(root, list):
            raise _unmarshal_error("YAML documents that are sequences are not supported",
                                   hint="wrap the list in a mapping, e.g. items: [...]")
        else:
            raise _unmarshal_error("YAML documents that are values are not supported")
        # Comments left at the end of the document are foot comments of its top level.
        top = Frame("map", branch, False, 0, False, None)
        self._flush_before(ev.end_mark.index if ev.explicit else max(ev.start_mark.index, 0) + (
            1 if ev.start_mark.index >= len(self.text) else 0), top)
        if root is None:
            doc_info.end = ev.start_mark.index
        doc_info.branch = branch
        self.branches.append(branch)
        self.docs.append(doc_info)

    def _alias(self, position: int, ev: Any, frame: Frame | None) -> None:
        self.spliceable = False
        self._flush_before(ev.start_mark.index, frame)
        if ev.anchor not in self.anchors:
            # Not the alias name: `password: *hunter2` is a value written without quotes.
            raise _unmarshal_error(f"line {ev.start_mark.line + 1}: unknown anchor referenced")
        anchored = self.anchors[ev.anchor]
        # Each alias is a copy: count what it adds (and how deep it is) before copying it.
        self.expanded += limits.check_tree(anchored, budget=limits.NODES.value - self.expanded)
        import copy  # aliases only (fastparse reads none)

        self._add_value(copy.deepcopy(anchored), ev)
        self.last_content_end = ev.end_mark.index
        self.prior_empty = ""
        if frame is not None:
            mode = "append" if (frame.kind == "map" and not frame.expect_key) else "before_last"
            self._flush_inline(ev.end_mark.index, ev.end_mark.line, mode, frame)

    def _scalar(self, position: int, ev: Any, frame: Frame | None) -> None:
        start = ev.start_mark.index
        comments = self.comments
        if comments:
            self._flush_before(start, frame)
        if ev.tag and ev.tag != "!":
            value = resolve_tagged(ev.tag, ev.value, ev.style in (None, ""))
        elif ev.style in (None, "") and ev.implicit[0]:
            value = resolve_plain(ev.value)
        else:
            value = ev.value
        if ev.anchor:
            self.anchors[ev.anchor] = value
        is_key = frame is not None and frame.kind == "map" and frame.expect_key
        if frame is not None and not is_key and not frame.in_sops:
            self._value_slot(frame, ev, value)
        self._add_value(value, ev)
        end = ev.end_mark.index
        self.last_content_end = end
        self.prior_empty = "" if is_key or frame is None or start != end \
            else "value" if frame.kind == "map" else "item"
        if frame is not None and comments and ev.style not in ("|", ">"):
            # (A block scalar ends on a later line: a comment there is not its line comment.)
            if is_key:
                # A comment after `key:` belongs to the key only if the value starts later.
                events = self.events
                following = events[position + 1].start_mark.index if position + 1 < len(events) else len(self.text)
                self._flush_inline(end, ev.end_mark.line, "append", frame, before=following)
            else:
                self._flush_inline(end, ev.end_mark.line, "before_last", frame)

    def _collection_start(self, position: int, ev: Any, frame: Frame | None) -> None:
        kind = "map" if type(ev).__name__ == "MappingStartEvent" else "seq"
        flow = bool(ev.flow_style)
        stack = self.stack
        doc_info = self.doc_info
        in_sops = bool(frame is not None and (frame.in_sops or (frame.sops_start >= 0
                                                                and frame.key == SOPS_KEY and len(stack) == 1)))
        if frame is not None and frame.kind == "map" and frame.expect_key:
            raise _unmarshal_error("complex mapping keys are not supported")
        if flow and frame is not None:
            self._flush_before(ev.start_mark.index, frame)
        node: Any = Branch() if kind == "map" else []
        self.containers.append(node)
        col = ev.start_mark.column if flow else self._block_column(position, ev, kind)
        if frame is not None and not flow and not frame.flow and self.indent_step is None:
            parent_col = frame.key_event.start_mark.column if frame.kind == "map" and frame.key_event \
                else frame.item_col
            if col > parent_col and (kind == "map" or frame.kind == "map"):
                self.indent_step = col - parent_col
        if frame is None and flow:
            self.spliceable = False  # a flow mapping at the top: no room for a sops block
        if frame is None and doc_info is not None:
            doc_info.base_col = col
        new = Frame(kind, node, flow or bool(frame and frame.flow), col, in_sops, ev.anchor)
        if in_sops and len(stack) == 1 and frame is not None and doc_info is not None and not flow:
            doc_info.sops_indent = col - frame.item_col if col > frame.item_col else None
        stack.append(new)
        if not flow or frame is None:  # comments above a root flow mapping are its head comments
            self._flush_before(ev.start_mark.index, new)

    def _block_column(self, position: int, ev: Any, kind: str) -> int:
        """The column of a block collection's items (its keys, or its dashes).

        The start mark is there, except when the collection has an anchor or a tag: then it
        is at that (`key: &anchor` then the items on the next lines), and the first item tells."""
        col: int = ev.start_mark.column
        if not (ev.anchor or ev.tag) or position + 1 >= len(self.events):
            return col
        first = self.events[position + 1]
        if type(first).__name__ in _BLOCK_ENDS:
            return col
        if kind == "map":
            return int(first.start_mark.column)
        text = self.text
        dash = first.start_mark.index - 1  # the first item follows its `-`
        while dash >= 0 and text[dash] in " \t":
            dash -= 1
        return dash - line_start(text, dash) if dash >= 0 and text[dash] == "-" else col

    def _collection_end(self, position: int, ev: Any, frame: Frame | None) -> None:
        assert frame is not None
        text = self.text
        stack = self.stack
        doc_info = self.doc_info
        start = ev.start_mark.index
        if frame.flow:
            self._flush_before(start, frame)
        else:
            self._flush_block_end(position, frame, start)
        stack.pop()
        value = frame.node
        if frame.flow:
            self.last_content_end = ev.end_mark.index
            self.prior_empty = ""
        elif frame.kind == "map" and not frame.in_sops:
            self._close_item(frame)
            last = frame.items[-1][2] if frame.items else line_start(text, start)
            self.maps[id(value)] = MapInfo(frame.item_col, frame.items, last)
        if frame.anchor:
            self.anchors[frame.anchor] = value
        parent = stack[-1] if stack else None
        if parent is not None and parent.kind == "map" and parent.key == SOPS_KEY and len(stack) == 1 \
                and parent.sops_start >= 0 and doc_info is not None:
            doc_info.sops_range = (parent.sops_start, -1)
            self.pending_sops_end = doc_info
            parent.sops_start = -1
        self._add_value(value, ev)
        if frame.flow and parent is not None:
            self._flush_inline(ev.end_mark.index, ev.end_mark.line, "first", parent, target=frame)
        if parent is None and doc_info is not None and not frame.flow:
            doc_info.end = ev.start_mark.index
        elif parent is None and doc_info is not None:
            doc_info.end = ev.end_mark.index

    # ------------------------------------------------------------ values
    def _add_value(self, value: Any, ev: Any) -> None:
        """Place a finished value into the enclosing collection (or as the document root)."""
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        if frame.kind != "map":
            frame.node.append(value)
            return
        if not frame.expect_key:
            frame.node.append((frame.key, value))
            frame.expect_key = True
            return
        key = value
        marker = _hashable(key)
        if marker in frame.keys:
            # yaml.v3's words; the key as Go's %#v quotes it.
            written = json.dumps(ev.value if type(ev).__name__ == "ScalarEvent" else str(key), ensure_ascii=False)
            raise _unmarshal_error(f"line {ev.start_mark.line + 1}: mapping key {written} already defined at line "
                                   f"{frame.keys[marker]}")
        frame.keys[marker] = ev.start_mark.line + 1
        frame.key = key
        frame.key_event = ev
        frame.expect_key = False
        if not frame.flow:
            self._close_item(frame)
            frame.items.append([key, line_start(self.text, ev.start_mark.index), -1])
        if len(self.stack) == 1 and key == SOPS_KEY and self.doc_info is not None:
            frame.sops_start = line_start(self.text, ev.start_mark.index)

    def _close_item(self, frame: Frame) -> None:
        if frame.items and frame.items[-1][2] < 0:
            frame.items[-1][2] = after_line(self.text, self.last_content_end)

    def _value_slot(self, frame: Frame, ev: Any, value: Any) -> None:
        text = self.text
        end = ev.end_mark.index
        newline = text.find("\n", end)
        rest = text[end:newline] if newline >= 0 else text[end:]
        if frame.kind == "map":
            base = frame.key_event.start_mark.column if frame.key_event is not None else frame.item_col
        else:
            base = frame.item_col
        slot = Slot(frame.node, len(frame.node), ev.start_mark.index, end, value, "value", ev.style or None,
                    frame.flow, base + (self.indent_step or 0), rest.strip() == "")
        if self.indent_step is None:
            self.unstepped.append(slot)  # its indent step is known once a nested block (or the sops block) is
        self._add_slot(slot)

    # ------------------------------------------------------------ slots
    def _add_slot(self, slot: Slot) -> None:
        self.slots.append(slot)
        self.slots_by_container.setdefault(id(slot.container), []).append(slot)

    def _insert(self, container: Any, pos: int, item: Any) -> None:
        container.insert(pos, item)
        for slot in self.slots_by_container.get(id(container), ()):
            if slot.index >= pos:
                slot.index += 1

    # ------------------------------------------------------------ comments
    def _attach_comment(self, frame: Frame | None, c: CommentSpan, mode: str) -> None:
        """mode: "append" (head/foot comment), "before_last" (line comment of the last item),
        "first" (line comment of a flow collection)."""
        if frame is None or frame.in_sops:
            return
        start, end, _, _, _ = c
        comment = Comment(self.text[start + 1:end], inline=(mode == "before_last"))
        node = frame.node
        item: Any = (comment, None) if frame.kind == "map" else comment
        if mode == "before_last" and len(node) > 0:
            pos = len(node) - 1
        elif mode == "first":
            pos = 0
        else:
            pos = len(node)
        self._insert(node, pos, item)
        # (For a comment of a block list, `indent` is the list's dash column.)
        self._add_slot(Slot(node, pos, start, end, comment, "comment", flow=frame.flow, indent=frame.item_col))

    def _flush_before(self, limit: int, frame: Frame | None) -> None:
        """Give `frame` every comment before `limit` that no closed block took."""
        comments = self.comments
        while self.ci < len(comments) and comments[self.ci][0] < limit:
            if self.ci not in self.done:
                self._attach_comment(frame, comments[self.ci], "append")
            self.ci += 1

    def _flush_block_end(self, position: int, frame: Frame, limit: int) -> None:
        """A block ends before the next token at `limit`: give it the comments that are its."""
        comments, ci, text = self.comments, self.ci, self.text
        if ci >= self.planned and ci < len(comments) and comments[ci][0] < limit:
            run = list(range(ci, bisect.bisect_left(comments, (limit,), lo=ci)))
            self.planned = run[-1] + 1
            events, stack = self.events, self.stack
            count = 0
            while position + count < len(events) and type(events[position + count]).__name__ in _BLOCK_ENDS:
                count += 1
            depths = range(len(stack) - 1, len(stack) - 1 - count, -1)
            closing = [stack[d] for d in depths]
            indentless = [stack[d].kind == "seq" and d > 0 and stack[d - 1].kind == "map"
                          and stack[d].item_col == stack[d - 1].item_col for d in depths]
            next_col: int | None = limit - line_start(text, limit)
            if not text[limit:].strip():
                next_col = self.doc_info.base_col if self.sops_follows and self.doc_info is not None else None
            self.targets.update(dedent_targets(text, self._line_of, self.last_content_end, self.prior_empty, run,
                                               comments, closing, indentless, next_col, self._line_of(limit)))
        for i in range(ci, self.planned):
            if i not in self.done and self.targets.get(i) is frame:
                self._attach_comment(frame, comments[i], "append")
                self.done.add(i)

    def _flush_inline(self, after: int, line: int, mode: str, frame: Frame | None, target: Frame | None = None,
                      before: int | None = None) -> None:
        """Attach the comments on `line` after `after` (and before `before`) as line comments."""
        comments = self.comments
        while self.ci < len(comments) and comments[self.ci][2] == line and comments[self.ci][0] >= after \
                and (before is None or comments[self.ci][0] < before):
            if target is not None:
                self._attach_comment(target, comments[self.ci], "first")
            else:
                self._attach_comment(frame, comments[self.ci], mode)
            self.ci += 1

    def _line_of(self, pos: int) -> int:
        if self._line_starts is None:
            self._line_starts = [m.end() for m in re.finditer("\n", self.text)]
        return bisect.bisect_right(self._line_starts, pos)
