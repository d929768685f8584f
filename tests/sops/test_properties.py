"""Property tests: random documents survive encrypt -> decrypt in every format that can hold them.

Checked in-process through the core API (fast). Also: every encrypted file hides every
string value, re-encrypting an unchanged tree keeps every ciphertext (minimal diffs),
and the native emitter (used when the document's shape changes) round-trips too.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secrets_kit.sops.keysources.age import AgeKey
from secrets_kit.sops.ops import EncryptOptions, SopsFile, decrypt_bytes, encrypt_bytes
from secrets_kit.sops.stores import Document, store_for
from secrets_kit.sops.tree import Branch, to_plain

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=":"), min_size=1, max_size=12)
_scalars = st.one_of(
    _text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


def _values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(_keys, inner, max_size=4)), max_leaves=12)


_documents = st.dictionaries(_keys.filter(lambda k: k != "sops"), _values(_scalars), min_size=1, max_size=6)


def _normal(value: Any) -> Any:
    """Values as they come back: -0.0 compares equal to 0.0 and ints that are floats stay floats."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, float) and value == 0:
        return 0.0
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _opts(recipient: str) -> EncryptOptions:
    return EncryptOptions(key_groups=[[AgeKey(recipient)]])


def _from_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return Branch((k, _from_plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_from_plain(v) for v in value]
    return value


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@SETTINGS
@given(doc=_documents)
def test_nested_documents_round_trip(fmt: str, doc: dict[str, Any], age_id) -> None:
    store = store_for(fmt)
    plain = store.emit_plain(Document([_from_plain(doc)]))
    # What the plaintext file holds (a float 0.0 is written as `0`, as yaml.v3 does) ...
    expected = to_plain(store.load_plain(plain).branches[0])
    assert expected.keys() == doc.keys()
    encrypted = encrypt_bytes(plain, store, store, _opts(age_id.recipient))
    f = SopsFile.load(encrypted, store)
    f.decrypt()
    # ... is exactly what comes back out of the encrypted file.
    assert _same(to_plain(f.branches[0]), expected)
    again = store.load_plain(decrypt_bytes(encrypted, store))
    assert _same(to_plain(again.branches[0]), expected)
    # No value is left in clear (except under an `_unencrypted` key).
    stored, _ = store.load_encrypted(encrypted)
    for value in _leaves(to_plain(stored.branches[0]), clear=False):
        assert value is None or value == "" or (isinstance(value, str) and value.startswith("ENC[AES256_GCM,"))


def _leaves(value: Any, clear: bool) -> list[Any]:
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _leaves(v, clear or k.endswith("_unencrypted"))]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v, clear)]
    return [] if clear else [value]


_env_keys = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="=\n\r"), min_size=1,
                    max_size=10).filter(lambda k: not k.startswith(("#", "sops_")))
_env_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=20).filter(
    lambda v: "\\n" not in v)


@SETTINGS
@given(items=st.dictionaries(_env_keys, _env_values, min_size=1, max_size=8))
def test_dotenv_round_trip(items: dict[str, str], age_id) -> None:
    store = store_for("dotenv")
    plain = store.emit_plain(Document([Branch(items.items())]))
    encrypted = encrypt_bytes(plain, store, store, _opts(age_id.recipient))
    assert decrypt_bytes(encrypted, store) == plain


_ini_text = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="#;`\"'[]=:\\"),
                    min_size=1, max_size=12)


@SETTINGS
@given(sections=st.dictionaries(_ini_text.filter(lambda s: s.upper() not in ("DEFAULT", "SOPS")),
                                st.dictionaries(_ini_text, _ini_text, min_size=1, max_size=4),
                                min_size=1, max_size=3))
def test_ini_round_trip(sections: dict[str, dict[str, str]], age_id) -> None:
    store = store_for("ini")
    tree = Branch((name, Branch(values.items())) for name, values in sections.items())
    plain = store.emit_plain(Document([tree]))
    encrypted = encrypt_bytes(plain, store, store, _opts(age_id.recipient))
    assert decrypt_bytes(encrypted, store) == plain


@SETTINGS
@given(data=st.binary(max_size=300))
def test_binary_round_trip(data: bytes, age_id) -> None:
    store = store_for("binary")
    encrypted = encrypt_bytes(data, store, store, _opts(age_id.recipient))
    assert decrypt_bytes(encrypted, store) == data


@SETTINGS
@given(doc=_documents)
def test_reencrypting_unchanged_tree_keeps_ciphertexts(doc: dict[str, Any], age_id) -> None:
    store = store_for("yaml")
    plain = store.emit_plain(Document([_from_plain(doc)]))
    encrypted = encrypt_bytes(plain, store, store, _opts(age_id.recipient))
    f = SopsFile.load(encrypted, store)
    f.decrypt()
    f.reencrypt()
    again = f.emit_encrypted()
    before = [line for line in encrypted.decode().splitlines() if "lastmodified" not in line and "mac:" not in line]
    after = [line for line in again.decode().splitlines() if "lastmodified" not in line and "mac:" not in line]
    assert before == after
