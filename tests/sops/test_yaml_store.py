"""The YAML store in-process: columns of anchored blocks, double-quoted escapes, error lines."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from secrets_kit.errors import InputError
from secrets_kit.sops.stores.yaml_store import YamlStore
from secrets_kit.sops.stores.yaml_store.scalars import double_quoted
from secrets_kit.sops.tree import Branch


def _reemit(text: str) -> str:
    """Load, change one value (so the emitter cannot splice an aliased file) and emit."""
    store = YamlStore()
    doc = store.load_plain(text.encode())
    doc.branches[0].append(("added", "v"))
    return store.emit(doc).decode()


def test_anchored_blocks_keep_the_files_indent() -> None:
    text = "base: &b\n  x: 1\nderived:\n  <<: *b\nlist: &l\n  - a\nagain: *l\n"
    out = _reemit(text)
    assert out.startswith("base:\n  x: 1\nderived:\n  !!merge <<:\n    x: 1\nlist:\n  - a\n")


def test_appended_key_goes_at_an_anchored_maps_key_column() -> None:
    store = YamlStore()
    doc = store.load_plain(b"top: &t\n  a: 1\n")
    inner = doc.branches[0][0][1]
    assert isinstance(inner, Branch)
    inner.append(("b", 2))
    assert store.emit(doc) == b"top: &t\n  a: 1\n  b: 2\n"


@pytest.mark.parametrize(("text", "quoted"), [
    ("bell\a", '"bell\\a"'), ("tab\t", '"tab\\t"'), ("nul\0", '"nul\\0"'), ("del\x7f", '"del\\x7F"'),
    ("c1\x80", '"c1\\x80"'), ("nel\x85", '"nel\\N"'), ("ls\u2028ps\u2029", '"ls\\Lps\\P"'),
    ("bom\ufeff", '"bom\\uFEFF"'), ('q"b\\', '"q\\"b\\\\"'), ("emoji \U0001F600", '"emoji \U0001F600"'),
])
def test_double_quoted_uses_yaml_v3_escapes(text: str, quoted: str) -> None:
    assert double_quoted(text) == quoted


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_double_quoted_reads_back(text: str) -> None:
    assert yaml.safe_load("k: " + double_quoted(text)) == {"k": text}


@pytest.mark.parametrize(("text", "where"), [
    ('a: 1\nb: "unclosed\nc: 3\n', "line 2: found unexpected end of stream"),
    ("a: 1\nb: 2\na: 3\n", 'line 3: mapping key "a" already defined at line 1'),
    ("a:\n\tb: 1\n", "line 2: found character that cannot start any token"),
])
def test_errors_name_the_line(text: str, where: str) -> None:
    with pytest.raises(InputError) as caught:
        YamlStore().load_plain(text.encode())
    assert str(caught.value) == f"Error unmarshaling input YAML: {where}"
