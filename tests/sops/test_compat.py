"""File compatibility with the real sops, both directions, every format.

theirs -> ours: real sops encrypts, we decrypt; the plaintext must equal what real sops
decrypts. ours -> theirs: we encrypt, real sops decrypts; the result must equal what
real sops gives for its own encryption of the same plaintext (so the trees, comments
included, are identical), and our own decryption must give the plaintext back.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from .samples import EXTENSIONS, SAMPLES, SECRETS

FORMATS = list(SAMPLES)


def _write_plain(work: Path, fmt: str, name: str = "secret") -> Path:
    path = work / f"{name}.{EXTENSIONS[fmt]}"
    path.write_bytes(SAMPLES[fmt])
    return path


def _types(fmt: str) -> list[str]:
    return ["--input-type", fmt, "--output-type", fmt]


def _assert_encrypted(data: bytes, fmt: str) -> None:
    text = data.decode("utf-8", "replace")
    assert "ENC[AES256_GCM," in text
    for secret in SECRETS:
        assert secret not in text, "a secret value is in clear in the encrypted file"
    if fmt == "binary":
        assert b"plain tail" not in data


@pytest.fixture(params=["sops313", "sops311"])
def upstream(request: pytest.FixtureRequest) -> object:
    name = "real_sops" if request.param == "sops313" else "real_sops311"
    return request.getfixturevalue(name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_theirs_to_ours_age(fmt: str, age_id, upstream, ours, isolated_env: Path) -> None:
    plain = _write_plain(isolated_env, fmt)
    enc = upstream("encrypt", "--age", age_id.recipient, *_types(fmt), str(plain))
    assert enc.returncode == 0, enc.err
    _assert_encrypted(enc.stdout, fmt)
    enc_path = isolated_env / f"theirs.{EXTENSIONS[fmt]}"
    enc_path.write_bytes(enc.stdout)
    theirs = upstream("decrypt", *_types(fmt), str(enc_path))
    mine = ours("decrypt", *_types(fmt), str(enc_path))
    assert theirs.returncode == 0, theirs.err
    assert mine.returncode == 0, mine.err
    if fmt == "yaml":
        # Same data and the same comments; we keep the encrypted file's own layout.
        assert list(yaml.safe_load_all(mine.stdout)) == list(yaml.safe_load_all(theirs.stdout))
        assert sorted(re.findall(r"#.*", mine.out)) == sorted(re.findall(r"#.*", theirs.out))
    else:
        assert mine.stdout == theirs.stdout
    if fmt == "binary":
        assert mine.stdout == SAMPLES[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_ours_to_theirs_age(fmt: str, age_id, upstream, ours, isolated_env: Path) -> None:
    plain = _write_plain(isolated_env, fmt)
    enc = ours("encrypt", "--age", age_id.recipient, *_types(fmt), str(plain))
    assert enc.returncode == 0, enc.err
    _assert_encrypted(enc.stdout, fmt)
    enc_path = isolated_env / f"ours.{EXTENSIONS[fmt]}"
    enc_path.write_bytes(enc.stdout)
    theirs = upstream("decrypt", *_types(fmt), str(enc_path))
    assert theirs.returncode == 0, theirs.err
    assert "unencrypted comment" not in theirs.err  # every comment decrypted with the right path
    # Real sops's view of our file equals its view of its own encryption of the same plaintext.
    own = upstream("encrypt", "--age", age_id.recipient, *_types(fmt), str(plain))
    own_path = isolated_env / f"own.{EXTENSIONS[fmt]}"
    own_path.write_bytes(own.stdout)
    reference = upstream("decrypt", *_types(fmt), str(own_path))
    assert theirs.stdout == reference.stdout
    mine = ours("decrypt", *_types(fmt), str(enc_path))
    assert mine.returncode == 0, mine.err
    if fmt == "binary":
        assert mine.stdout == SAMPLES[fmt]
    if fmt == "json":
        # Go's float64 for a number beyond int64, as sops writes it.
        assert mine.stdout == SAMPLES[fmt].replace(b"12345678901234567890", b"12345678901234567000")
    if fmt == "yaml":
        # Our own round trip keeps the plaintext's layout, except that a date is written back as
        # the timestamp sops stores (2024-01-01 -> 2024-01-01T00:00:00Z).
        expected = SAMPLES["yaml"].decode().replace("since: 2024-01-01", "since: 2024-01-01T00:00:00Z")
        assert mine.out == expected


@pytest.mark.parametrize("fmt", ["yaml", "json", "dotenv", "ini", "binary"])
def test_pgp_both_directions(fmt: str, gpg_home, real_sops, ours, isolated_env: Path) -> None:
    fp = str(gpg_home["fingerprint"])
    plain = _write_plain(isolated_env, fmt)
    theirs_enc = real_sops("encrypt", "--pgp", fp, *_types(fmt), str(plain))
    assert theirs_enc.returncode == 0, theirs_enc.err
    t_path = isolated_env / f"t.{EXTENSIONS[fmt]}"
    t_path.write_bytes(theirs_enc.stdout)
    ours_enc = ours("encrypt", "--pgp", fp, *_types(fmt), str(plain))
    assert ours_enc.returncode == 0, ours_enc.err
    assert b"-----BEGIN PGP MESSAGE-----" in ours_enc.stdout
    o_path = isolated_env / f"o.{EXTENSIONS[fmt]}"
    o_path.write_bytes(ours_enc.stdout)
    a = ours("decrypt", *_types(fmt), str(t_path))
    b = real_sops("decrypt", *_types(fmt), str(o_path))
    c = real_sops("decrypt", *_types(fmt), str(t_path))
    assert a.returncode == 0, a.err
    assert b.returncode == 0, b.err
    assert b.stdout == c.stdout
    if fmt == "yaml":
        # Same data and comments; our output keeps the encrypted file's layout (sops's 4-space indent).
        assert list(yaml.safe_load_all(a.stdout)) == list(yaml.safe_load_all(c.stdout))
        assert sorted(re.findall(r"#.*", a.out)) == sorted(re.findall(r"#.*", c.out))
    else:
        assert a.stdout == c.stdout
    own = ours("decrypt", *_types(fmt), str(o_path))
    assert own.returncode == 0, own.err
    if fmt == "yaml":
        assert list(yaml.safe_load_all(own.stdout)) == list(yaml.safe_load_all(c.stdout))
    else:
        assert own.stdout == c.stdout


def test_age_and_pgp_in_one_group(age_id, gpg_home, real_sops, ours, isolated_env: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fp = str(gpg_home["fingerprint"])
    plain = _write_plain(isolated_env, "yaml")
    enc = ours("encrypt", "--age", age_id.recipient, "--pgp", fp, str(plain))
    assert enc.returncode == 0, enc.err
    path = isolated_env / "both.yaml"
    path.write_bytes(enc.stdout)
    # Without the age identity, PGP alone opens it (real sops and ours).
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    assert real_sops("decrypt", str(path)).returncode == 0
    assert ours("decrypt", str(path)).returncode == 0


def _three_groups(work: Path, threshold: int, ids: list) -> Path:
    lines = ["creation_rules:", "  - path_regex: .*", f"    shamir_threshold: {threshold}", "    key_groups:"]
    for ident in ids:
        lines.append(f"      - age: [{ident.recipient}]")
    config = work / ".sops.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


@pytest.mark.parametrize("writer", ["ours", "real_sops", "real_sops311"])
def test_shamir_key_groups(writer: str, request: pytest.FixtureRequest, ours, real_sops, isolated_env: Path,
                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import make_age_identity

    ids = [make_age_identity(tmp_path, f"k{i}.txt") for i in range(3)]
    _three_groups(isolated_env, 2, ids)
    plain = _write_plain(isolated_env, "yaml")
    write = request.getfixturevalue(writer)
    enc = write("encrypt", str(plain))
    assert enc.returncode == 0, enc.err
    doc = next(yaml.safe_load_all(enc.stdout))
    assert doc["sops"]["shamir_threshold"] == 2
    assert len(doc["sops"]["key_groups"]) == 3
    path = isolated_env / "groups.yaml"
    path.write_bytes(enc.stdout)
    # Any two groups are enough, for both implementations.
    for pair in ((0, 1), (1, 2), (0, 2)):
        key_text = "\n".join(ids[i].secret for i in pair)
        env = {"SOPS_AGE_KEY": key_text}
        mine = ours("decrypt", str(path), env=env)
        theirs = real_sops("decrypt", str(path), env=env)
        assert mine.returncode == 0, mine.err
        assert theirs.returncode == 0, theirs.err
    # One group is not: both exit 128, and ours says which group failed and why.
    env = {"SOPS_AGE_KEY": ids[2].secret}
    mine = ours("decrypt", str(path), env=env)
    theirs = real_sops("decrypt", str(path), env=env)
    assert mine.returncode == theirs.returncode == 128
    assert "Group 0: FAILED" in mine.err and "Group 2: OK" in mine.err
    assert ids[0].recipient in mine.err


@pytest.mark.parametrize("fmt", ["dotenv", "ini", "json"])
def test_shamir_flat_formats_theirs_to_ours(fmt: str, ours, real_sops, real_sops311, isolated_env: Path,
                                            tmp_path: Path) -> None:
    from .conftest import make_age_identity

    ids = [make_age_identity(tmp_path, f"k{i}.txt") for i in range(2)]
    _three_groups(isolated_env, 2, ids)
    plain = _write_plain(isolated_env, fmt)
    env = {"SOPS_AGE_KEY": "\n".join(i.secret for i in ids)}
    for writer in (real_sops, real_sops311, ours):
        enc = writer("encrypt", *_types(fmt), str(plain))
        assert enc.returncode == 0, enc.err
        path = isolated_env / f"g.{EXTENSIONS[fmt]}"
        path.write_bytes(enc.stdout)
        mine = ours("decrypt", *_types(fmt), str(path), env=env)
        theirs = real_sops("decrypt", *_types(fmt), str(path), env=env)
        assert mine.returncode == 0, mine.err
        assert theirs.returncode == 0, theirs.err
        assert mine.stdout == theirs.stdout


def test_mac_only_encrypted(age_id, real_sops, ours, isolated_env: Path) -> None:
    plain = _write_plain(isolated_env, "yaml")
    for writer in (ours, real_sops):
        enc = writer("-e", "--mac-only-encrypted", "--age", age_id.recipient, str(plain))
        assert enc.returncode == 0, enc.err
        assert b"mac_only_encrypted: true" in enc.stdout
        # Editing a value that is not encrypted keeps the MAC valid.
        changed = enc.stdout.replace(b"api_unencrypted: visible", b"api_unencrypted: edited")
        assert changed != enc.stdout
        path = isolated_env / "mac_only.yaml"
        path.write_bytes(changed)
        mine = ours("decrypt", str(path))
        theirs = real_sops("decrypt", str(path))
        assert mine.returncode == 0, mine.err
        assert theirs.returncode == 0, theirs.err
        assert b"api_unencrypted: edited" in mine.stdout


_SELECTION = [
    ("--unencrypted-suffix", "_clear"),
    ("--encrypted-suffix", "word"),
    ("--unencrypted-regex", "^(name|port)$"),
    ("--encrypted-regex", "^pass"),
    ("--unencrypted-comment-regex", "sops:clear"),
    ("--encrypted-comment-regex", "sops:enc"),
]

_SELECTION_YAML = """\
name: demo
password: fake-secret-1
name_clear: visible
port: 5432
# sops:clear
clear_by_comment: visible-2
# sops:enc
enc_by_comment: fake-secret-2
nested:
    password: fake-secret-3
    other: x
"""


def _encrypted_paths(data: bytes) -> set[str]:
    doc = yaml.safe_load(data)
    doc.pop("sops")
    found = set()

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}:")
        elif isinstance(node, str) and node.startswith("ENC["):
            found.add(prefix)

    walk(doc, "")
    return found


@pytest.mark.parametrize(("flag", "value"), _SELECTION)
def test_selection_options_match_sops(flag: str, value: str, age_id, real_sops, ours, isolated_env: Path) -> None:
    plain = isolated_env / "sel.yaml"
    plain.write_text(_SELECTION_YAML)
    # The comment-regex flags exist only in sops's legacy form; use it for both.
    theirs = real_sops("-e", flag, value, "--age", age_id.recipient, str(plain))
    mine = ours("-e", flag, value, "--age", age_id.recipient, str(plain))
    assert theirs.returncode == 0, theirs.err
    assert mine.returncode == 0, mine.err
    assert _encrypted_paths(mine.stdout) == _encrypted_paths(theirs.stdout)
    key = flag.lstrip("-").replace("-", "_")
    assert f"{key}: ".encode() in mine.stdout
    for data in (mine.stdout, theirs.stdout):
        path = isolated_env / "sel.enc.yaml"
        path.write_bytes(data)
        a = ours("decrypt", str(path))
        b = real_sops("decrypt", str(path))
        assert a.returncode == 0, a.err
        assert b.returncode == 0, b.err
        assert yaml.safe_load(a.stdout) == yaml.safe_load(b.stdout) == yaml.safe_load(_SELECTION_YAML)


def test_metadata_layouts(age_id, real_sops311, ours, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3.13 writes sorted keys; SECRETS_KIT_SOPS_LAYOUT=3.11 writes the older struct order, and
    sops 3.11 reads both."""
    plain = _write_plain(isolated_env, "yaml")
    new = ours("encrypt", "--age", age_id.recipient, str(plain))
    old = ours("encrypt", "--age", age_id.recipient, str(plain), env={"SECRETS_KIT_SOPS_LAYOUT": "3.11"})
    sops_new = next(yaml.safe_load_all(new.stdout))["sops"]
    sops_old = next(yaml.safe_load_all(old.stdout))["sops"]
    assert list(sops_new) == sorted(sops_new)
    assert list(sops_new["age"][0]) == ["enc", "recipient"]
    assert list(sops_old["age"][0]) == ["recipient", "enc"]
    for data in (new.stdout, old.stdout):
        path = isolated_env / "layout.yaml"
        path.write_bytes(data)
        assert real_sops311("decrypt", str(path)).returncode == 0


_LAYOUT_311 = {"SECRETS_KIT_SOPS_LAYOUT": "3.11"}
_LAYOUT_WRITERS = {
    "set": lambda f, extra: ["set", f, '["added"]', '"fake-added"'],
    "unset": lambda f, extra: ["unset", f, '["a"]'],
    "rotate": lambda f, extra: ["rotate", "-i", "--add-age", extra, f],
    "rotate a directory": lambda f, extra: ["rotate", "--add-age", extra, str(Path(f).parent)],
    "updatekeys": lambda f, extra: ["updatekeys", "-y", f],
}


@pytest.mark.parametrize("op", list(_LAYOUT_WRITERS))
def test_every_writer_honours_the_311_layout(op: str, age_id, real_sops311, ours, isolated_env: Path) -> None:
    """SECRETS_KIT_SOPS_LAYOUT=3.11 applies to set/unset/rotate/updatekeys as to encrypt: metadata they
    (re)write, new stanzas included, is in 3.11's struct order, and sops 3.11 decrypts the result."""
    from .conftest import make_age_identity

    folder = isolated_env / "layout"
    folder.mkdir()
    path = folder / "secret.yaml"
    path.write_text("a: fake-a\nb: fake-b\n")
    extra = make_age_identity(isolated_env, "extra.txt").recipient
    (isolated_env / ".sops.yaml").write_text(
        f"creation_rules:\n  - age: {age_id.recipient},{extra}\n")
    enc = ours("encrypt", "-i", "--age", age_id.recipient, str(path), env=_LAYOUT_311)
    assert enc.returncode == 0, enc.err
    before = list(yaml.safe_load(path.read_text())["sops"])
    done = ours(*_LAYOUT_WRITERS[op](str(path), extra), env=_LAYOUT_311)
    assert done.returncode == 0, done.err
    sops = yaml.safe_load(path.read_text())["sops"]
    assert len(sops["age"]) == (1 if op in ("set", "unset") else 2)  # rotate/updatekeys add a new stanza
    for stanza in sops["age"]:
        assert list(stanza) == ["recipient", "enc"]  # 3.11 struct order; 3.13 sorts: enc, recipient
    assert list(sops) == before
    opened = real_sops311("decrypt", str(path))
    assert opened.returncode == 0, opened.err
    expected = {"a": "fake-a", "b": "fake-b"}
    if op == "set":
        expected["added"] = "fake-added"
    if op == "unset":
        del expected["a"]
    assert yaml.safe_load(opened.stdout) == expected


def test_json_envelope_decrypts_as_json_and_yaml(age_id, real_sops, ours, isolated_env: Path) -> None:
    """The AAD is the same in every format: a YAML file decrypts from its JSON conversion."""
    plain = isolated_env / "conv.yaml"
    plain.write_text("a: fake-1\nb:\n    c: fake-2\n")
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    as_json = json.dumps(yaml.safe_load(enc.stdout))
    path = isolated_env / "conv.json"
    path.write_text(as_json)
    mine = ours("decrypt", str(path))
    theirs = real_sops("decrypt", str(path))
    assert mine.returncode == theirs.returncode == 0, mine.err
    assert json.loads(mine.stdout) == json.loads(theirs.stdout) == {"a": "fake-1", "b": {"c": "fake-2"}}


_EDGE_YAML = {
    "anchors and merge keys": "base: &b\n  x: 1\n  y: two\nderived:\n  <<: *b\n  z: 3\nlist: &l [a, b]\nagain: *l\n",
    "CRLF line ends": "a: 1\r\nb:\r\n  c: two # note\r\n",
    "explicit document ends": "---\na: 1\n...\n---\nb: 2\n...\n",
    "top-level flow mapping": "{a: 1, b: [x, y]}\n",
    "empty document in between": "a: 1\n---\n---\nb: 2\n",
    "tags and scalar styles": "a: !!str 123\nb: !!binary aGVsbG8=\nd: \"quoted\"\ne: 'single'\nf: >\n  folded\n  text\n",
    "multi-line values": "a: |\n  line 1\n  line 2\nb: \"x\\ny\"\nc: 'trailing  '\n",
}


@pytest.mark.parametrize("name", list(_EDGE_YAML))
def test_yaml_edge_cases(name: str, age_id, real_sops, ours, isolated_env: Path) -> None:
    plain = isolated_env / "edge.yaml"
    plain.write_bytes(_EDGE_YAML[name].encode())
    for writer in (ours, real_sops):
        enc = writer("encrypt", "--age", age_id.recipient, str(plain))
        assert enc.returncode == 0, enc.err
        path = isolated_env / "edge.enc.yaml"
        path.write_bytes(enc.stdout)
        mine = ours("decrypt", "--output-type", "json", str(path))
        theirs = real_sops("decrypt", "--output-type", "json", str(path))
        assert mine.returncode == 0, mine.err
        assert theirs.returncode == 0, theirs.err
        assert json.loads(mine.stdout) == json.loads(theirs.stdout)
    back = ours("decrypt", str(isolated_env / "edge.enc.yaml"))
    assert list(yaml.safe_load_all(back.stdout)) == list(yaml.safe_load_all(
        real_sops("decrypt", str(isolated_env / "edge.enc.yaml")).stdout))


# Comment placement: real sops decrypting our file prints exactly what it prints for its own.
# Dedented comments after nested blocks follow yaml.v3's foot/head rules: a comment at another
# column than the next key stays with the list or map above it, unless a blank line cuts it off.
_COMMENTED_YAML = {
    "head comment above a top-level flow mapping": "# top\n{a: 1, b: [x]}  # trailing\n# end\n",
    "comments around block items": "# head\na: 1 # line\n# between\nb:\n  # inner\n  - x # item\n# foot\n",
    "dedented after a nested list": "a: 1\nb:\n    on:\n      - 42\n# cmt\n    k: a\n    z: {}\n",
    "dedented after a nested list, blank before": "a: 1\nb:\n    on:\n      - 42\n\n  # cmt\n    k: a\n",
    "group split by a dedented line": "a: 1\nb:\n    on:\n      - 42\n        # x\n# y\n    k: a\n",
    "dedented after a nested map": "a: 1\nb:\n    on:\n        x: 42\n      # cmt\n    k: a\nq: 2\n",
    "after a nested map, blanks around": "a: 1\nb:\n    on:\n        x: 42\n\n# cmt\n\n    k: a\nq: 2\n",
    "after a nested map, blank after": "a: 1\nb:\n    on:\n        x: 42\n# cmt\n\n    k: a\nq: 2\n",
    "at a closing block's indent": "a:\n  b:\n    c:\n      - d\n\n    # cmt\n\n  e: 1\nf: 2\n",
    "end of document after nested blocks": "a:\n  b:\n    - 1\n      # cmt\n",
    "end of document, blank before": "a:\n  b:\n    - 1\n\n# cmt\n",
}


@pytest.mark.parametrize("name", list(_COMMENTED_YAML))
def test_comments_land_where_sops_puts_them(name: str, age_id, real_sops, ours, isolated_env: Path) -> None:
    plain = isolated_env / "c.yaml"
    plain.write_text(_COMMENTED_YAML[name])
    shown = []
    for writer in (ours, real_sops):
        enc = writer("encrypt", "--age", age_id.recipient, str(plain))
        assert enc.returncode == 0, enc.err
        path = isolated_env / "c.enc.yaml"
        path.write_bytes(enc.stdout)
        out = real_sops("decrypt", str(path))
        assert out.returncode == 0, out.err
        shown.append(out.stdout)
    assert shown[0] == shown[1]
    assert b"# " in shown[0] and b"ENC[" not in shown[0]  # every comment decrypted


def test_multiline_value_above_an_indented_comment_round_trips(age_id, ours, isolated_env: Path) -> None:
    # Written back as a `|` block, the value would take in the comment below it.
    plain = isolated_env / "m.yaml"
    plain.write_text('k: 1\nx: "a\\nb"\n    # note\n')
    enc = ours("encrypt", "--age", age_id.recipient, str(plain))
    assert enc.returncode == 0, enc.err
    path = isolated_env / "m.enc.yaml"
    path.write_bytes(enc.stdout)
    out = ours("decrypt", str(path))
    assert out.returncode == 0, out.err
    assert yaml.safe_load(out.stdout) == {"k": 1, "x": "a\nb"}
    assert b"# note" in out.stdout
