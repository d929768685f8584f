"""Secrets stay where they belong: no plaintext in messages or temporary files, nothing half-written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SECRET = "fake-secret-leakcheck-9"


@pytest.fixture
def enc(age_id, ours, isolated_env: Path) -> Path:
    path = isolated_env / "s.yaml"
    path.write_text(f"password: {SECRET}\nlist:\n    - {SECRET}-2\nclear_unencrypted: x\n")
    assert ours("encrypt", "-i", "--age", age_id.recipient, str(path)).returncode == 0
    assert SECRET not in path.read_text()
    return path


def test_errors_never_show_plaintext(enc: Path, ours, isolated_env: Path) -> None:
    text = enc.read_text()
    cases = [
        text.replace("clear_unencrypted: x", "clear_unencrypted: y"),  # MAC mismatch after decrypting values
        text.replace("password:", "passw0rd:"),  # value under another key
    ]
    for n, variant in enumerate(cases):
        path = isolated_env / f"v{n}.yaml"
        path.write_text(variant)
        for argv in (["decrypt", str(path)], ["set", str(path), '["x"]', '"y"'], ["exec-env", str(path), "true"],
                     ["decrypt", "--output-type", "json", str(path)]):
            result = ours(*argv)
            assert result.returncode != 0
            assert SECRET not in result.err and SECRET not in result.out


def test_edit_and_exec_file_leave_no_plaintext_behind(enc: Path, ours, isolated_env: Path, tmp_path: Path) -> None:
    record = tmp_path / "where.txt"
    editor = isolated_env / "ed.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      f"pathlib.Path({str(record)!r}).write_text(str(p))\n"
                      "p.write_text(p.read_text().replace('clear_unencrypted: x', 'clear_unencrypted: z'))\n")
    assert ours("edit", str(enc), env={"EDITOR": f"{sys.executable} {editor}"}).returncode == 0
    temp = Path(record.read_text())
    assert not temp.exists() and not temp.parent.exists()
    script = isolated_env / "show.sh"
    script.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'fifo.txt'}\ncat \"$1\" > /dev/null\n")
    script.chmod(0o700)
    assert ours("exec-file", str(enc), f"{script} {{}}").returncode == 0
    fifo = Path((tmp_path / "fifo.txt").read_text().strip())
    assert not fifo.exists() and not fifo.parent.exists()


def test_failed_in_place_write_leaves_the_file_untouched(age_id, ours, isolated_env: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = isolated_env / "p.yaml"
    original = f"password: {SECRET}\n"
    path.write_text(original)
    result = ours("encrypt", "-i", "--age", "age1invalidrecipient", str(path))
    assert result.returncode != 0
    assert path.read_text() == original
    assert sorted(p.name for p in isolated_env.iterdir()) == ["p.yaml"]  # no temporary file left over
    result = ours("encrypt", "-i", "--age", age_id.recipient, str(path))
    assert result.returncode == 0
    assert sorted(p.name for p in isolated_env.iterdir()) == ["p.yaml"]
