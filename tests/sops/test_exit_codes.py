"""Exit codes: real sops 3.13 and ours on the same bad inputs must agree (a table test).

Each case prepares files in a fresh folder and gives the argv; both programs run on
identical copies. Plaintext never appears on stderr.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest

SECRET = "fake-secret-value-42"
# A throwaway identity, generated per run, that opens nothing.
OTHER_IDENTITY = str(pyrage.x25519.Identity.generate())
PLAIN_YAML = f"name: demo\npassword: {SECRET}\nnote_unencrypted: visible\nnested:\n    key: also-secret-x\n"


@dataclass
class Case:
    name: str
    setup: Callable[[Path, object, str], None]  # (folder, our runner, age recipient)
    argv: list[str]
    expected: int
    env: dict[str, str] | None = None
    stderr: str | None = None  # sops's exact stderr, which ours must equal (texts that scripts and sops's tests read)


def _encrypted(folder: Path, ours, recipient: str, name: str = "enc.yaml", text: str = PLAIN_YAML) -> Path:
    plain = folder / ("plain-" + name)
    plain.write_text(text)
    result = ours("encrypt", "--age", recipient, str(plain))
    assert result.returncode == 0, result.err
    path = folder / name
    path.write_bytes(result.stdout)
    plain.unlink()
    return path


def _with_enc(edit: Callable[[str], str] | None = None) -> Callable[[Path, object, str], None]:
    def setup(folder: Path, ours, recipient: str) -> None:
        path = _encrypted(folder, ours, recipient)
        if edit is not None:
            path.write_text(edit(path.read_text()))

    return setup


def _plain(name: str, text: str) -> Callable[[Path, object, str], None]:
    def setup(folder: Path, ours, recipient: str) -> None:
        (folder / name).write_text(text)

    return setup


def _flat_enc(folder: Path, ours, recipient: str) -> None:
    _encrypted(folder, ours, recipient, "flat.yaml", f"A: {SECRET}\nB: two\n")


def _nothing(folder: Path, ours, recipient: str) -> None:
    return None


def _tamper_value(text: str) -> str:
    match = re.search(r"password: ENC\[AES256_GCM,data:([A-Za-z0-9+/=]+),", text)
    assert match
    data = match.group(1)
    flipped = ("B" if data[0] == "A" else "A") + data[1:]
    return text.replace(f"data:{data},", f"data:{flipped},", 1)


def _tamper_mac(text: str) -> str:
    match = re.search(r"mac: ENC\[AES256_GCM,data:([A-Za-z0-9+/]+)", text)
    assert match
    data = match.group(1)
    return text.replace(data, ("B" if data[0] == "A" else "A") + data[1:], 1)


def _config(text: str) -> Callable[[Path, object, str], None]:
    def setup(folder: Path, ours, recipient: str) -> None:
        (folder / ".sops.yaml").write_text(text.replace("RECIPIENT", recipient))
        (folder / "plain.yaml").write_text(PLAIN_YAML)

    return setup


def _quorum(folder: Path, ours, recipient: str) -> None:
    """Two key groups, threshold 2; the second group's identity is nowhere to be found."""
    other = pyrage.x25519.Identity.generate().to_public()
    (folder / ".sops.yaml").write_text("creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
                                       f"      - age: [{recipient}]\n      - age: [{other}]\n")
    (folder / "plain.yaml").write_text(PLAIN_YAML)
    result = ours("encrypt", "--output", "enc.yaml", "plain.yaml", cwd=folder)
    assert result.returncode == 0, result.err
    (folder / "plain.yaml").unlink()
    (folder / ".sops.yaml").unlink()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# sops's functional tests compare this text exactly (test_no_keygroups, test_zero_keygroups, test_empty_keygroup).
EMPTY_GROUP = "Could not generate data key: [empty key group provided]\n"

CASES = [
    Case("decrypt a file that is not encrypted", _plain("plain.yaml", PLAIN_YAML), ["decrypt", "plain.yaml"], 1),
    Case("encrypt a file that is already encrypted", _with_enc(), ["encrypt", "--age", "RECIPIENT", "enc.yaml"], 203),
    Case("legacy -e on an encrypted file", _with_enc(), ["-e", "--age", "RECIPIENT", "enc.yaml"], 203),
    Case("MAC mismatch after editing a clear value",
         _with_enc(lambda t: t.replace("note_unencrypted: visible", "note_unencrypted: changed")),
         ["decrypt", "enc.yaml"], 51),
    Case("stored MAC tampered", _with_enc(_tamper_mac), ["decrypt", "enc.yaml"], 51),
    Case("tampered ciphertext", _with_enc(_tamper_value), ["decrypt", "enc.yaml"], 25),
    Case("tampered ciphertext, --in-place", _with_enc(_tamper_value), ["decrypt", "-i", "enc.yaml"], 25),
    Case("MAC mismatch, --in-place",
         _with_enc(lambda t: t.replace("note_unencrypted: visible", "note_unencrypted: changed")),
         ["decrypt", "--in-place", "enc.yaml"], 51),
    Case("encrypt --in-place on an encrypted file", _with_enc(), ["encrypt", "-i", "--age", "RECIPIENT", "enc.yaml"],
         203),
    Case("quorum not met (1 of 2 groups)", _quorum, ["decrypt", "enc.yaml"], 128),
    Case("quorum not met, --in-place", _quorum, ["decrypt", "-i", "enc.yaml"], 128),
    Case("set on a tampered file", _with_enc(_tamper_value), ["set", "enc.yaml", '["name"]', '"x"'], 25),
    Case("renamed key", _with_enc(lambda t: t.replace("password:", "passwd:", 1)), ["decrypt", "enc.yaml"], 25),
    Case("moved value", _with_enc(lambda t: t.replace("\n    key:", "\n    other:", 1)), ["decrypt", "enc.yaml"], 25),
    Case("missing identity", _with_enc(), ["decrypt", "enc.yaml"], 128, env={"SOPS_AGE_KEY_FILE": "/nonexistent"}),
    Case("wrong identity", _with_enc(), ["decrypt", "enc.yaml"], 128,
         env={"SOPS_AGE_KEY_FILE": "/nonexistent", "SOPS_AGE_KEY": OTHER_IDENTITY}),
    Case("malformed identity", _with_enc(), ["decrypt", "enc.yaml"], 128,
         env={"SOPS_AGE_KEY_FILE": "/nonexistent", "SOPS_AGE_KEY": "AGE-SECRET-KEY-1NOTAKEY"}),
    Case("corrupt lastmodified", _with_enc(lambda t: re.sub(r'lastmodified: "[^"]+"', 'lastmodified: "yesterday"', t)),
         ["decrypt", "enc.yaml"], 1),
    Case("sops metadata is not a mapping", _with_enc(lambda t: t[:t.index("sops:")] + "sops: garbage\n"),
         ["decrypt", "enc.yaml"], 1),
    Case("non-semver sops.version", _with_enc(lambda t: re.sub(r"version: \S+", "version: bogus", t)),
         ["decrypt", "enc.yaml"], 1),
    Case("empty sops.version", _with_enc(lambda t: re.sub(r"version: \S+", 'version: ""', t)),
         ["decrypt", "enc.yaml"], 1),
    Case("short sops.version", _with_enc(lambda t: re.sub(r"version: \S+", "version: '3.7'", t)),
         ["decrypt", "enc.yaml"], 1),
    Case("missing sops.version", _with_enc(lambda t: re.sub(r"(?m)^    version: \S+\n", "", t)),
         ["decrypt", "enc.yaml"], 1),
    Case("v-prefixed sops.version", _with_enc(lambda t: re.sub(r"version: \S+", "version: v3.7.1", t)),
         ["decrypt", "enc.yaml"], 0),
    Case("sops 1.x version", _with_enc(lambda t: re.sub(r"version: \S+", "version: '1.x'", t)),
         ["decrypt", "enc.yaml"], 0),
    Case("non-semver sops.version, missing identity", _with_enc(lambda t: re.sub(r"version: \S+", "version: x", t)),
         ["decrypt", "enc.yaml"], 1, env={"SOPS_AGE_KEY_FILE": "/nonexistent"}),
    Case("newer sops.version", _with_enc(lambda t: re.sub(r"version: \S+", "version: 9.1.0", t)),
         ["decrypt", "enc.yaml"], 0),
    Case("metadata without mac", _with_enc(lambda t: re.sub(r"(?m)^    mac: .*\n", "", t)),
         ["decrypt", "enc.yaml"], 51),
    Case("metadata without keys", _with_enc(lambda t: re.sub(r"(?s)    age:.*?recipient: \S+\n", "", t)),
         ["decrypt", "enc.yaml"], 1),
    Case("corrupt age stanza", _with_enc(lambda t: re.sub(r"(?s)-----BEGIN AGE.*?-----END AGE ENCRYPTED FILE-----",
                                                          "garbage", t)), ["decrypt", "enc.yaml"], 128),
    Case("non-existent file", _nothing, ["decrypt", "missing.yaml"], 100),
    Case("non-existent file (legacy)", _nothing, ["-d", "missing.yaml"], 100),
    Case("no file given (legacy)", _nothing, ["-d"], 100),
    Case("empty file", _plain("empty.yaml", ""), ["encrypt", "--age", "RECIPIENT", "empty.yaml"], 92),
    Case("top-level YAML list", _plain("list.yaml", "- a\n- b\n"), ["encrypt", "--age", "RECIPIENT", "list.yaml"], 2),
    Case("top-level JSON array", _plain("list.json", "[1, 2]\n"), ["encrypt", "--age", "RECIPIENT", "list.json"], 2),
    Case("top-level YAML list, --in-place", _plain("list.yaml", f"- {SECRET}\n- b\n"),
         ["encrypt", "-i", "--age", "RECIPIENT", "list.yaml"], 2),
    Case("top-level array in a second YAML document", _plain("two.yaml", f"a: {SECRET}\n---\n- b\n"),
         ["encrypt", "-i", "--age", "RECIPIENT", "two.yaml"], 2),
    Case("invalid YAML on encrypt", _plain("bad.yaml", "a: [1, 2\n"), ["encrypt", "--age", "RECIPIENT", "bad.yaml"], 2),
    Case("invalid YAML on decrypt", _plain("bad.yaml", "a: [1, 2\n"), ["decrypt", "bad.yaml"], 1),
    Case("only comments", _plain("c.yaml", "# nothing here\n"), ["encrypt", "--age", "RECIPIENT", "c.yaml"], 2),
    Case("non-string key", _plain("k.yaml", "1: x\n"), ["encrypt", "--age", "RECIPIENT", "k.yaml"], 23),
    Case("duplicate YAML key", _plain("dup.yaml", "a: 1\na: 2\n"), ["encrypt", "--age", "RECIPIENT", "dup.yaml"], 2),
    Case("invalid dotenv line", _plain("bad.env", "NOEQUALS\n"), ["encrypt", "--age", "RECIPIENT", "bad.env"], 2),
    Case("--in-place with --output", _with_enc(), ["decrypt", "--in-place", "--output", "x.yaml", "enc.yaml"], 8),
    Case("encrypt stdin without --filename-override", _nothing, ["encrypt", "--age", "RECIPIENT"], 8),
    Case("invalid --extract path", _with_enc(), ["decrypt", "--extract", '["name"', "enc.yaml"], 91),
    Case("--extract of a missing key", _with_enc(), ["decrypt", "--extract", '["nope"]', "enc.yaml"], 1),
    Case("set with invalid JSON", _with_enc(), ["set", "enc.yaml", '["name"]', "{not json"], 7),
    Case("set with invalid index", _with_enc(), ["set", "enc.yaml", "name", '"x"'], 7),
    Case("set missing arguments", _with_enc(), ["set", "enc.yaml", '["name"]'], 100),
    Case("unset a missing key", _with_enc(), ["unset", "enc.yaml", '["nope"]'], 1),
    Case("invalid encryption context", _plain("p.yaml", PLAIN_YAML),
         ["encrypt", "--age", "RECIPIENT", "--encryption-context", "nocolon", "p.yaml"], 6),
    Case("duplicate decryption order", _with_enc(), ["decrypt", "--decryption-order", "age,age", "enc.yaml"], 112),
    Case("unknown flag", _with_enc(), ["decrypt", "--no-such-flag", "enc.yaml"], 1),
    Case("no keys and no config", _plain("p.yaml", PLAIN_YAML), ["encrypt", "p.yaml"], 1),
    Case("two selection rules", _plain("p.yaml", PLAIN_YAML),
         ["encrypt", "--age", "RECIPIENT", "--encrypted-regex", "a", "--unencrypted-suffix", "_x", "p.yaml"], 8),
    Case("invalid path_regex in .sops.yaml", _config("creation_rules:\n  - path_regex: '(('\n    age: RECIPIENT\n"),
         ["encrypt", "plain.yaml"], 1),
    Case("invalid path_regex in .sops.yaml, --in-place",
         _config("creation_rules:\n  - path_regex: '(('\n    age: RECIPIENT\n"), ["encrypt", "-i", "plain.yaml"], 1),
    Case("no matching creation rule", _config("creation_rules:\n  - path_regex: nomatch\n    age: RECIPIENT\n"),
         ["encrypt", "plain.yaml"], 1),
    Case("empty key group in .sops.yaml", _config("creation_rules:\n  - key_groups:\n      - {}\n"),
         ["encrypt", "plain.yaml"], 1),
    Case("rule without keys in .sops.yaml", _config("creation_rules:\n  - path_regex: plain\\.yaml\n"),
         ["encrypt", "-i", "plain.yaml"], 1, stderr=EMPTY_GROUP),
    Case("key_groups: [] in .sops.yaml", _config("creation_rules:\n  - key_groups: []\n"),
         ["encrypt", "-i", "plain.yaml"], 1, stderr=EMPTY_GROUP),
    Case("empty key group in .sops.yaml, exact text", _config("creation_rules:\n  - key_groups:\n      - {}\n"),
         ["encrypt", "-i", "plain.yaml"], 1, stderr=EMPTY_GROUP),
    Case("invalid age recipient", _plain("p.yaml", PLAIN_YAML), ["encrypt", "--age", "notarecipient", "p.yaml"], 1),
    Case("malformed age1 recipient", _plain("p.yaml", PLAIN_YAML), ["encrypt", "--age", "age1qqq", "p.yaml"], 1),
    Case("invalid age recipient in .sops.yaml", _config("creation_rules:\n  - age: notarecipient\n"),
         ["encrypt", "plain.yaml"], 1),
    Case("invalid age recipient, legacy -e", _plain("p.yaml", PLAIN_YAML), ["-e", "--age", "age1qqq", "p.yaml"], 1),
    Case("invalid age recipient to rotate --add-age", _with_enc(), ["rotate", "--add-age", "age1qqq", "enc.yaml"], 1),
    Case("decrypt empty stdin", _nothing, ["decrypt"], 1, stderr="Could not unmarshal input data: EOF\n"),
    Case("decrypt empty stdin as JSON", _nothing, ["decrypt", "--input-type", "json"], 1,
         stderr="Could not unmarshal input data: EOF\n"),
    Case("decrypt empty stdin as YAML", _nothing, ["decrypt", "--input-type", "yaml"], 1),
    Case("decrypt empty stdin as dotenv", _nothing, ["decrypt", "--input-type", "dotenv"], 1),
    Case("encrypt empty stdin as JSON", _nothing, ["encrypt", "--age", "RECIPIENT", "--filename-override", "x.json"],
         2, stderr="Error unmarshalling file: Could not unmarshal input data: EOF\n"),
    Case("encrypt empty stdin as YAML", _nothing, ["encrypt", "--age", "RECIPIENT", "--filename-override", "x.yaml"],
         92, stderr="File cannot be completely empty, it must contain at least one document\n"),
    Case("encrypt stdin with --in-place", _nothing,
         ["encrypt", "-i", "--age", "RECIPIENT", "--filename-override", "x.yaml"], 8,
         stderr="Error: cannot use --in-place when reading from stdin\n"),
    Case("decrypt a missing file, exact text", _nothing, ["decrypt", "missing.yaml"], 100,
         stderr='Error: cannot operate on non-existent file "FOLDER/missing.yaml"\n'),
    Case("--in-place with --output, exact text", _with_enc(),
         ["decrypt", "--in-place", "--output", "x.yaml", "enc.yaml"], 8,
         stderr="Error: cannot operate on both --output and --in-place\n"),
    Case("updatekeys without a config", _with_enc(), ["updatekeys", "-y", "enc.yaml"], 1),
    Case("rotate a missing file with --add-age", _nothing, ["rotate", "--add-age", "RECIPIENT", "missing.yaml"], 49),
    Case("edit without changes", _with_enc(), ["edit", "enc.yaml"], 200, env={"EDITOR": "true"}),
    Case("exec-env with a nested value", _with_enc(), ["exec-env", "enc.yaml", "true"], 1),
    Case("exec-env propagates the exit status", _flat_enc, ["exec-env", "flat.yaml", "exit 7"], 7),
    Case("filestatus on a missing file", _nothing, ["filestatus", "missing.yaml"], 1),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_exit_code_matches_sops(case: Case, age_id, real_sops, ours, tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    case.setup(base, ours, age_id.recipient)
    argv = [a.replace("RECIPIENT", age_id.recipient) for a in case.argv]
    results = {}
    for name, runner in (("sops", real_sops), ("ours", ours)):
        folder = tmp_path / name
        shutil.copytree(base, folder)
        results[name] = runner(*argv, env=case.env, cwd=folder, input=b"")
    theirs, mine = results["sops"], results["ours"]
    assert theirs.returncode == case.expected, f"real sops: {theirs.returncode} {theirs.err[-400:]}"
    assert mine.returncode == theirs.returncode, f"ours: {mine.returncode} {mine.err[-400:]}"
    assert SECRET not in mine.err and "also-secret-x" not in mine.err
    assert "secrets-kit: error" not in mine.err  # errors read as sops's: no prefix of ours, none doubled
    if case.stderr is not None:
        for name, result in results.items():
            assert result.err == case.stderr.replace("FOLDER", str(tmp_path / name)), name
    if case.expected == 0:
        assert mine.stdout == theirs.stdout
    if mine.returncode not in (0, 7):
        assert mine.err.strip(), "an error must say what went wrong"
        # Nothing half-written: every file as it was, no temporary file left behind, no plaintext out.
        assert _snapshot(tmp_path / "ours") == _snapshot(base)
        assert SECRET not in mine.out and "also-secret-x" not in mine.out


def test_invalid_encrypted_regex_in_config_is_refused(age_id, real_sops, ours, isolated_env: Path) -> None:
    """A deliberate difference: real sops 3.13 compiles `encrypted_regex` per match, treats the error as
    "no match" and writes every value in clear with exit 0. We refuse the config (exit 1, sops's config
    error code) and write nothing."""
    (isolated_env / ".sops.yaml").write_text(f"creation_rules:\n  - encrypted_regex: '(('\n    age: {age_id.recipient}\n")
    plain = isolated_env / "plain.yaml"
    plain.write_text(PLAIN_YAML)
    theirs = real_sops("encrypt", "plain.yaml")
    assert theirs.returncode == 0 and SECRET.encode() in theirs.stdout  # upstream's behaviour, as observed
    mine = ours("encrypt", "-i", "plain.yaml")
    assert mine.returncode == 1
    assert "encrypted_regex" in mine.err and SECRET not in mine.err + mine.out
    assert plain.read_text() == PLAIN_YAML
    assert sorted(p.name for p in isolated_env.iterdir()) == [".sops.yaml", "plain.yaml"]


# sops `edit` and the file's `sops.version` (cmd/sops/edit.go, v3.13.3): the edited tree's version is
# compared with AIsNewerThanB(program, file). A file written by a NEWER sops is neither refused nor
# prompted about (no warning either): it keeps its version and the edit succeeds. An older version is
# raised to the program's. Exit 202 (FailedToCompareVersions) only when the version is not semver; a
# non-semver version on disk already fails at load (exit 1), so 202 is reached through
# --show-master-keys when the edited metadata carries one.
_EDIT_VERSIONS = [
    # (case, version on disk, extra edit, --show-master-keys, exit code, version afterwards: None = program's)
    ("newer file", "9.9.9", "", False, 0, "9.9.9"),
    ("newer file, v prefix", "v9.9.9", "", False, 0, "v9.9.9"),
    ("newer file, shown keys", "9.9.9", "", True, 0, "9.9.9"),
    ("older file", "3.0.0", "", False, 0, None),
    ("prerelease of ours", "3.13.3-rc.1", "", False, 0, None),
    ("edited to non-semver", "3.13.3", "-e s/version:.3.13.3/version:\\ bogus/", True, 202, "3.13.3"),
]


@pytest.mark.parametrize(("case", "on_disk", "extra", "show", "code", "after"), _EDIT_VERSIONS,
                         ids=[c[0] for c in _EDIT_VERSIONS])
def test_edit_and_the_file_version_like_sops(case: str, on_disk: str, extra: str, show: bool, code: int,
                                             after: str | None, age_id, ours, real_sops, sops_bin: Path,
                                             isolated_env: Path) -> None:
    import yaml

    plain = isolated_env / "v.yaml"
    plain.write_text("a: fake-a\nb: fake-b\n")
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    encrypted = re.sub(rb"(?m)^    version: .*$", f'    version: "{on_disk}"'.encode(), enc.stdout)
    program = re.search(r"\d+\.\d+\.\d+", real_sops("--version", "--disable-version-check").out)
    assert program is not None
    env = {"EDITOR": f"sed -i -e s/fake-a/fake-z/ {extra}".strip()}
    results = {}
    for name, run in (("sops", real_sops), ("ours", ours)):
        target = isolated_env / f"{name}.yaml"
        target.write_bytes(encrypted)
        done = run("edit", *(["--show-master-keys"] if show else []), str(target), input=b"", env=env)
        meta = yaml.safe_load(target.read_text())["sops"]
        results[name] = (done.returncode, str(meta["version"]), target.read_bytes() == encrypted)
        assert done.returncode == code, f"{name}: {done.err}"
    assert results["ours"] == results["sops"]
    _, version, untouched = results["ours"]
    assert version == (after or program.group(0))
    assert untouched == (code != 0)  # nothing half-written on a refusal
    if code == 0:
        assert ours("decrypt", str(isolated_env / "ours.yaml")).out.startswith("a: fake-z")
