"""ExternalSecret parsing: v1 and v1beta1, ESO's defaults, Go durations, the webhook's rules."""

from __future__ import annotations

import pytest

from secrets_kit.errors import ConfigError
from secrets_kit.externalsecrets.spec import format_go_duration, parse_external_secret, parse_go_duration

from .helpers import ORACLE, es_manifest


@pytest.mark.parametrize("case", ORACLE["durations"], ids=lambda c: repr(c["text"]))
def test_go_durations(case: dict) -> None:
    if case["error"]:
        with pytest.raises(ValueError):
            parse_go_duration(case["text"])
    else:
        assert parse_go_duration(case["text"]) == case["nanos"]
        assert format_go_duration(case["nanos"]) == case["string"]


@pytest.mark.parametrize("api_version", ["external-secrets.io/v1", "external-secrets.io/v1beta1"])
def test_defaults(api_version: str) -> None:
    es = parse_external_secret(es_manifest(api_version=api_version))
    assert es.api_version == api_version
    assert es.refresh_interval_ns == 3600 * 10**9 and es.refresh_policy == ""
    assert es.target.name == "my-es" and es.target.creation_policy == "Owner"
    assert es.target.deletion_policy == "Retain" and es.target.immutable is False and es.target.template is None
    ref = es.data[0].remote_ref
    assert (ref.key, ref.property, ref.conversion_strategy, ref.decoding_strategy, ref.metadata_policy) == \
        ("db", "pw", "Default", "None", "None")
    assert es.store_ref is not None and es.store_ref.kind == "SecretStore"


def test_full_spec() -> None:
    spec = {
        "refreshInterval": "0", "refreshPolicy": "OnChange",
        "secretStoreRef": {"name": "css", "kind": "ClusterSecretStore"},
        "target": {"name": "out", "creationPolicy": "Merge", "deletionPolicy": "Merge", "immutable": True,
                   "template": {"type": "kubernetes.io/tls", "data": {"a": "{{ .b }}"},
                                "templateFrom": [{"configMap": {"name": "cm", "items": [{"key": "k"}]}}]}},
        "dataFrom": [{"extract": {"key": "x", "decodingStrategy": "Auto"}},
                     {"find": {"path": "p", "name": {"regexp": "^a"}, "conversionStrategy": "Unicode"},
                      "rewrite": [{"regexp": {"source": "a", "target": "b"}}, {"transform": {"template": "t"}}],
                      "sourceRef": {"storeRef": {"name": "other"}}}],
    }
    es = parse_external_secret(es_manifest(spec=spec))
    assert es.refresh_interval_ns == 0 and es.refresh_policy == "OnChange"
    assert es.target.template is not None
    assert es.target.template["engineVersion"] == "v2" and es.target.template["mergePolicy"] == "Replace"
    assert es.target.template["templateFrom"][0]["target"] == "Data"
    assert es.target.template["templateFrom"][0]["configMap"]["items"][0]["templateAs"] == "Values"
    assert es.data_from[0].extract is not None and es.data_from[0].extract.decoding_strategy == "Auto"
    find = es.data_from[1].find
    assert find is not None and find.path == "p" and find.name_regexp == "^a" and find.conversion_strategy == "Unicode"
    assert [r.regexp_source for r in es.data_from[1].rewrite] == ["a", None]
    assert es.data_from[1].store_ref is not None and es.data_from[1].store_ref.name == "other"


@pytest.mark.parametrize("spec_patch, where, message", [
    ({"refreshInterval": "1d"}, "spec.refreshInterval", "unknown unit"),
    ({"target": {"creationPolicy": "Sometimes"}}, "spec.target.creationPolicy", "must be one of"),
    ({"refreshPolicy": "Never"}, "spec.refreshPolicy", "must be one of"),
    ({"data": [{"secretKey": "a/b", "remoteRef": {"key": "k"}}]}, "spec.data[0].secretKey", "must match"),
    ({"data": [{"secretKey": "a", "remoteRef": {}}]}, "spec.data[0].remoteRef.key", "is required"),
    ({"data": [{"secretKey": "a", "remoteRef": {"key": "k", "decodingStrategy": "hex"}}]},
     "spec.data[0].remoteRef.decodingStrategy", "must be one of"),
    ({"data": [], "dataFrom": []}, "spec", "either data or dataFrom should be specified"),
    ({"dataFrom": [{"extract": {"key": "a"}, "find": {"path": "b"}}]}, "spec.dataFrom[0]",
     "cannot be set at the same time"),
    ({"dataFrom": [{}]}, "spec.dataFrom[0]", "either extract, find, or sourceRef must be set"),
    ({"dataFrom": [{"extract": {"key": "a"}, "sourceRef": {}}]}, "spec.dataFrom[0].sourceRef",
     "generatorRef or storeRef must be set"),
    ({"target": {"deletionPolicy": "Delete", "creationPolicy": "Merge"}}, "spec.target.deletionPolicy",
     "Please set creationPolicy=Owner"),
    ({"target": {"deletionPolicy": "Delete", "creationPolicy": "None"}}, "spec.target.deletionPolicy",
     "Please set creationPolicy=Owner"),
    ({"target": {"deletionPolicy": "Merge", "creationPolicy": "None"}}, "spec.target.deletionPolicy",
     "There is no Secret to merge with"),
    ({"data": [{"secretKey": "a", "remoteRef": {"key": "k"}}, {"secretKey": "a", "remoteRef": {"key": "j"}}]},
     "spec.data[1].secretKey", "duplicate secretKey found: a"),
])
def test_errors(spec_patch: dict, where: str, message: str) -> None:
    obj = es_manifest(namespace="team", name="bad")
    obj["spec"].update(spec_patch)
    with pytest.raises(ConfigError) as err:
        parse_external_secret(obj)
    assert err.value.where == f"ExternalSecret team/bad: {where}"
    assert message in err.value.message


def test_webhook_rules_are_optional() -> None:
    obj = es_manifest()
    obj["spec"]["target"] = {"deletionPolicy": "Delete", "creationPolicy": "Merge"}
    es = parse_external_secret(obj, webhook_checks=False)
    assert es.target.deletion_policy == "Delete"


def test_duplicate_keys_allowed_unless_retain() -> None:
    obj = es_manifest()
    obj["spec"]["target"] = {"deletionPolicy": "Merge"}
    obj["spec"]["data"] = [{"secretKey": "a", "remoteRef": {"key": "k"}}, {"secretKey": "a", "remoteRef": {"key": "j"}}]
    assert len(parse_external_secret(obj).data) == 2


def test_bad_api_version() -> None:
    obj = es_manifest(api_version="external-secrets.io/v1alpha1")
    with pytest.raises(ConfigError, match="apiVersion"):
        parse_external_secret(obj)
