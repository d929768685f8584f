"""The runbook extractor and the bash session that runs its blocks (no cluster needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .runbook_text import sh_blocks
from .shell import BlockFailed, Session

TEXT = """# t
```sh
export A=1
echo "a is $A"
# expect: a is 1
```
```yaml
kind: Shown
```
```sh cluster
not run: another info string
```
```sh
echo "still $A"
# expect: still 1
# expect-not: error
```
"""


def test_only_sh_fences_run_in_order_with_their_expectations() -> None:
    blocks = sh_blocks(TEXT)
    assert [b.number for b in blocks] == [1, 2] and [b.line for b in blocks] == [2, 13]
    assert blocks[0].expect == ("a is 1",) and blocks[1].expect_not == ("error",)
    assert "not run" not in "".join(b.code for b in blocks)
    with pytest.raises(ValueError, match="unclosed"):
        sh_blocks("```sh\necho\n")


def test_one_session_keeps_variables_and_checks_expectations(tmp_path: Path) -> None:
    session = Session(tmp_path, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    try:
        outputs = [session.run(block, "t.md") for block in sh_blocks(TEXT)]
    finally:
        session.close()
    assert outputs == ["a is 1\n", "still 1\n"]


@pytest.mark.parametrize("code, message", [
    ("false\necho never\n", "failed (exit 1)"),
    ("echo $UNSET\n", "failed (exit 1)"),
    ("echo other\n# expect: wanted\n", "expected 'wanted'"),
    ("echo error here\n# expect-not: error\n", "must not be in the output"),
])
def test_a_failing_block_fails_the_runbook(tmp_path: Path, code: str, message: str) -> None:
    session = Session(tmp_path, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    try:
        with pytest.raises(BlockFailed, match=re.escape(message)):
            session.run(sh_blocks(f"```sh\n{code}```\n")[0], "t.md", timeout=20)
    finally:
        session.close()
