"""The SealedSecret model: what seal copies, what unseal builds, template data, edits, re-encryption."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secrets_kit.errors import DecryptionError, InputError
from secrets_kit.sealed.crypto import Keyring
from secrets_kit.sealed.model import (
    SealOptions,
    merge_into,
    open_for_reencrypt,
    remove_items,
    reseal_opened,
    seal_secret,
    set_items,
    unseal,
)
from secrets_kit.sealed.scopes import Scope, scope_of, with_scope
from secrets_kit.sealed.template import render

from .helpers import secret


@pytest.fixture(scope="module")
def ring(pair):
    return Keyring([pair.private_key()])


def test_seal_strips_server_fields_and_last_applied(pair):
    src = secret(string_data={"a": "b"}, annotations={
        "kubectl.kubernetes.io/last-applied-configuration": '{"stringData":{"a":"b"}}', "keep": "x"})
    src["metadata"].update({"uid": "u", "resourceVersion": "7", "generation": 3, "creationTimestamp": "2020-01-01",
                            "ownerReferences": [{"kind": "X"}], "managedFields": [{}], "finalizers": ["f"]})
    src["immutable"] = True
    sealed = seal_secret(src, pair.cert.public_key)
    tmeta = sealed["spec"]["template"]["metadata"]
    assert tmeta == {"name": "mysecret", "namespace": "myns", "annotations": {"keep": "x"}, "finalizers": ["f"]}
    assert sealed["spec"]["template"]["immutable"] is True
    assert list(sealed) == ["kind", "apiVersion", "metadata", "spec"]
    assert list(sealed["spec"]) == ["template", "encryptedData"]


def test_scope_annotations_rules():
    assert scope_of({"sealedsecrets.bitnami.com/cluster-wide": "true",
                     "sealedsecrets.bitnami.com/namespace-wide": "true"}) is Scope.CLUSTER_WIDE
    assert scope_of({"sealedsecrets.bitnami.com/cluster-wide": "True"}) is Scope.STRICT  # only "true" counts
    assert with_scope({"sealedsecrets.bitnami.com/cluster-wide": "true", "x": "y"}, Scope.NAMESPACE_WIDE) == {
        "x": "y", "sealedsecrets.bitnami.com/namespace-wide": "true"}
    with pytest.raises(InputError, match="unknown scope"):
        Scope.parse("global")


def test_label_comes_from_top_level_metadata_not_template(pair, ring):
    sealed = seal_secret(secret(string_data={"a": "b"}), pair.cert.public_key)
    sealed["spec"]["template"]["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    assert unseal(sealed, ring).secret["data"] == {"a": "Yg=="}
    sealed["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    with pytest.raises(DecryptionError):
        unseal(sealed, ring)


def test_item_names_are_not_bound(pair, ring):
    sealed = seal_secret(secret(string_data={"a": "b"}), pair.cert.public_key)
    sealed["spec"]["encryptedData"] = {"renamed": sealed["spec"]["encryptedData"]["a"]}
    assert unseal(sealed, ring).secret["data"] == {"renamed": "Yg=="}


def test_template_data_renders_over_items(pair, ring):
    sealed = seal_secret(secret(string_data={"user": "admin", "pass": "p@ss"}), pair.cert.public_key)
    sealed["spec"]["template"]["data"] = {
        "url": "postgres://{{ .user }}:{{ .pass | urlquery }}@db/x",
        "user": "{{ .user | upper }}",  # a template key overrides the item of the same name
        "auth": '{{ printf "%s:%s" .user .pass | b64enc }}',
    }
    data = {k: base64.b64decode(v).decode() for k, v in unseal(sealed, ring).secret["data"].items()}
    assert data == {"url": "postgres://admin:p%40ss@db/x", "user": "ADMIN", "pass": "p@ss",
                    "auth": base64.b64encode(b"admin:p@ss").decode()}


def test_owner_reference_and_skip_annotation(pair, ring):
    sealed = seal_secret(secret(string_data={"a": "b"}), pair.cert.public_key)
    sealed["metadata"]["uid"] = "1234"
    refs = unseal(sealed, ring, owner_reference=True).secret["metadata"]["ownerReferences"]
    assert refs == [{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "mysecret",
                     "uid": "1234", "controller": True}]
    sealed["spec"]["template"]["metadata"]["annotations"] = {
        "sealedsecrets.bitnami.com/skip-set-owner-references": "true"}
    assert "ownerReferences" not in unseal(sealed, ring, owner_reference=True).secret["metadata"]
    assert "ownerReferences" not in unseal(sealed, ring).secret["metadata"]


def test_set_remove_merge_keep_other_ciphertexts(pair, ring):
    sealed = seal_secret(secret(string_data={"a": "1", "b": "2"}), pair.cert.public_key)
    before = dict(sealed["spec"]["encryptedData"])
    edited = set_items(sealed, {"b": b"22", "c": b"3"}, pair.cert.public_key)
    assert edited["spec"]["encryptedData"]["a"] == before["a"] and edited["spec"]["encryptedData"]["b"] != before["b"]
    edited = remove_items(edited, ["a"])
    assert unseal(edited, ring).secret["data"] == {"b": "MjI=", "c": "Mw=="}
    assert sealed["spec"]["encryptedData"] == before  # the input is not modified
    update = seal_secret(secret(string_data={"z": "9"}, labels={"l": "v"}), pair.cert.public_key)
    merged = merge_into({**sealed, "spec": {**sealed["spec"], "template": {}}}, update)  # no template metadata
    assert merged["spec"]["template"]["metadata"]["labels"] == {"l": "v"}
    assert set(merged["spec"]["encryptedData"]) == {"a", "b", "z"}


def test_reencrypt_moves_items_to_the_new_key(pair, other_pair, ring):
    sealed = seal_secret(secret(string_data={"a": "1"}), other_pair.cert.public_key)
    both = Keyring([other_pair.private_key(), pair.private_key()])
    result = reseal_opened(open_for_reencrypt(sealed, both), pair.cert.public_key, pair.cert.fingerprint)
    assert result.changed == ["a"] and result.current == []
    assert unseal(result.sealed, ring).secret["data"] == {"a": "MQ=="}
    again = reseal_opened(open_for_reencrypt(result.sealed, both), pair.cert.public_key, pair.cert.fingerprint)
    assert again.changed == [] and again.sealed == result.sealed


@settings(max_examples=40, deadline=None)
@given(name=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
       namespace=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
       items=st.dictionaries(st.from_regex(r"[-._a-zA-Z0-9]{1,20}", fullmatch=True), st.binary(max_size=200),
                             min_size=1, max_size=4),
       scope=st.sampled_from(list(Scope)))
def test_property_seal_unseal_round_trip(pair, ring, name, namespace, items, scope):
    src = secret(name, namespace, data={k: base64.b64encode(v).decode() for k, v in items.items()})
    sealed = seal_secret(src, pair.cert.public_key, SealOptions(scope=scope))
    out = unseal(sealed, ring).secret
    assert {k: base64.b64decode(v) for k, v in out["data"].items()} == items
    assert out["metadata"]["name"] == name


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ .a }}-{{ .b }}", "1-2"),
    ("{{ index . \"a\" }}{{ index . \"missing\" }}|", "1|"),
    ("{{ .missing }}", "<no value>"),
    ("{{ if eq .a \"1\" }}one{{ else }}other{{ end }}", "one"),
    ("{{- if .missing }}x{{ else if .b }}b={{ .b }}{{ end -}}", "b=2"),
    ("{{ with .b }}[{{ . }}]{{ end }}", "[2]"),
    ("{{ .a | quote }} {{ \"x\" | squote }}", "\"1\" 'x'"),
    ("{{ default \"d\" .missing }}/{{ default \"d\" .a }}", "d/1"),
    ("{{ printf \"%05d|%-3s|%q\" 42 .a .b }}", "00042|1  |\"2\""),
    ("{{ .a | b64enc | b64dec }}", "1"),
    ("{{ \"a,b\" | splitList \",\" | join \"+\" }}", "a+b"),
    ("{{ .b | sha256sum | trunc 8 }}", "d4735e3a"),
    ("{{ toJson . }}", '{"a":"1","b":"2"}'),
    ("{{/* comment */}}x", "x"),
])
def test_template_subset(source, expected):
    assert render("k", source, {"a": "1", "b": "2"}) == expected


@pytest.mark.parametrize(("source", "message"), [
    ("{{ .a", "unclosed action"),
    ("{{ nope .a }}", 'function "nope" not defined'),
    ("{{ define \"x\" }}{{ end }}", "not supported"),
    ("{{ template \"x\" }}", "not supported"),
    ("{{ env \"HOME\" }}", 'function "env" not defined'),  # upstream removes env too
    ("{{ if .a }}", "missing {{end}}"),
    ("{{ $y }}", 'undefined variable "$y"'),
    ("{{ break }}", "{{break}} outside {{range}}"),
])
def test_template_errors_name_the_key(source, message):
    with pytest.raises(InputError) as err:
        render("conn", source, {"a": "1"})
    assert message in str(err.value) and "conn" in str(err.value)
