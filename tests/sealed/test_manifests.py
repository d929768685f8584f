"""Manifest loading and dumping: multi-document YAML/JSON, clear errors, a YAML emitter any parser reads back."""

from __future__ import annotations

import json

import pytest
import yaml as pyyaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from secrets_kit.errors import InputError
from secrets_kit.k8s.manifests import dump_documents, dump_json, dump_yaml, expand_lists, load_documents
from secrets_kit.k8s.secrets import build_secret, secret_items


def test_multi_document_yaml_skips_empty_documents():
    docs = load_documents("---\na: 1\n---\n---\nb: x\n...\n")
    assert docs == [{"a": 1}, {"b": "x"}]


def test_concatenated_json_documents_as_kubeseal_prints_them():
    assert load_documents('{"a": 1}\n{"b": [1, 2]}\n') == [{"a": 1}, {"b": [1, 2]}]


def test_timestamps_stay_strings():
    assert load_documents("t: 2024-01-02T03:04:05Z\nd: 2024-01-02\n") == [
        {"t": "2024-01-02T03:04:05Z", "d": "2024-01-02"}]


@pytest.mark.parametrize(("text", "message"), [
    ("a: [1, 2\n", "malformed YAML at line"),
    ("a: b\n  c: d\n", "malformed YAML at line 2"),
    ("- 1\n- 2\n", "document 1 is a list"),
    ("just a string\n", "document 1 is a string"),
    (b"\xff\xfe\x00", "not UTF-8"),
    ("a: *nope\n", "undefined alias"),
])
def test_bad_input_names_the_source(text, message):
    with pytest.raises(InputError) as err:
        load_documents(text, source="dir/file.yaml")
    assert str(err.value).startswith("dir/file.yaml: ")
    assert message in str(err.value)


def test_duplicate_key_error_does_not_quote_values():
    with pytest.raises(InputError) as err:
        load_documents("password: hunter2-first\npassword: hunter2-second\n", source="f")
    assert "duplicate key" in str(err.value)
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize("text", [
    "stringData:\n  password: *hunter2-alias\n",  # an unquoted value that YAML reads as an alias
    "stringData:\n  password: !hunter2-tag value\n",  # ... or as a tag
    "stringData:\n  password: !hun'ter2 value\n",  # a quote inside the quoted text
])
def test_parser_problems_never_quote_source_text(text):
    with pytest.raises(InputError) as err:
        load_documents(text, source="f")
    assert "malformed YAML at line 2" in str(err.value)
    assert "hunter2" not in str(err.value) and "ter2" not in str(err.value)


def test_expand_lists():
    docs = load_documents("kind: List\nitems:\n- {kind: Secret}\n- {kind: Secret, x: 1}\n---\nkind: Other\n")
    assert [d.get("x") for d in expand_lists(docs)] == [None, 1, None]


def test_yaml_style_is_kubectls():
    out = dump_yaml({"kind": "X", "metadata": {"name": "n", "labels": {"b": "2", "a": "yes"}},
                     "list": [{"k": "v", "j": 1}, "s"], "empty": {}, "none": []})
    assert out == ("---\nempty: {}\nkind: X\nlist:\n- j: 1\n  k: v\n- s\nmetadata:\n  labels:\n"
                   '    a: "yes"\n    b: "2"\n  name: "n"\nnone: []\n')


def test_json_is_gos():
    assert dump_json({"b": "<&>", "a": 1}) == '{\n  "b": "\\u003c\\u0026\\u003e",\n  "a": 1\n}\n'
    assert json.loads(dump_json({"x": "\u2028"})) == {"x": "\u2028"}
    with pytest.raises(InputError, match="unsupported output format"):
        dump_documents([{}], "xml")


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**62, max_value=2**62),
                         st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)


@settings(max_examples=50, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_property_yaml_round_trips_through_three_parsers(doc):
    text = dump_yaml(doc)
    assert load_documents(text) == [doc]
    assert YAML(typ="safe", pure=True).load(text) == doc  # YAML 1.2
    assert pyyaml.safe_load(text) == doc  # YAML 1.1, like Go's yaml.v2


def test_secret_items_data_and_string_data():
    doc = {"kind": "Secret", "data": {"a": "aGk=", "b": "YQ==\n", "n": None}, "stringData": {"a": "over", "c": "ü"}}
    assert secret_items(doc, "w") == {"a": b"over", "b": b"a", "n": b"", "c": "ü".encode()}


@pytest.mark.parametrize(("doc", "message"), [
    ({"data": {"k": "not base64!"}}, "data.k is not valid base64"),
    ({"data": {"k": "YQ"}}, "data.k is not valid base64"),
    ({"data": {"k": 5}}, "data.k is not a base64 string"),
    ({"data": ["x"]}, "data is not a mapping"),
    ({"stringData": {"port": [5432]}}, "stringData.port is a list"),
    ({"stringData": {"on": {"a": 1}}}, "stringData.on is a mapping"),
])
def test_secret_items_errors_name_the_item(doc, message):
    with pytest.raises(InputError, match=message):
        secret_items(doc, "w")


def test_unquoted_scalars_in_string_data_become_text_like_kubeseal():
    doc = {"stringData": {"port": 5432, "on": True, "ratio": 1.5, "whole": 2.0, "none": None}}
    assert secret_items(doc, "w") == {"port": b"5432", "on": b"true", "ratio": b"1.5", "whole": b"2", "none": b""}


def test_build_secret_order():
    doc = build_secret(name="n", namespace="ns", items={"b": b"2", "a": b"1"}, meta={"labels": {"x": "y"}},
                       secret_type="Opaque", immutable=True)
    assert list(doc) == ["kind", "apiVersion", "metadata", "immutable", "data", "type"]
    assert list(doc["metadata"]) == ["name", "namespace", "labels"]
    assert list(doc["data"]) == ["a", "b"]


def test_clone_is_a_deep_copy_of_json_shaped_values():
    import copy

    from secrets_kit.k8s.manifests import clone

    shared = {"k": ["v", 1, 2.5, None, True]}
    value = {"a": shared, "b": [shared, {"c": "d"}], "e": "text", "n": 7}
    out = clone(value)
    assert out == value == copy.deepcopy(value)
    assert out["a"] is not value["a"] and out["a"]["k"] is not shared["k"]
    out["b"][0]["k"].append("changed")
    assert shared == {"k": ["v", 1, 2.5, None, True]}
