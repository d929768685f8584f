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


_RECORDER = """\
import os, pathlib, stat, sys
p = pathlib.Path(sys.argv[1])
mode = lambda q: oct(stat.S_IMODE(os.stat(q).st_mode))
pathlib.Path({record!r}).write_text("\\n".join([str(p), mode(p), mode(p.parent), str(stat.S_ISFIFO(os.stat(p).st_mode))]))
"""


def _recorder(path: Path, record: Path, then: str = "") -> str:
    """A program that records the path it was given, its mode and its folder's mode, then runs `then`."""
    path.write_text(_RECORDER.format(record=str(record)) + then)
    return f"{sys.executable} {path}"


def _recorded(record: Path) -> tuple[Path, str, str, bool]:
    where, mode, dir_mode, fifo = record.read_text().splitlines()
    return Path(where), mode, dir_mode, fifo == "True"


def test_edit_temp_file_is_private_and_removed(enc: Path, ours, isolated_env: Path, tmp_path: Path) -> None:
    record = tmp_path / "where.txt"
    editor = _recorder(isolated_env / "ed.py", record,
                       "p.write_text(p.read_text().replace('clear_unencrypted: x', 'clear_unencrypted: z'))\n")
    result = ours("edit", str(enc), env={"EDITOR": editor})
    assert result.returncode == 0, result.err
    temp, mode, dir_mode, _ = _recorded(record)
    assert (mode, dir_mode) == ("0o600", "0o700")
    assert not temp.exists() and not temp.parent.exists()
    assert SECRET not in result.out + result.err
    assert SECRET not in enc.read_text()


def test_edit_error_paths_leave_nothing_behind(enc: Path, ours, isolated_env: Path, tmp_path: Path) -> None:
    """The edited text does not parse, or the editor fails: the file is untouched, the plaintext copy
    is gone, and no message repeats the plaintext."""
    before = enc.read_bytes()
    record = tmp_path / "where.txt"
    broken = _recorder(isolated_env / "broken.py", record,
                       f"p.write_text('password: [{SECRET}\\n')\n")
    failing = _recorder(isolated_env / "fail.py", record, "sys.exit(3)\n")
    for editor in (broken, failing):
        result = ours("edit", str(enc), env={"EDITOR": editor}, input=b"")
        assert result.returncode != 0
        temp, _, _, _ = _recorded(record)
        assert not temp.exists() and not temp.parent.exists()
        assert enc.read_bytes() == before
        assert SECRET not in result.out + result.err
    assert sorted(p.name for p in isolated_env.iterdir()) == ["broken.py", "fail.py", "s.yaml"]


@pytest.mark.parametrize("extra", [[], ["--no-fifo"]], ids=["fifo", "no-fifo"])
def test_exec_file_plaintext_is_private_and_removed(extra: list[str], enc: Path, ours, isolated_env: Path,
                                                    tmp_path: Path) -> None:
    record = tmp_path / "where.txt"
    reader = _recorder(isolated_env / "show.py", record, "p.read_bytes()\n")
    result = ours("exec-file", *extra, str(enc), f"{reader} {{}}")
    assert result.returncode == 0, result.err
    temp, mode, dir_mode, fifo = _recorded(record)
    assert (mode, dir_mode, fifo) == ("0o600", "0o700", not extra)
    assert not temp.exists() and not temp.parent.exists()
    assert SECRET not in result.out + result.err
    # A failing command: its status comes back, and the plaintext is still removed.
    failing = _recorder(isolated_env / "fail.py", record, "sys.exit(9)\n")
    result = ours("exec-file", *extra, str(enc), f"{failing} {{}}")
    assert result.returncode == 9
    temp, _, _, _ = _recorded(record)
    assert not temp.exists() and not temp.parent.exists()


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


def test_an_identity_given_as_recipient_is_not_echoed(age_id, ours, isolated_env: Path) -> None:
    """`--age AGE-SECRET-KEY-1...` is a common slip: the error must not print the private key."""
    identity = next(line for line in age_id.keys_file.read_text().splitlines()
                    if line.startswith("AGE-SECRET-KEY-"))
    path = isolated_env / "p.yaml"
    path.write_text(f"password: {SECRET}\n")
    for given in (identity, identity.lower(), f"{age_id.recipient},{identity}"):
        result = ours("encrypt", "--age", given, str(path))
        assert result.returncode != 0
        text = (result.out + result.err).upper()
        assert identity[len("AGE-SECRET-KEY-1"):].upper() not in text
        assert "PRIVATE KEY" in text


def test_unknown_yaml_anchor_is_not_quoted(ours, age_id, isolated_env: Path) -> None:
    """`password: *hunter2`: an unquoted value that YAML reads as an alias; its name is the secret."""
    path = isolated_env / "a.yaml"
    path.write_text(f"user: app\npassword: *{SECRET}\n")
    result = ours("encrypt", "--age", age_id.recipient, str(path))
    assert result.returncode != 0
    assert "unknown anchor" in result.err and "line 2" in result.err
    assert SECRET not in result.err + result.out


def test_interrupted_write_leaves_no_plaintext_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while `decrypt --output` writes: the target is untouched and no temporary copy stays."""
    import os

    from secrets_kit_cli.dropins.sops import streams as sops_streams

    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "out.yaml"
    target.write_text("old\n")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sops_streams.write_atomic(target, f"password: {SECRET}\n".encode(), plaintext=True)
    assert sorted(p.name for p in folder.iterdir()) == ["out.yaml"]
    assert target.read_text() == "old\n"
