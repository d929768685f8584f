"""The YAML store against the real sops 3.13.3, byte for byte where it matters.

- Decrypting a file sops wrote prints sops's bytes, except for the README's deliberate
  differences (inline comments kept inline, characters beyond the BMP unescaped), which
  are checked here to be exactly those.
- A file with anchors keeps its own indentation when we encrypt it.
- A comment inside a YAML list is stored as sops stores it: an item `- ENC[...,type:comment]`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

# Decrypting what sops wrote must print what sops prints.
_SAME_AS_SOPS = {
    "control characters": 'a: "bell\\a tab\\t nul\\0 del\\x7F esc\\e"\nb: "nel\\N ls\\L ps\\P bom\\uFEFF"\n',
    "quoting": "a: 'yes'\nb: \"123\"\nc: 'null'\nd: '#x'\ne: ': x'\nf: '- x'\ng: 'a: b'\nh: \"\"\ni: '@at'\n",
    "block scalars in a flat file": 'a: |\n  l1\n  l2\nb: "x\\ny"\nd: |+\n  keep\n\ne: >\n  folded\n  text\n',
    "numbers and bools": "a: 1.0\nb: 1e3\nc: 0x1F\nd: .5\ne: 1_000\nf: .inf\ng: True\nh: ~\n",
    "dates": "a: 2024-01-01\nb: 2024-01-01T10:00:00+02:00\n",
    "lists and empty collections": "l:\n  - a\n  - [b, c]\n  - {d: e}\n  -\n    - nested\nm: []\nn: {}\n",
    "comments in lists": "list:\n  # first\n  - a\n  # between\n  - b\n  # last\nafter: 1\nl:\n- a\n# c1\n- b\n",
    "anchors and merge keys": "base: &b\n  x: 1\n  y: two\nderived:\n  <<: *b\n  z: 3\nlist: &l [a, b]\nagain: *l\n",
    "keys": "'quoted key': 1\n\"k:colon\": 2\nlong key with spaces: v\nключ: значение\n",
    "document comments": "# c1\n\n# c2\na: 1\n\n# c3\n",
}
# The same, from a JSON file printed as YAML (written by the emitter, not in place).
_SAME_AS_SOPS_FROM_JSON = {
    "merge key and escapes": '{"<<": "x", "a": {"b": "tab\\there", "c": [1, "line\\nbreak"]}, "d": {}}\n',
    "nested lists and empty values": '{"l": [[1, 2], [], {"k": null}], "e": "", "t": true}\n',
    "blocks in lists and maps in lists": '{"l": ["a\\nb", ["c\\nd", {"k": "e\\nf", "m": {"n": [1]}}]], '
                                         '"m": {"n": ["g\\nh"]}}\n',
}

# Where ours deliberately differs (README, "Using it", sops part): (input, sops prints, we print).
_DELIBERATE = {
    "inline comment kept inline": ("a:\n  x: 1 # note\n", "a:\n    # note\n    x: 1\n", "a:\n    x: 1 # note\n"),
    "non-BMP characters unescaped": ('a: "emoji \U0001F600"\n', 'a: "emoji \\U0001F600"\n', "a: emoji \U0001F600\n"),
}


def _sops_encrypt(real_sops, recipient: str, work: Path, text: str, name: str = "in.yaml") -> Path:
    plain = work / name
    plain.write_text(text, encoding="utf-8")
    enc = real_sops("encrypt", "--age", recipient, str(plain))
    assert enc.returncode == 0, enc.err
    path = work / ("enc." + name)
    path.write_bytes(enc.stdout)
    return path


@pytest.mark.parametrize("name", list(_SAME_AS_SOPS))
def test_decrypt_prints_sops_bytes(name: str, age_id, real_sops, ours, isolated_env: Path) -> None:
    path = _sops_encrypt(real_sops, age_id.recipient, isolated_env, _SAME_AS_SOPS[name])
    theirs = real_sops("decrypt", str(path))
    mine = ours("decrypt", str(path))
    assert theirs.returncode == 0, theirs.err
    assert mine.returncode == 0, mine.err
    assert mine.stdout == theirs.stdout


@pytest.mark.parametrize("name", list(_SAME_AS_SOPS_FROM_JSON))
def test_decrypt_json_as_yaml_prints_sops_bytes(name: str, age_id, real_sops, ours, isolated_env: Path) -> None:
    path = _sops_encrypt(real_sops, age_id.recipient, isolated_env, _SAME_AS_SOPS_FROM_JSON[name], "in.json")
    theirs = real_sops("decrypt", "--output-type", "yaml", str(path))
    mine = ours("decrypt", "--output-type", "yaml", str(path))
    assert theirs.returncode == 0, theirs.err
    assert mine.returncode == 0, mine.err
    assert mine.stdout == theirs.stdout


@pytest.mark.parametrize("name", list(_DELIBERATE))
def test_deliberate_decrypt_differences(name: str, age_id, real_sops, ours, isolated_env: Path) -> None:
    text, sops_prints, we_print = _DELIBERATE[name]
    path = _sops_encrypt(real_sops, age_id.recipient, isolated_env, text)
    theirs = real_sops("decrypt", str(path))
    mine = ours("decrypt", str(path))
    assert theirs.out == sops_prints
    assert mine.out == we_print
    assert yaml.safe_load(mine.stdout) == yaml.safe_load(theirs.stdout)  # the same data either way


_ANCHORED = """\
base: &b
  x: 1
  y: two
derived:
  <<: *b
  z: 3
list: &l
  - fake-a
  - fake-b
again: *l
"""


def test_anchored_file_keeps_its_indentation(age_id, real_sops, ours, isolated_env: Path) -> None:
    plain = isolated_env / "anchored.yaml"
    plain.write_text(_ANCHORED)
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    body = enc.out.split("\nsops:\n")[0]
    indents = {len(line) - len(line.lstrip(" ")) for line in body.splitlines()}
    assert indents == {0, 2, 4}  # the file's own 2-space steps (sops writes 4, 8)
    assert "fake-a" not in enc.out
    path = isolated_env / "anchored.enc.yaml"
    path.write_bytes(enc.stdout)
    # Real sops reads it as it reads its own encryption of the same file (aliases expanded).
    own = _sops_encrypt(real_sops, age_id.recipient, isolated_env, _ANCHORED, "own.yaml")
    theirs = real_sops("decrypt", str(path))
    assert theirs.returncode == 0, theirs.err
    assert theirs.stdout == real_sops("decrypt", str(own)).stdout
    mine = ours("decrypt", str(path))
    assert mine.returncode == 0, mine.err
    assert mine.out.startswith("base:\n  x: 1\n")


_LIST_COMMENTS = {
    "own-line comments": "list:\n  # first\n  - fake-a\n  # between\n  - fake-b\n  # last\nafter: 1\n",
    "indentless list": "l:\n- fake-a\n# c1\n- fake-b\nm: x\n",
    "nested list": "a:\n  b:\n    # c\n    - fake-x\n    - fake-z\n",
}


def _line_kinds(encrypted: bytes) -> list[str]:
    """Each line of the data part as its kind: `key`, `item`, `comment item` or `comment`."""
    kinds = []
    for line in encrypted.decode().split("\nsops:\n")[0].splitlines():
        stripped = line.strip()
        if stripped.startswith("- ") and stripped.endswith(",type:comment]"):
            kinds.append("comment item")
        elif stripped.startswith("- "):
            kinds.append("item")
        elif stripped.startswith("#"):
            kinds.append("comment")
        else:
            kinds.append("key")
    return kinds


@pytest.mark.parametrize("name", list(_LIST_COMMENTS))
def test_list_comments_are_stored_as_sops_stores_them(name: str, age_id, real_sops, ours,
                                                       isolated_env: Path) -> None:
    text = _LIST_COMMENTS[name]
    own = _sops_encrypt(real_sops, age_id.recipient, isolated_env, text, "own.yaml")
    plain = isolated_env / "mine.yaml"
    plain.write_text(text)
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    assert _line_kinds(enc.stdout) == _line_kinds(own.read_bytes())
    assert "comment item" in _line_kinds(enc.stdout)
    path = isolated_env / "mine.enc.yaml"
    path.write_bytes(enc.stdout)
    theirs = real_sops("decrypt", str(path))
    assert theirs.returncode == 0, theirs.err
    assert "unencrypted comment" not in theirs.err
    assert theirs.stdout == real_sops("decrypt", str(own)).stdout
    # Our own round trip gives the file back as it was written.
    assert ours("decrypt", str(path)).out == text


def test_list_comment_stays_a_line_where_an_item_would_move_others(age_id, real_sops, ours,
                                                                   isolated_env: Path) -> None:
    # `# x` as an item would make yaml.v3 give `# y` to the list: both stay comment lines.
    text = "a: 1\nb:\n    on:\n      - 42\n        # x\n# y\n    k: a\n"
    own = _sops_encrypt(real_sops, age_id.recipient, isolated_env, text, "own.yaml")
    plain = isolated_env / "mine.yaml"
    plain.write_text(text)
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    assert len(re.findall(r"^\s*#ENC\[", enc.out, re.M)) == 2
    path = isolated_env / "mine.enc.yaml"
    path.write_bytes(enc.stdout)
    assert real_sops("decrypt", str(path)).stdout == real_sops("decrypt", str(own)).stdout


# Bad YAML: the error names the line sops names (yaml.v3's: where the quoted scalar, block or
# flow collection that went wrong starts), with the same words, and the same exit code.
_BAD_YAML = {
    "unclosed double quote": 'a: 1\nb: "unclosed\nc: 3\nd: 4\n',
    "unclosed single quote": "a: 1\nb: 'x\nc: 2\n",
    "unclosed quote on the last line": 'a: 1\nb: "x\n',
    "bad indentation": "a:\n  b: 1\n c: 2\nd: 3\n",
    "bad indentation in a list": "a:\n  - 1\n - 2\n",
    "over-indented key": "a: 1\n  b: 2\n",
    "tab indentation": "a:\n\tb: 1\nc: 2\n",
    "unclosed flow list": "a: 1\nb: [1, 2\nc: 3\n",
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "duplicate nested key": "x:\n  k: 1\n  k: 2\n",
}
_WHERE = re.compile(r"(line \d+: [^\n]*)")


@pytest.mark.parametrize("name", list(_BAD_YAML))
def test_yaml_errors_name_the_line_sops_names(name: str, age_id, real_sops, ours, isolated_env: Path) -> None:
    plain = isolated_env / "bad.yaml"
    plain.write_text(_BAD_YAML[name])
    theirs = real_sops("encrypt", "--age", age_id.recipient, str(plain))
    mine = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert mine.returncode == theirs.returncode == 2
    expected = _WHERE.search(theirs.err)
    assert expected is not None, theirs.err
    assert _WHERE.findall(mine.err) == [expected.group(1).strip()]
    assert mine.stdout == b""
