"""Comments of a YAML text: where they are, and which block a comment before a dedent belongs to.

sops reads comments through yaml.v3, which attaches each one to a node as a head, line or
foot comment; sops then stores it as an item of the map or list that holds that node and
encrypts it with that container's path. So where a comment lands decides whether sops can
decrypt the comments of a file we write. Head and line comments are simple (the next item,
the item on the same line) and the loader handles them; `dedent_targets` holds yaml.v3's
foot-comment rules for the comments before a dedent.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from .source import Frame, line_start

# (start, end, line, column, inline) of one comment in the text
CommentSpan = tuple[int, int, int, int, bool]

_COMMENT_RE = re.compile(r"(?:^|(?<=[ \t]))#[^\n]*", re.M)


def find_comments(text: str, spans: list[tuple[int, int]]) -> list[CommentSpan]:
    """Every comment outside the scalars at `spans` (sorted (start, end) of each scalar)."""
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
        start = line_start(text, pos)
        column = pos - start
        inline = text[start:pos].strip() != ""
        found.append((pos, m.end(), line, column, inline))
    return found


def dedent_targets(text: str, line_of: Callable[[int], int], prior_end: int, prior_empty: str,
                   run: list[int], comments: list[CommentSpan], closing: list[Frame], indentless: list[bool],
                   next_col: int | None, next_line: int) -> dict[int, Frame]:
    """Which closing block each comment of `run` belongs to, when the next token is dedented.

    The prior content ends at `prior_end`; `prior_empty` says it was a bare `key:` ("value")
    or `-` ("item"). `run` holds the comment lines between the prior content and the next token; `closing`
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
    end = prior_end
    while end > 1 and text[end - 1] in " \t\n":
        end -= 1
    prior_line = line_of(end - 1)
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
        if first_empty and group and ((start_line == prior_line + 1 and prior_empty != "value")
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
    at = len(records) if next_col is None and not text.endswith("\n") else -1
    for frame, less in zip(closing, indentless, strict=True):
        if less:
            ends_at.append(None)
            continue
        at = next((r for r, col in enumerate(firsts) if col == frame.item_col), at)
        ends_at.append(at)

    targets: dict[int, Frame] = {}
    for r, (members, kind) in enumerate(records):
        target: Frame | None = None
        if kind == "prior" and prior_empty:
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
