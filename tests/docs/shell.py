"""One bash session that runs a runbook's blocks in order, the way a reader pastes them into one terminal.

Between blocks the test gets control back (to let the controller stand-in follow what a block did to
the cluster's Deployments), so the blocks are fed one by one into a long-lived `bash` over its stdin
rather than run as one script.
"""

from __future__ import annotations

import queue
import secrets
import subprocess
import threading
import time
from pathlib import Path

from .runbook_text import Block


class BlockFailed(AssertionError):
    pass


class Session:
    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self._marker = f"::runbook-block-done-{secrets.token_hex(4)}::"
        self._proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-e", "-u", "-o", "pipefail"], cwd=cwd,
                                      env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, bufsize=1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, block: Block, name: str, timeout: float = 240.0) -> str:
        """Run one block; its output (stdout and stderr). Raises BlockFailed on a non-zero exit (the
        session is then gone: errexit), a timeout, or an unmet `# expect`."""
        script = self.cwd / f".block-{block.number}.sh"
        script.write_text(block.code)
        assert self._proc.stdin is not None
        # `source` keeps the session's variables; the marker line is printed only if the block got through
        self._proc.stdin.write(f"source {script}\nprintf '\\n%s\\n' '{self._marker}'\n")
        self._proc.stdin.flush()
        out: list[str] = []
        deadline = time.monotonic() + timeout
        where = f"{name} block {block.number} (line {block.line})"
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                raise BlockFailed(f"{where}: no end after {timeout:.0f}s:\n{block.code}\n--- output:\n"
                                  f"{''.join(out)}") from None
            if line is None:
                code = self._proc.wait()
                raise BlockFailed(f"{where} failed (exit {code}):\n{block.code}\n--- output:\n{''.join(out)}")
            if line.strip() == self._marker:
                break
            out.append(line)
        text = "".join(out)
        text = text[:-1] if text.endswith("\n") else text  # the newline printed before the marker
        for wanted in block.expect:
            if wanted not in text:
                raise BlockFailed(f"{where}: expected {wanted!r} in the output:\n{block.code}\n--- output:\n{text}")
        for unwanted in block.expect_not:
            if unwanted in text:
                raise BlockFailed(f"{where}: {unwanted!r} must not be in the output:\n{block.code}\n"
                                  f"--- output:\n{text}")
        return text

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.close()
                self._proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
