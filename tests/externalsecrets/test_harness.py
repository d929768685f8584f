"""The differential harness's own logic, without peers: hashing per reference §10, batching,
namespace normalisation and the comparison itself (each check must be able to fail)."""

from __future__ import annotations

import base64
from typing import Any

from tests.externalsecrets import deliberate
from tests.externalsecrets.case import Case
from tests.externalsecrets.harness import (
    Observed,
    batches,
    case_objects,
    compare,
    created_by,
    go_data_hash,
    go_meta_hash,
    invariant_problems,
    plaintext_hits,
    remote_plaintexts,
    side_class,
)

CASE = Case(id="c1", store={"fake": {"data": [{"key": "k", "value": "v"}]}},
            external_secret={"data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]})


def test_data_hash_is_go_percent_v_of_the_map() -> None:
    # reference §10: map[foo_bar:[72 69 76 76 79 49] john:[100 111 101]]
    assert go_data_hash({"john": b"doe", "foo_bar": b"HELLO1"}) == (
        "76ec537c302b8b9da5139218ab4a2f796988c5e1883d8bdd86336fde")
    assert go_data_hash({}) == "74a974446e359fb3e6baff9bd0058950e6edd0f040888d9989b0a11b"  # map[]
    assert go_data_hash({"a": b"1"}) != go_data_hash({"a": b"2"})


def test_created_by_depends_on_namespace_and_name() -> None:
    assert created_by("a", "b") != created_by("b", "a")
    assert len(created_by("ns", "es")) == 56


def _side(ns: str, *, labels: dict[str, str] | None = None, data: dict[str, bytes] | None = None,
          es_labels: dict[str, str] | None = None) -> Observed:
    data = {"k": b"v"} if data is None else data
    es_meta: dict[str, Any] = {"name": "c1", "namespace": ns, "generation": 1, "labels": es_labels or {}}
    es = {"metadata": es_meta, "status": {
        "refreshTime": "2026-01-01T00:00:00Z",
        "syncedResourceVersion": f"1-{go_meta_hash(es_meta['labels'], None)}",
        "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced"}]}}
    secret = {"type": "Opaque", "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
              "metadata": {"name": "c1", "namespace": ns, "resourceVersion": "7",
                           "labels": {"reconcile.external-secrets.io/managed": "true",
                                      "reconcile.external-secrets.io/created-by": created_by(ns, "c1"),
                                      **(labels or {})},
                           "annotations": {"reconcile.external-secrets.io/data-hash": go_data_hash(data)},
                           "ownerReferences": [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                                "name": "c1", "uid": ns, "controller": True,
                                                "blockOwnerDeletion": True}]}}
    return Observed("x", ns, es, secret, True)


def test_same_result_in_two_namespaces_compares_equal() -> None:
    # created-by and ownerReference uid differ by namespace; nothing else does
    assert compare(CASE, _side("ns-eso"), _side("ns-ours")) == []


def test_a_differing_label_value_or_data_is_reported() -> None:
    fields = {d.field for d in compare(CASE, _side("esdiff-ab12-1-eso", labels={"x": "1"}), _side("esdiff-ab12-1-ours", labels={"x": "2"}))}
    assert fields == {"secret.labels.x"}
    fields = {d.field for d in compare(CASE, _side("esdiff-ab12-1-eso"), _side("esdiff-ab12-1-ours", data={"k": b"w"}))}
    assert fields == {"secret.data.k"}  # data-hash: each is its own data's hash, so only the data differs


def test_a_wrong_created_by_is_reported() -> None:
    bad = _side("esdiff-ab12-1-ours")
    assert bad.secret is not None
    bad.secret["metadata"]["labels"]["reconcile.external-secrets.io/created-by"] = created_by("esdiff-ab12-1-eso", "c1")
    assert [d.field for d in compare(CASE, _side("esdiff-ab12-1-eso"), bad)] == ["secret.labels.reconcile.external-secrets.io/created-by"]
    assert any("created-by" in p for p in invariant_problems(CASE, bad))
    assert invariant_problems(CASE, _side("esdiff-ab12-1-eso")) == []


def test_a_wrong_data_hash_fails_the_invariants() -> None:
    bad = _side("esdiff-ab12-1-eso")
    assert bad.secret is not None
    bad.secret["metadata"]["annotations"]["reconcile.external-secrets.io/data-hash"] = go_data_hash({"k": b"w"})
    assert any("data-hash" in p for p in invariant_problems(CASE, bad))


def test_deliberate_differences_are_marked_not_hidden() -> None:
    deliberate.DELIBERATE[("c1", "secret.labels.x")] = "test reason"
    try:
        (diff,) = compare(CASE, _side("esdiff-ab12-1-eso", labels={"x": "1"}), _side("esdiff-ab12-1-ours", labels={"x": "2"}))
        assert diff.deliberate == "test reason"
        assert "test reason" in deliberate.markdown_table()
    finally:
        del deliberate.DELIBERATE[("c1", "secret.labels.x")]


def test_colliding_cases_go_to_different_batches() -> None:
    same_target = [Case(id=f"c{i}", store={}, external_secret={"target": {"name": "shared"}}) for i in range(3)]
    assert [len(b) for b in batches(same_target)] == [1, 1, 1]
    distinct = [Case(id=f"d{i}", store={}, external_secret={}) for i in range(5)]
    assert [len(b) for b in batches(distinct)] == [5]


def test_store_refs_and_placeholders_are_filled_per_namespace() -> None:
    case = Case(id="p", store={"vault": {"server": "{{VAULT_ADDR}}"}},
                external_secret={"secretStoreRef": {"name": "store"}, "target": {"template": {
                    "data": {"ns": "{{NAMESPACE}}", "go": "{{ .k }}"}}}})
    objs = case_objects(case, "nsx", "eso", {"{{VAULT_ADDR}}": "http://127.0.0.1:1"})
    store, es = objs[-2], objs[-1]
    assert store["spec"]["provider"]["vault"]["server"] == "http://127.0.0.1:1"
    assert es["spec"]["secretStoreRef"] == {"name": store["metadata"]["name"], "kind": "SecretStore"}
    assert es["spec"]["target"]["template"]["data"] == {"ns": "nsx", "go": "{{ .k }}"}


def test_plaintext_grep_finds_a_leaked_value_and_never_prints_it() -> None:
    cases = [
        Case(id="f", store={"fake": {"data": [{"key": "db-pass", "value": "hunter22"},
                                              {"key": "json", "value": '{"inner": "deep-secret"}'},
                                              {"key": "short", "value": "abc"},
                                              {"key": "hunter22-name", "value": "db-pass"}]}},
             external_secret={"target": {"name": "visible-name"}}),
        Case(id="v", store={"vault": {}}, remote={"secret/app": {"token": "vault-remote-1", "n": 5}},
             external_secret={}),
    ]
    values = remote_plaintexts(cases)
    assert {"hunter22", "deep-secret", "vault-remote-1"} <= set(values)
    assert "abc" not in values and "db-pass" not in values  # too short / also a key name
    clean = {"log": "reconciled db-pass into visible-name", "metrics": "es_sync 1"}
    assert plaintext_hits(values, clean) == []
    leaked = {**clean, "events": 'message: "value was deep-secret"', "status": "vault-remote-1 hunter22"}
    hits = plaintext_hits(values, leaked)
    assert len(hits) == 3 and {h.split(":")[0] for h in hits} == {"events", "status"}
    assert not any(v in h for h in hits for v in values), hits  # the report names cases, not values


def test_each_side_gets_its_own_cluster_store() -> None:
    case = Case(id="css", store={"fake": {"data": []}}, external_secret={"data": []},
                tags=frozenset({"cluster-store"}))
    stores = {}
    for side in ("eso", "ours"):
        objs = case_objects(case, f"ns-{side}", side, {})
        store = next(o for o in objs if o["kind"] == "ClusterSecretStore")
        es = next(o for o in objs if o["kind"] == "ExternalSecret")
        assert es["spec"]["secretStoreRef"] == {"name": store["metadata"]["name"], "kind": "ClusterSecretStore"}
        assert store["spec"]["controller"] == side_class(side)
        assert store["spec"]["conditions"] == [{"namespaces": [f"ns-{side}"]}]
        stores[side] = store["metadata"]["name"]
    assert stores["eso"] != stores["ours"]
    custom = Case(id="css2", store={"fake": {"data": []}}, external_secret={}, tags=frozenset({"cluster-store"}),
                  store_spec={"conditions": [{"namespaceRegexes": ["^{{NAMESPACE}}-x$"]}]})
    store = next(o for o in case_objects(custom, "n1", "eso", {}) if o["kind"] == "ClusterSecretStore")
    assert store["spec"]["conditions"] == [{"namespaceRegexes": ["^n1-x$"]}]


def test_aws_remote_values_are_plaintexts_but_names_ids_and_tags_are_not() -> None:
    case = Case(id="a", store={"aws": {"service": "SecretsManager"}}, external_secret={},
                remote={"secretsmanager:corpus/a/db": {"versions": [{"value": "first-value", "id": "uuid-id-0001"},
                                                                    {"value": '{"pw": "inner-secret"}'}],
                                                       "tags": {"team-tag": "blue-team"}},
                        "ssm:/corpus/a/param": {"versions": ["param-value-1"]}},
                tags=frozenset({"aws"}))
    values = remote_plaintexts([case])
    assert {"first-value", "inner-secret", "param-value-1"} <= set(values)
    assert not {"uuid-id-0001", "blue-team", "team-tag", "corpus/a/db", "/corpus/a/param"} & set(values)
