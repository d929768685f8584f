"""YAML store: sops's tree from libyaml events, written back by editing the original text.

Loading walks the parser's events (PyYAML's C parser when present) into the tree,
attaching comments the way yaml.v3 does for sops (head comments to the map or list that
holds the next item, line comments just before the item on their line, comments before a
dedent by yaml.v3's foot-comment rules) and recording where every leaf and comment sits in
the text. sops encrypts a comment with the path of its container, so this decides whether
sops can decrypt the comments of a file we write.

Emitting rewrites only those spots in the original text when the tree's shape did not
change, so the file keeps its own indentation, quoting, flow style and comments, and a
`set`/`edit` changes only the lines it touched. Otherwise (aliases, changed shape,
another input format) a yaml.v3-style emitter writes the document (indent 4 like sops,
or the file's own indent).
"""

from __future__ import annotations

import bisect
import copy
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...errors import InputError
from ..metadata import Metadata, metadata_from_tree, metadata_to_branch
from ..reasons import Reason
from ..tree import Branch, Comment
from .base import NESTED, SOPS_KEY, Document, Store, extract_metadata
from .yaml_text import render_key, render_scalar, resolve_plain, resolve_tagged

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

DEFAULT_INDENT = 4
_COMMENT_RE = re.compile(r"(?:^|(?<=[ \t]))#[^\n]*", re.M)
_ENC_PREFIX = "ENC[AES256_GCM,"


class Slot:
    """Where a leaf or comment sits: in the tree (container, index) and in the text.

    `indent` is the content indent for a literal block written here; `line_end` says that
    nothing but a newline follows on this line."""

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


@dataclass
class DocInfo:
    branch: Branch
    end: int  # where a new sops block goes
    base_col: int = 0  # column of the top-level keys
    sops_range: tuple[int, int] | None = None
    sops_indent: int | None = None
    spliceable: bool = True


@dataclass
class MapInfo:
    """A block mapping as written: its keys' column and each item's text span (whole lines)."""

    key_col: int
    items: list[list[Any]]  # [key, start, end]
    end: int  # where an appended item goes


_COMMENT = object()  # stands for any comment item when comparing a map's shape


def _tokens(branch: Branch) -> list[Any]:
    return [_COMMENT if isinstance(k, Comment) else k for k, _ in branch]


@dataclass
class _Plan:
    deletions: list[tuple[int, int]] = field(default_factory=list)
    appends: list[tuple[int, Branch, int, int]] = field(default_factory=list)  # (pos, map, from index, col)
    remap: dict[int, dict[int, int | None]] = field(default_factory=dict)

    def index(self, slot: Slot) -> int | None:
        remap = self.remap.get(id(slot.container))
        return slot.index if remap is None else remap.get(slot.index)

    def deleted(self, slot: Slot) -> bool:
        return any(start <= slot.start < end for start, end in self.deletions)


@dataclass
class YamlSource:
    text: str
    crlf: bool
    docs: list[DocInfo]
    slots: list[Slot]
    containers: list[tuple[Any, int]] = field(default_factory=list)
    indent: int = DEFAULT_INDENT
    spliceable: bool = True
    maps: dict[int, MapInfo] = field(default_factory=dict)
    tokens: dict[int, list[Any]] = field(default_factory=dict)

    def snapshot(self, containers: list[Any]) -> None:
        unique = list({id(c): c for c in containers}.values())
        self.containers = [(c, len(c)) for c in unique]
        containers = unique
        self.tokens = {id(c): _tokens(c) for c in containers if isinstance(c, Branch) and id(c) in self.maps}

    def same_documents(self, branches: list[Branch]) -> bool:
        if not self.spliceable or len(branches) != len(self.docs):
            return False
        return all(b is d.branch for b, d in zip(branches, self.docs, strict=True))

    def plan(self) -> _Plan | None:
        """How the text must change for the tree's current shape: None if only the emitter can."""
        plan = _Plan()
        for container, length in self.containers:
            tokens = self.tokens.get(id(container))
            if tokens is None:
                if len(container) != length:
                    return None
                continue
            current = _tokens(container)
            if current == tokens:
                continue
            remap: dict[int, int | None] = {}
            j = 0
            for i, token in enumerate(tokens):
                if j < len(current) and current[j] == token:
                    remap[i] = j
                    j += 1
                elif token is _COMMENT:
                    return None  # a comment went away: let the emitter write the document
                else:
                    remap[i] = None
            appended = current[j:]
            if any(t is _COMMENT or t in tokens for t in appended):
                return None  # not a plain removal or addition at the end
            info = self.maps[id(container)]
            spans = {item[0]: (item[1], item[2]) for item in info.items}
            for i, token in enumerate(tokens):
                if remap[i] is None:
                    if token not in spans:
                        return None
                    plan.deletions.append(spans[token])
            if appended:
                ends = [end for key, _, end in info.items if key != SOPS_KEY]
                ends += [_after_line(self.text, slot.end) for slot in self.slots
                         if slot.container is container and slot.kind == "comment"]
                position = max(ends, default=info.end)
                plan.appends.append((position, container, len(container) - len(appended), info.key_col))
            plan.remap[id(container)] = remap
        return plan


class _Frame:
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
        self.keys: set[Any] = set()
        self.sops_start = -1
        self.items: list[list[Any]] = []  # block maps: [key, start, end] of each item in the text


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _after_line(text: str, pos: int) -> int:
    """The start of the line after the one `pos` is on (or `pos` if it starts a line)."""
    if pos > 0 and text[pos - 1] == "\n":
        return pos
    newline = text.find("\n", pos)
    return len(text) if newline < 0 else newline + 1


def _hashable(key: Any) -> Any:
    if key.__class__ is str:
        return key
    try:
        hash(key)
        return (key.__class__.__name__, key)
    except TypeError:
        return ("unhashable", id(key))


class _Builder:
    """Turns the event stream of one YAML text into branches, slots and comments."""

    def __init__(self, text: str, track: bool, sops_follows: bool = False) -> None:
        self.text = text
        self.track = track
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

    # ------------------------------------------------------------ slots
    def _add_slot(self, slot: Slot) -> None:
        if not self.track:
            return
        self.slots.append(slot)
        self.slots_by_container.setdefault(id(slot.container), []).append(slot)

    def _insert(self, container: Any, pos: int, item: Any) -> None:
        container.insert(pos, item)
        for slot in self.slots_by_container.get(id(container), ()):
            if slot.index >= pos:
                slot.index += 1

    # ------------------------------------------------------------ comments
    def _comment_slot(self, container: Any, index: int, c: tuple[int, int, int, int, bool], comment: Comment) -> None:
        start, end, _, _, _ = c
        self._add_slot(Slot(container, index, start, end, comment, "comment"))

    def attach_comment(self, frame: _Frame | None, c: tuple[int, int, int, int, bool], mode: str) -> None:
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
        self._comment_slot(node, pos, c, comment)

    def _line_of(self, pos: int) -> int:
        if self._line_starts is None:
            self._line_starts = [m.end() for m in re.finditer("\n", self.text)]
        return bisect.bisect_right(self._line_starts, pos)

    def _dedent_targets(self, run: list[int], comments: list[tuple[int, int, int, int, bool]],
                        closing: list[_Frame], indentless: list[bool], next_col: int | None,
                        next_line: int) -> dict[int, _Frame]:
        """Which closing block each comment of `run` belongs to, when the next token is dedented.

        `run` holds the comment lines between the prior content and the next token; `closing`
        the blocks that end there, innermost first (`indentless`: a `- ` list at its key's
        column, which yaml.v3 ends without a block-end token). Comments not in the answer
        belong where the next token goes (or to the document at its end).

        This follows yaml.v3's scanner, which cuts the comment lines into groups; a group
        ends as a *foot* comment when
        (a) a later line, or the next token, starts left of the innermost block's indent at
            another column than the group's first line, or
        (b) at the first blank line (or the end of the file), if no blank line came before the
            first comment and the group starts on the line right after the prior content
            (unless that is a bare `key:`) or left of the indent.
        What is left at the next token is its *head* comment. The first foot belongs to the
        prior content (sops puts it in the innermost block), unless (b) made it while it starts
        left of the indent. Any other foot belongs to the place where it starts: it goes to the
        first mapping that ends at or after it. A block ends before the comments, unless a
        group starts at the block's own indent: then it ends there.
        """
        indent = closing[0].item_col
        # The prior content's last line (a block scalar's span runs on over blank lines).
        end = self.last_content_end
        while end > 1 and self.text[end - 1] in " \t\n":
            end -= 1
        prior_line = self._line_of(end - 1)
        records: list[tuple[list[int], str]] = []  # (comment indices, "prior" | "here" | "head")
        group: list[int] = []
        tie = "prior"  # a foot found now belongs to the prior content ("prior") or to its place ("here")
        first_empty = comments[run[0]][2] == prior_line + 1
        start_col = start_line = last_line = 0

        def cut(kind: str) -> None:
            nonlocal group, tie
            records.append((group, kind))
            group = []
            tie = "here"

        def blank() -> None:  # the first blank line (or the end of the file) after comment text
            nonlocal first_empty
            if first_empty and group and ((start_line == prior_line + 1 and self.prior_empty != "value")
                                          or start_col < indent):
                cut("here" if start_col < indent else tie)
            first_empty = False

        def line_at(col: int) -> None:
            if group and col < indent and col != start_col:
                cut(tie)

        for i in run:
            line, col = comments[i][2], comments[i][3]
            if group and line > last_line + 1:
                blank()
            line_at(col)
            if not group:
                start_col, start_line = col, line
            group.append(i)
            last_line = line
        if next_col is None or next_line > last_line + 1:
            blank()
        if next_col is not None:
            line_at(next_col)
        if group:
            records.append((group, "head"))

        # Where each block's end sits among the comment groups: at the first group that starts
        # at the block's indent, else where the block inside it ended; at first before all
        # groups (-1), or after all of them if the file ends on a comment without a newline.
        firsts = [comments[g[0]][3] for g, _ in records]
        ends_at: list[int | None] = []
        at = len(records) if next_col is None and not self.text.endswith("\n") else -1
        for frame, less in zip(closing, indentless, strict=True):
            if less:
                ends_at.append(None)
                continue
            at = next((r for r, col in enumerate(firsts) if col == frame.item_col), at)
            ends_at.append(at)

        targets: dict[int, _Frame] = {}
        for r, (members, kind) in enumerate(records):
            target: _Frame | None = None
            if kind == "prior" and self.prior_empty:
                # An empty value takes no comments: they go on to the next node that does.
                target = next((f for f in closing if f.kind == "map"), None)
            elif kind == "prior":
                target = closing[0]
            elif kind == "here":
                # Held until a mapping ends (a list's end takes no comments), else the next token.
                k = next((k for k, at in enumerate(ends_at) if at is not None and at >= r), None)
                if k is not None:
                    target = next((f for f in closing[k:] if f.kind == "map"), None)
            if target is not None:
                targets.update((i, target) for i in members)
        return targets

    # ------------------------------------------------------------ build
    def build(self) -> list[Branch]:
        text = self.text
        try:
            events: list[Any] = list(yaml.parse(text, Loader=_Loader))
        except yaml.YAMLError as exc:
            raise InputError(f"Error unmarshaling input YAML: {_yaml_error(exc)}",
                             reason=Reason.MALFORMED_INPUT) from None
        scalar_spans: list[tuple[int, int]] = []
        for item in events:
            if type(item).__name__ in ("ScalarEvent", "AliasEvent"):
                scalar_spans.append((item.start_mark.index, item.end_mark.index))
        comments = self._find_comments(scalar_spans) if "#" in text else []
        ci = 0
        stack: list[_Frame] = []
        branches: list[Branch] = []
        doc_info: DocInfo | None = None
        root: Any = None
        pending_sops_end: DocInfo | None = None

        done: set[int] = set()  # comments already given to a block that ended
        planned = 0  # comments before this index have had their block-end targets worked out
        targets: dict[int, _Frame] = {}

        def flush_before(limit: int, frame: _Frame | None) -> None:
            nonlocal ci
            while ci < len(comments) and comments[ci][0] < limit:
                if ci not in done:
                    self.attach_comment(frame, comments[ci], "append")
                ci += 1

        def flush_block_end(position: int, frame: _Frame, limit: int) -> None:
            """A block ends before the next token at `limit`: give it the comments that are its."""
            nonlocal planned
            if ci >= planned and ci < len(comments) and comments[ci][0] < limit:
                run = list(range(ci, bisect.bisect_left(comments, (limit,), lo=ci)))
                planned = run[-1] + 1
                count = 0
                while position + count < len(events) and \
                        type(events[position + count]).__name__ in ("MappingEndEvent", "SequenceEndEvent"):
                    count += 1
                depths = range(len(stack) - 1, len(stack) - 1 - count, -1)
                closing = [stack[d] for d in depths]
                indentless = [stack[d].kind == "seq" and d > 0 and stack[d - 1].kind == "map"
                              and stack[d].item_col == stack[d - 1].item_col for d in depths]
                next_col: int | None = limit - _line_start(text, limit)
                if not text[limit:].strip():
                    next_col = doc_info.base_col if self.sops_follows and doc_info is not None else None
                targets.update(self._dedent_targets(run, comments, closing, indentless, next_col,
                                                    self._line_of(limit)))
            for i in range(ci, planned):
                if i not in done and targets.get(i) is frame:
                    self.attach_comment(frame, comments[i], "append")
                    done.add(i)

        def flush_inline(after: int, line: int, mode: str, frame: _Frame | None, target: Any = None,
                         before: int | None = None) -> None:
            nonlocal ci
            while ci < len(comments) and comments[ci][2] == line and comments[ci][0] >= after \
                    and (before is None or comments[ci][0] < before):
                c = comments[ci]
                if target is not None:
                    self.attach_comment(target, c, "first")
                else:
                    self.attach_comment(frame, c, mode)
                ci += 1

        def close_item(frame: _Frame) -> None:
            if frame.items and frame.items[-1][2] < 0:
                frame.items[-1][2] = _after_line(text, self.last_content_end)

        def add_value(value: Any, ev: Any, is_scalar: bool) -> None:
            """Place a finished value into the enclosing collection (or as the document root)."""
            nonlocal root
            if not stack:
                root = value
                return
            frame = stack[-1]
            if frame.kind == "map":
                if frame.expect_key:
                    key = value
                    marker = _hashable(key)
                    if marker in frame.keys:
                        raise InputError(f"Error unmarshaling input YAML: line {ev.start_mark.line + 1}: "
                                         f"mapping key {key!r} already defined",
                                         reason=Reason.MALFORMED_INPUT)
                    frame.keys.add(marker)
                    frame.key = key
                    frame.key_event = ev
                    frame.expect_key = False
                    if not frame.flow and self.track:
                        close_item(frame)
                        frame.items.append([key, _line_start(text, ev.start_mark.index), -1])
                    if len(stack) == 1 and key == SOPS_KEY and doc_info is not None:
                        frame.sops_start = _line_start(text, ev.start_mark.index)
                    return
                frame.node.append((frame.key, value))
                frame.expect_key = True
            else:
                frame.node.append(value)

        for position, event in enumerate(events):
            ev: Any = event
            kind_name = type(event).__name__
            start = ev.start_mark.index
            frame = stack[-1] if stack else None
            if pending_sops_end is not None:
                # The sops block ends where the next token's line starts.
                assert pending_sops_end.sops_range is not None
                ls = _line_start(text, start)
                end = ls if text[ls:start].strip() == "" else start
                pending_sops_end.sops_range = (pending_sops_end.sops_range[0], end)
                pending_sops_end = None
            if kind_name in ("StreamStartEvent", "StreamEndEvent"):
                continue
            if kind_name == "DocumentStartEvent":
                root = None
                doc_info = DocInfo(Branch(), end=len(text))
                continue
            if kind_name == "DocumentEndEvent":
                assert doc_info is not None
                if root is None:
                    branch = Branch()
                elif isinstance(root, Branch):
                    branch = root
                elif isinstance(root, list):
                    raise InputError("Error unmarshaling input YAML: YAML documents that are sequences are not "
                                     "supported", hint="wrap the list in a mapping, e.g. items: [...]",
                                     reason=Reason.MALFORMED_INPUT)
                else:
                    raise InputError("Error unmarshaling input YAML: YAML documents that are values are not "
                                     "supported", reason=Reason.MALFORMED_INPUT)
                # Comments left at the end of the document are foot comments of its top level.
                top = _Frame("map", branch, False, 0, False, None)
                flush_before(ev.end_mark.index if ev.explicit else max(ev.start_mark.index, 0) + (
                    1 if ev.start_mark.index >= len(text) else 0), top)
                if root is None:
                    doc_info.end = ev.start_mark.index
                doc_info.branch = branch
                branches.append(branch)
                self.docs.append(doc_info)
                continue
            if kind_name == "AliasEvent":
                self.spliceable = False
                flush_before(start, frame)
                if ev.anchor not in self.anchors:
                    # Not the alias name: `password: *hunter2` is a value written without quotes.
                    raise InputError(f"Error unmarshaling input YAML: line {ev.start_mark.line + 1}: "
                                     "unknown anchor referenced", reason=Reason.MALFORMED_INPUT)
                add_value(copy.deepcopy(self.anchors[ev.anchor]), ev, False)
                self.last_content_end = ev.end_mark.index
                self.prior_empty = ""
                if frame is not None:
                    mode = "append" if (frame.kind == "map" and not frame.expect_key) else "before_last"
                    flush_inline(ev.end_mark.index, ev.end_mark.line, mode, frame)
                continue
            if kind_name == "ScalarEvent":
                if comments:
                    flush_before(start, frame)
                if ev.tag and ev.tag != "!":
                    value = resolve_tagged(ev.tag, ev.value, ev.style in (None, ""))
                elif ev.style in (None, "") and ev.implicit[0]:
                    value = resolve_plain(ev.value)
                else:
                    value = ev.value
                if ev.anchor:
                    self.anchors[ev.anchor] = value
                is_key = frame is not None and frame.kind == "map" and frame.expect_key
                in_sops = frame is not None and frame.in_sops
                if frame is not None and not is_key and not in_sops and self.track:
                    container = frame.node
                    index = len(container)
                    end = ev.end_mark.index
                    newline = text.find("\n", end)
                    rest = text[end:newline] if newline >= 0 else text[end:]
                    if frame.kind == "map":
                        base = frame.key_event.start_mark.column if frame.key_event is not None else frame.item_col
                    else:
                        base = frame.item_col
                    step = self.indent_step or 2
                    self._add_slot(Slot(container, index, start, end, value, "value", ev.style or None,
                                        frame.flow, base + step, rest.strip() == ""))
                add_value(value, ev, True)
                self.last_content_end = ev.end_mark.index
                self.prior_empty = "" if is_key or frame is None or start != ev.end_mark.index \
                    else "value" if frame.kind == "map" else "item"
                if frame is not None and comments and ev.style not in ("|", ">"):
                    # (A block scalar ends on a later line: a comment there is not its line comment.)
                    if is_key:
                        # A comment after `key:` belongs to the key only if the value starts later.
                        following = events[position + 1].start_mark.index if position + 1 < len(events) else len(text)
                        flush_inline(ev.end_mark.index, ev.end_mark.line, "append", frame, before=following)
                    else:
                        flush_inline(ev.end_mark.index, ev.end_mark.line, "before_last", frame)
                continue
            if kind_name in ("MappingStartEvent", "SequenceStartEvent"):
                kind = "map" if kind_name == "MappingStartEvent" else "seq"
                flow = bool(ev.flow_style)
                in_sops = bool(frame is not None and (frame.in_sops or (frame.sops_start >= 0
                                                                        and frame.key == SOPS_KEY and len(stack) == 1)))
                if frame is not None and frame.kind == "map" and frame.expect_key:
                    raise InputError("Error unmarshaling input YAML: complex mapping keys are not supported",
                                     reason=Reason.MALFORMED_INPUT)
                if flow and frame is not None:
                    flush_before(start, frame)
                node: Any = Branch() if kind == "map" else []
                self.containers.append(node)
                col = ev.start_mark.column
                if frame is not None and not flow and not frame.flow and self.indent_step is None:
                    parent_col = frame.key_event.start_mark.column if frame.kind == "map" and frame.key_event \
                        else frame.item_col
                    if col > parent_col and (kind == "map" or frame.kind == "map"):
                        self.indent_step = col - parent_col
                if frame is None and flow:
                    self.spliceable = False  # a flow mapping at the top: no room for a sops block
                if frame is None and doc_info is not None:
                    doc_info.base_col = col
                new = _Frame(kind, node, flow or bool(frame and frame.flow), col, in_sops, ev.anchor)
                if in_sops and len(stack) == 1 and frame is not None and doc_info is not None and not flow:
                    doc_info.sops_indent = col - frame.item_col if col > frame.item_col else None
                stack.append(new)
                if not flow or frame is None:  # comments above a root flow mapping are its head comments
                    flush_before(start, new)
                continue
            if kind_name in ("MappingEndEvent", "SequenceEndEvent"):
                assert frame is not None
                if frame.flow:
                    flush_before(start, frame)
                else:
                    flush_block_end(position, frame, start)
                stack.pop()
                value = frame.node
                if frame.flow:
                    self.last_content_end = ev.end_mark.index
                    self.prior_empty = ""
                elif frame.kind == "map" and self.track and not frame.in_sops:
                    close_item(frame)
                    last = frame.items[-1][2] if frame.items else _line_start(text, start)
                    self.maps[id(value)] = MapInfo(frame.item_col, frame.items, last)
                if frame.anchor:
                    self.anchors[frame.anchor] = value
                parent = stack[-1] if stack else None
                if parent is not None and parent.kind == "map" and parent.key == SOPS_KEY and len(stack) == 1 \
                        and parent.sops_start >= 0 and doc_info is not None:
                    doc_info.sops_range = (parent.sops_start, -1)
                    pending_sops_end = doc_info
                    parent.sops_start = -1
                add_value(value, ev, False)
                if frame.flow and parent is not None:
                    flush_inline(ev.end_mark.index, ev.end_mark.line, "first", parent, target=frame)
                if parent is None and doc_info is not None and not frame.flow:
                    doc_info.end = ev.start_mark.index
                elif parent is None and doc_info is not None:
                    doc_info.end = ev.end_mark.index
                continue
        if pending_sops_end is not None and pending_sops_end.sops_range is not None:
            pending_sops_end.sops_range = (pending_sops_end.sops_range[0], len(text))
        return branches

    def _find_comments(self, spans: list[tuple[int, int]]) -> list[tuple[int, int, int, int, bool]]:
        """(start, end, line, column, inline) of every comment outside scalars."""
        text = self.text
        starts = [s for s, _ in spans]
        found = []
        line = 0
        last_pos = 0
        for m in _COMMENT_RE.finditer(text):
            pos = m.start()
            k = bisect.bisect_right(starts, pos) - 1
            if k >= 0 and spans[k][0] <= pos < spans[k][1]:
                continue
            line += text.count("\n", last_pos, pos)
            last_pos = pos
            line_start = _line_start(text, pos)
            column = pos - line_start
            inline = text[line_start:pos].strip() != ""
            found.append((pos, m.end(), line, column, inline))
        return found


def _yaml_error(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    if mark is not None:
        return f"line {mark.line + 1}: {problem}"
    return str(problem)


# ---------------------------------------------------------------------------- emitter

class _Emitter:
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
                self._map(value, child, child, child + self.n, first_inline=False)
            elif isinstance(value, list) and not isinstance(value, Branch) and _has_items(value):
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
                    out.append(("" if first and first_inline else " " * dash_col) + "#" + value.value + "\n")
                    first = False
                continue
            prefix = ("" if first and first_inline else " " * dash_col) + "- "
            first = False
            line_comment = (" #" + " #".join(inline)) if inline else ""
            inline = []
            if isinstance(value, Branch) and value:
                out.append(prefix)
                key_col = dash_col + 2
                self._map(value, key_col, dash_col, max(dash_col + self.n, key_col + 2), first_inline=True)
            elif isinstance(value, list) and not isinstance(value, Branch) and _has_items(value):
                out.append(prefix)
                self._seq(value, dash_col + 2, first_inline=True)
            elif isinstance(value, Branch):
                out.append(prefix + "{}" + line_comment + "\n")
            elif isinstance(value, list):
                out.append(prefix + "[]" + line_comment + "\n")
            else:
                out.append(prefix + self._scalar(value, dash_col + self.n) + line_comment + "\n")
        if inline:
            self._comment_lines(inline, dash_col)


def _has_items(value: list[Any]) -> bool:
    return any(not isinstance(v, Comment) for v in value)


# ---------------------------------------------------------------------------- store

class YamlStore(Store):
    name = "yaml"
    metadata_style = NESTED

    def __init__(self, indent: int | None = None) -> None:
        super().__init__(indent)
        if indent is not None and indent < 0:
            raise InputError("YAML Negative indentation not accepted", reason=Reason.CANNOT_EMIT)

    # ------------------------------------------------------------ loading
    def _parse(self, data: bytes, sops_follows: bool = False) -> tuple[list[Branch], YamlSource]:
        text = data.decode("utf-8", "surrogateescape")
        if text.startswith("\ufeff"):
            text = text[1:]
        crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
        if crlf:
            text = text.replace("\r\n", "\n")
        builder = _Builder(text, track=True, sops_follows=sops_follows)
        branches = builder.build()
        source = YamlSource(text, crlf, builder.docs, builder.slots, indent=builder.indent_step or DEFAULT_INDENT,
                            spliceable=builder.spliceable, maps=builder.maps)
        source.snapshot(builder.containers + [d.branch for d in builder.docs])
        return branches, source

    def load(self, data: bytes) -> Document:
        return self._load(data, sops_follows=False)

    def load_plain(self, data: bytes) -> Document:
        # Comments at the end of a document are placed as sops will read them in the file we
        # write, where the sops block follows them (so sops can decrypt them there).
        return self._load(data, sops_follows=True)

    def _load(self, data: bytes, sops_follows: bool) -> Document:
        branches, source = self._parse(data, sops_follows)
        if data and not branches:
            # sops: a non-empty input without a document (only comments or blanks) fails to decode.
            raise InputError("Error unmarshaling input YAML: EOF", reason=Reason.MALFORMED_INPUT)
        return Document(branches, source=source)

    def load_encrypted(self, data: bytes) -> tuple[Document, Metadata]:
        branches, source = self._parse(data)
        doc = Document(branches, source=source)
        md = metadata_from_tree(extract_metadata(doc, NESTED))
        # Every document must have had its sops block removed for the text rewrite to be exact.
        if any(d.sops_range is None or d.sops_range[1] < 0 for d in source.docs):
            source.spliceable = False
        source.snapshot([c for c, _ in source.containers])
        return doc, md

    # ------------------------------------------------------------ emitting
    def _indent(self, source: YamlSource | None) -> int:
        if self.indent is not None and self.indent > 0:
            return self.indent
        return source.indent if source is not None else DEFAULT_INDENT

    def emit(self, doc: Document) -> bytes:
        return self._emit(doc, None, "3.13")

    def emit_plain(self, doc: Document) -> bytes:
        return self._emit(doc, None, "3.13")

    def emit_encrypted(self, doc: Document, md: Metadata, layout: str = "3.13") -> bytes:
        for branch in doc.branches:
            if any(isinstance(k, str) and k == SOPS_KEY for k, _ in branch):
                raise InputError("Found key 'sops' in encrypted data, which is a reserved key used for SOPS "
                                 "metadata", reason=Reason.ALREADY_ENCRYPTED)
        return self._emit(doc, md, layout)

    def _emit(self, doc: Document, md: Metadata | None, layout: str) -> bytes:
        source = doc.source if isinstance(doc.source, YamlSource) else None
        meta_branch = metadata_to_branch(md, layout) if md is not None else None
        if source is not None and (self.indent is None or self.indent == 0) \
                and source.same_documents(doc.branches):
            plan = source.plan()
            text = self._splice(source, meta_branch, plan) if plan is not None else None
            if text is not None:
                return _finish(text, source.crlf)
        emitter = _Emitter(self._indent(source))
        parts = []
        for branch in doc.branches:
            body = emitter.document(branch) if branch or meta_branch is None else ""
            if meta_branch is not None:
                if body == "{}\n":
                    body = ""
                body += _Emitter(self._indent(source)).document(Branch([(SOPS_KEY, meta_branch)]))
            parts.append(body)
        return _finish("---\n".join(parts), source.crlf if source else False)

    def _render_slot(self, slot: Slot, text: str, index: int) -> str | None:
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
        if isinstance(value, str) and value.startswith(_ENC_PREFIX):
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
            allow_block = (slot.line_end or ended_line) and _next_indent(text, slot.end) < slot.indent
            rendered = render_scalar(value, flow=slot.flow, indent=slot.indent, style=style,
                                     allow_block=allow_block)
        if ended_line:
            rendered += "\n"
        return rendered

    def _splice(self, source: YamlSource, meta_branch: Branch | None, plan: _Plan) -> str | None:
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
            rendered = self._render_slot(slot, text, index)
            if rendered is None:
                return None
            if rendered != text[slot.start:slot.end]:
                edits.append((slot.start, slot.end, rendered))
        for position, container, first, key_col in plan.appends:
            emitter = _Emitter(source.indent)
            emitter.out = []
            emitter._map(Branch(container[first:]), key_col, key_col, key_col + source.indent, first_inline=False)
            prefix = "" if position == 0 or text[position - 1] == "\n" else "\n"
            edits.append((position, position, prefix + "".join(emitter.out)))
        for doc in source.docs:
            if meta_branch is None:
                if doc.sops_range is not None:
                    # An empty document is written `{}` (as sops does), not left blank.
                    edits.append((doc.sops_range[0], doc.sops_range[1], "" if doc.branch else "{}\n"))
                continue
            indent = doc.sops_indent or source.indent
            block = _Emitter(indent).document(Branch([(SOPS_KEY, meta_branch)]), base=doc.base_col)
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

    def emit_value(self, value: Any) -> bytes:
        if isinstance(value, Branch):
            return _finish(_Emitter(self._indent(None)).document(value), False)
        if isinstance(value, list):
            emitter = _Emitter(self._indent(None))
            emitter.out = []
            emitter._seq(value, 0, first_inline=False)
            return _finish("".join(emitter.out) or "[]\n", False)
        return _finish(render_scalar(value, indent=self._indent(None)) + "\n", False)


def _comment_item(text: str, slot: Slot, comment: Comment) -> tuple[int, int, str] | None:
    """sops writes a comment of a list as an item `- ENC[...,type:comment]`: turn the item back
    into a comment line (`# text`) in place."""
    if isinstance(slot.original, str) and slot.original == comment.value:
        return slot.start, slot.end, text[slot.start:slot.end]
    if slot.flow:
        return None
    line_start = _line_start(text, slot.start)
    before = text[line_start:slot.start]
    stripped = before.rstrip()
    if not stripped.endswith("-") or stripped[:-1].strip():
        return None
    dash = line_start + len(stripped) - 1
    return dash, slot.end, "#" + comment.value


def _next_indent(text: str, pos: int) -> int:
    """The indentation of the first non-blank line after the one `pos` is on (-1 if none)."""
    start = _after_line(text, pos)
    while start < len(text):
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.strip():
            return len(line) - len(line.lstrip(" \t"))
        if end < 0:
            break
        start = end + 1
    return -1


def _finish(text: str, crlf: bool) -> bytes:
    if crlf:
        text = text.replace("\n", "\r\n")
    return text.encode("utf-8", "surrogateescape")
