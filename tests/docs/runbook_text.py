"""Reading a runbook: its ```sh blocks, in order, and what each says should be seen.

Convention (docs/README.md says the same for authors):
- every block fenced ```` ```sh ```` runs, in order, in one bash session (errexit, nounset, pipefail),
  so an `export` or a shell variable set in one block is there in the next, as when pasted into one
  terminal; any other fence (```` ```yaml ````, ```` ```text ````) is only shown;
- a line `# expect: TEXT` in a block means TEXT must appear in what that block prints (stdout and
  stderr together); `# expect-not: TEXT` means it must not.
"""

from __future__ import annotations

from dataclasses import dataclass

RUN_FENCE = "```sh"
EXPECT, EXPECT_NOT = "# expect:", "# expect-not:"


@dataclass(frozen=True)
class Block:
    number: int  # 1-based, in the runbook's order
    line: int  # the fence's line in the file (1-based), for failure messages
    code: str
    expect: tuple[str, ...]
    expect_not: tuple[str, ...]


def sh_blocks(text: str) -> list[Block]:
    """The runnable blocks of a markdown text, in order."""
    blocks: list[Block] = []
    current: list[str] | None = None
    fenced, start = False, 0
    for number, line in enumerate(text.splitlines(), 1):
        if not fenced and line.lstrip().startswith("```"):
            fenced, start = True, number
            current = [] if line.strip() == RUN_FENCE else None
        elif fenced and line.strip() == "```":
            fenced = False
            if current is not None:
                blocks.append(_block(len(blocks) + 1, start, current))
            current = None
        elif current is not None:
            current.append(line)
    if fenced:
        raise ValueError(f"unclosed code fence opened on line {start}")
    return blocks


def _block(number: int, line: int, lines: list[str]) -> Block:
    expect = tuple(s.split(EXPECT, 1)[1].strip() for s in lines if s.strip().startswith(EXPECT))
    expect_not = tuple(s.split(EXPECT_NOT, 1)[1].strip() for s in lines if s.strip().startswith(EXPECT_NOT))
    return Block(number, line, "\n".join(lines) + "\n", expect, expect_not)
