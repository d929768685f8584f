"""ESO v0.16.2's template application (externalsecret_controller_template.go, templating/parser.go)."""

from __future__ import annotations

import base64
import json

import pytest

from secrets_kit.externalsecrets.managed_fields import managed_keys
from secrets_kit.externalsecrets.template import (
    TemplateApplyError,
    render,
    render_rewrite,
    template_sources,
)

DATA = {"user": b"admin", "pass": b"hunter2-plaintext", "with-dash": b"d"}


def _existing(data: dict[str, bytes], labels: dict[str, str], annotations: dict[str, str],
              managed: dict | None = None) -> dict:
    fields = [{"manager": "externalsecrets.external-secrets.io/es", "operation": "Update",
               "fieldsV1": managed}] if managed else []
    return {"type": "kubernetes.io/tls", "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
            "metadata": {"labels": labels, "annotations": annotations, "managedFields": fields}}


def test_no_template_copies_data_and_the_es_metadata_over_foreign_metadata() -> None:
    existing = _existing({"old": b"x"}, {"foreign": "1", "mine": "stale"}, {"a": "1"},
                         {"f:metadata": {"f:labels": {".": {}, "f:mine": {}}}, "f:data": {"f:old": {}}})
    out = render(None, DATA, {}, es_name="es", es_labels={"team": "x"}, es_annotations={"note": "n"},
                 existing=existing)
    assert out.data == DATA
    assert out.labels == {"foreign": "1", "team": "x"}
    assert out.annotations == {"a": "1", "note": "n"}
    assert out.type == "kubernetes.io/tls"


def test_template_data_replaces_provider_data_unless_merge() -> None:
    template = {"data": {"dsn": "{{ .user }}:{{ .pass }}", "dash": '{{ index . "with-dash" }}'}}
    assert render(template, DATA, {}, es_name="es").data == {"dsn": b"admin:hunter2-plaintext", "dash": b"d"}
    merged = render({**template, "mergePolicy": "Merge"}, DATA, {}, es_name="es").data
    assert merged == {**DATA, "dsn": b"admin:hunter2-plaintext", "dash": b"d"}
    only_meta = render({"metadata": {"labels": {"x": "{{ .user }}"}}, "type": "Opaque"}, DATA, {}, es_name="es")
    assert only_meta.data == DATA and only_meta.labels == {"x": "admin"} and only_meta.type == "Opaque"


def test_creation_policy_merge_keeps_foreign_existing_keys_only() -> None:
    existing = _existing({"foreign": b"f", "mine": b"m"}, {}, {}, {"f:data": {"f:mine": {}}})
    out = render({"data": {"new": "{{ .user }}"}}, DATA, {}, es_name="es", existing=existing,
                 creation_policy="Merge")
    assert out.data == {"foreign": b"f", "new": b"admin"}
    out = render({"data": {"new": "{{ .user }}"}}, DATA, {}, es_name="es", existing=existing)
    assert out.data == {"new": b"admin"}
    decoded = {**existing, "data": {"foreign": b"f", "mine": b"m"}}
    out = render({"data": {"new": "{{ .user }}"}}, DATA, {}, es_name="es", existing=decoded, creation_policy="Merge")
    assert out.data == {"foreign": b"f", "new": b"admin"}


def test_precedence_data_over_template_from_and_targets() -> None:
    sources = {("ConfigMap", "cm"): {"tpl": b"{{ .user }}-cm", "kv": b"k1: {{ .user | quote }}\nk2: x"},
               ("Secret", "sec"): {"s": b"from-secret {{ .user }}"}}
    template = {"data": {"k1": "from-data"},
                "templateFrom": [
                    {"configMap": {"name": "cm", "items": [{"key": "tpl"}, {"key": "kv", "templateAs": "KeysAndValues"}]}},
                    {"secret": {"name": "sec", "items": [{"key": "s"}]}, "target": "Annotations"},
                    {"literal": "lit-{{ .user }}: v", "target": "Labels"}]}
    out = render(template, DATA, sources, es_name="es")
    assert out.data == {"tpl": b"admin-cm", "k1": b"from-data", "k2": b"x"}
    assert out.annotations == {"s": "from-secret admin"}
    assert out.labels == {"lit-admin": "v"}
    assert template_sources(template) == {("ConfigMap", "cm"), ("Secret", "sec")}


def test_template_from_missing_object_or_key() -> None:
    template = {"templateFrom": [{"configMap": {"name": "cm", "items": [{"key": "nope"}]}}]}
    with pytest.raises(TemplateApplyError, match='configmaps "cm" not found'):
        render(template, DATA, {}, es_name="es")
    with pytest.raises(TemplateApplyError, match="error in configmap cm: missing key nope"):
        render(template, DATA, {("ConfigMap", "cm"): {}}, es_name="es")


def test_missing_key_error_names_the_key_not_values() -> None:
    with pytest.raises(TemplateApplyError) as err:
        render({"data": {"dsn": "{{ .pass }}{{ .absent }}"}}, DATA, {}, es_name="es")
    message = str(err.value)
    assert 'map has no entry for key "absent"' in message and "at key dsn" in message
    assert "hunter2" not in message
    assert message.startswith("could not execute template: could not execute template: unable to execute")


def test_keys_and_values_rejects_non_string_values_without_quoting_them() -> None:
    with pytest.raises(TemplateApplyError) as err:
        render({"templateFrom": [{"literal": "a: {{ .pass }}\nb: [1]"}]}, DATA, {}, es_name="es")
    assert "cannot unmarshal array into Go value of type string" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_function_errors_carry_no_value() -> None:
    with pytest.raises(TemplateApplyError) as err:
        render({"data": {"k": "{{ .pass | pkcs12key }}"}}, DATA, {}, es_name="es")
    assert "pkcs12key" in str(err.value) and "hunter2" not in str(err.value)


def test_engine_version_and_unknown_function() -> None:
    with pytest.raises(TemplateApplyError, match="unsupported template engine version: v1"):
        render({"engineVersion": "v1", "data": {"a": "x"}}, DATA, {}, es_name="es")
    for name in ("env", "expandenv", "getHostByName", "certSANs", "rsaDecrypt", "hexdec"):
        with pytest.raises(TemplateApplyError, match=f'function "{name}" not defined'):
            render({"data": {"a": f"{{{{ {name} .user }}}}"}}, DATA, {}, es_name="es")


def test_rewrite_transform_sees_value_without_missingkey_error() -> None:
    assert render_rewrite("prefix-{{ .value | lower }}", "DB_PASS") == "prefix-db_pass"
    assert render_rewrite("{{ .value }}{{ .absent }}", "k") == "k<no value>"
    with pytest.raises(TemplateApplyError, match="unable to parse transform template"):
        render_rewrite("{{ .value", "k")


def test_custom_delimiters() -> None:
    out = render({"data": {"a": "<< .user >>{{ .user }}{", "b": "x <<- .user ->> y"}}, DATA, {}, es_name="es",
                 delimiters=("<<", ">>"))
    assert out.data == {"a": b"admin{{ .user }}{", "b": b"xadminy"}


def test_binary_values_survive() -> None:
    raw = bytes(range(256))
    out = render({"data": {"copy": "{{ .bin }}", "round": "{{ .bin | b64enc | b64dec }}"}}, {"bin": raw}, {},
                 es_name="es")
    assert out.data == {"copy": raw, "round": raw}


def test_binary_in_metadata_becomes_replacement_characters() -> None:
    out = render({"metadata": {"annotations": {"a": "{{ .bin }}"}}, "data": {"k": "x"}}, {"bin": b"ok\xff"}, {},
                 es_name="es")
    assert out.annotations == {"a": "ok\ufffd"}


def test_managed_keys_reads_only_this_es_manager() -> None:
    secret = {"metadata": {"managedFields": [
        {"manager": "externalsecrets.external-secrets.io/es", "fieldsV1": json.dumps(
            {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:annotations": {"f:x": {}}}})},
        {"manager": "kubectl", "fieldsV1": {"f:data": {"f:b": {}}}}]}}
    keys = managed_keys(secret, "es")
    assert (keys.data, keys.labels, keys.annotations) == ({"a"}, set(), {"x"})


def test_a_cached_template_renders_each_data_set() -> None:
    template = {"data": {"k": "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}{{ $x := .a }}{{ $x }}"}}
    first = render(template, {"a": b"1"}, {}, es_name="es").data
    second = render(template, {"a": b"2", "b": b"3"}, {}, es_name="es").data
    assert first == {"k": b"a=1;1"} and second == {"k": b"a=2;b=3;2"}
