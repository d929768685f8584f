"""needs_refresh() and plan(): ESO v0.16.2's Reconcile, shouldRefresh, isSecretValid and mutation function."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from secrets_kit.externalsecrets import reconcile as rc
from secrets_kit.externalsecrets.fetch import Fetched, FetchError
from secrets_kit.externalsecrets.hashing import created_by, object_hash, synced_resource_version
from secrets_kit.externalsecrets.status import Event, format_time

from .helpers import NOW, SECRET_VALUE, b64, es_manifest, render

HOUR = dt.timedelta(hours=1)


def synced_es(spec: dict[str, Any] | None = None, *, refreshed: dt.datetime = NOW - dt.timedelta(minutes=10),
              **kw: Any) -> dict[str, Any]:
    obj = es_manifest(spec=spec, **kw)
    obj["status"] = {"refreshTime": format_time(refreshed),
                     "syncedResourceVersion": synced_resource_version(obj["metadata"]),
                     "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced",
                                     "message": "secret synced", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                     "binding": {"name": "my-es"}}
    return obj


def managed_secret(data: dict[str, bytes], *, name: str = "my-es", labels: dict[str, str] | None = None,
                   annotations: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": "s-uid", "resourceVersion": "42",
                            "labels": {rc.LABEL_MANAGED: "true", **(labels or {})},
                            "annotations": {rc.ANNOTATION_DATA_HASH: object_hash(data), **(annotations or {})}}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": {k: b64(v) for k, v in data.items()}, **extra}


# ----------------------------------------------------------------------------- needs_refresh


def test_never_synced_is_due() -> None:
    r = rc.needs_refresh(es_manifest(), None, NOW)
    assert r.due and r.next_at is None


def test_valid_and_recent_not_due() -> None:
    es = synced_es()
    r = rc.needs_refresh(es, managed_secret({"password": b"x"}), NOW)
    assert not r.due and r.next_at == NOW - dt.timedelta(minutes=10) + HOUR


def test_interval_elapsed_is_due() -> None:
    es = synced_es(refreshed=NOW - 2 * HOUR)
    assert rc.needs_refresh(es, managed_secret({}), NOW).due


def test_refresh_time_in_future_is_due() -> None:
    assert rc.needs_refresh(synced_es(refreshed=NOW + HOUR), managed_secret({}), NOW).due


@pytest.mark.parametrize("secret, due", [
    (None, True),
    ("no-label", True),
    ("bad-hash", True),
    ("valid", False),
])
def test_secret_validity(secret: str | None, due: bool) -> None:
    s: dict[str, Any] | None = None
    if secret is not None:
        s = managed_secret({"a": b"1"})
        if secret == "no-label":
            del s["metadata"]["labels"][rc.LABEL_MANAGED]
        if secret == "bad-hash":
            s["data"]["a"] = b64("2")
    assert rc.needs_refresh(synced_es(), s, NOW).due is due


def test_interval_zero_syncs_once_even_after_change() -> None:
    spec = {"refreshInterval": "0", "secretStoreRef": {"name": "s"},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    es = synced_es(spec, refreshed=NOW - 48 * HOUR)
    es["metadata"]["labels"] = {"changed": "yes"}  # syncedResourceVersion no longer matches
    r = rc.needs_refresh(es, managed_secret({}), NOW)
    assert not r.due and r.next_at is None
    assert rc.needs_refresh(es, None, NOW).due  # ... but a missing Secret is recreated


def test_metadata_change_is_due() -> None:
    es = synced_es()
    es["metadata"]["annotations"] = {"force-sync": "1"}
    assert rc.needs_refresh(es, managed_secret({}), NOW).due


def test_created_once() -> None:
    spec = {"refreshPolicy": "CreatedOnce", "secretStoreRef": {"name": "s"},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    es = synced_es(spec, refreshed=NOW - 48 * HOUR)
    es["metadata"]["generation"] = 5
    assert not rc.needs_refresh(es, managed_secret({}), NOW).due
    assert rc.needs_refresh(es, None, NOW).due


def test_on_change() -> None:
    spec = {"refreshPolicy": "OnChange", "secretStoreRef": {"name": "s"},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    es = synced_es(spec, refreshed=NOW - 48 * HOUR)
    assert not rc.needs_refresh(es, managed_secret({}), NOW).due
    es["metadata"]["generation"] = 2
    assert rc.needs_refresh(es, managed_secret({}), NOW).due


def test_deleting_is_skipped() -> None:
    es = es_manifest()
    es["metadata"]["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    assert not rc.needs_refresh(es, None, NOW).due


# ----------------------------------------------------------------------------- plan


def fetched(**data: bytes) -> Fetched:
    return Fetched(data=dict(data))


def test_create_owner() -> None:
    es = es_manifest(labels={"team": "a"}, annotations={"note": "n"})
    p = rc.plan(es, None, fetched(password=b"pw"), {}, NOW)
    assert p.secret_action == "create" and p.secret is not None
    meta = p.secret["metadata"]
    assert meta["name"] == "my-es" and meta["namespace"] == "default"
    assert meta["labels"] == {"team": "a", rc.LABEL_MANAGED: "true", rc.LABEL_OWNER: created_by("default", "my-es")}
    assert meta["annotations"] == {"note": "n", rc.ANNOTATION_DATA_HASH: object_hash({"password": b"pw"})}
    assert meta["ownerReferences"] == [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                        "name": "my-es", "uid": "uid-1", "controller": True,
                                        "blockOwnerDeletion": True}]
    assert p.secret["data"] == {"password": b64("pw")} and "type" not in p.secret
    assert p.status["conditions"] == [{"type": "Ready", "status": "True", "reason": "SecretSynced",
                                       "message": "secret synced", "lastTransitionTime": format_time(NOW)}]
    assert p.status["refreshTime"] == format_time(NOW)
    assert p.status["syncedResourceVersion"] == synced_resource_version(es["metadata"])
    assert p.status["binding"] == {"name": "my-es"}
    assert p.events == [Event("Normal", "Created", "secret created")]
    assert p.requeue_after == 3600 and not p.retry and p.ready and p.status_changed
    assert p.cleanup_orphans == {"namespace": "default", "labels": {rc.LABEL_OWNER: created_by("default", "my-es")},
                                 "keep": "my-es"}


def test_unchanged_secret_is_not_written() -> None:
    es = es_manifest()
    first = rc.plan(es, None, fetched(password=b"pw"), {}, NOW)
    existing = json.loads(json.dumps(first.secret))
    existing["metadata"].update(uid="s-uid", resourceVersion="7")
    existing["type"] = "Opaque"
    es["status"] = first.status
    again = rc.plan(es, existing, fetched(password=b"pw"), {}, NOW)
    assert again.secret_action is None and again.events == [] and not again.status_changed
    later = rc.plan(es, existing, fetched(password=b"pw"), {}, NOW + HOUR)
    assert later.secret_action is None and later.status_changed  # ESO rewrites refreshTime on every refresh
    assert later.status["conditions"][0]["lastTransitionTime"] == format_time(NOW)


def test_update_changed_data() -> None:
    es = synced_es()
    existing = managed_secret({"password": b"old", "stale": b"x"})
    p = rc.plan(es, existing, fetched(password=b"new"), {}, NOW)
    assert p.secret_action == "update" and p.secret is not None
    assert p.secret["metadata"]["resourceVersion"] == "42" and p.secret["data"] == {"password": b64("new")}
    assert p.secret["metadata"]["annotations"][rc.ANNOTATION_DATA_HASH] == object_hash({"password": b"new"})
    assert p.events == [Event("Normal", "Updated", "secret updated")]


def test_orphan_has_no_owner_and_drops_ours() -> None:
    spec = {"secretStoreRef": {"name": "s"}, "target": {"creationPolicy": "Orphan"},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    p = rc.plan(es_manifest(spec=spec), None, fetched(a=b"1"), {}, NOW)
    assert p.secret is not None and "ownerReferences" not in p.secret["metadata"]
    assert rc.LABEL_OWNER not in p.secret["metadata"]["labels"] and p.cleanup_orphans is None
    owned = managed_secret({"a": b"1"}, labels={rc.LABEL_OWNER: "h"})
    owned["metadata"]["ownerReferences"] = [{"apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
                                             "name": "my-es", "uid": "uid-1", "controller": True}]
    p = rc.plan(es_manifest(spec=spec), owned, fetched(a=b"1"), {}, NOW)
    assert p.secret_action == "update" and p.secret is not None
    assert "ownerReferences" not in p.secret["metadata"] and rc.LABEL_OWNER not in p.secret["metadata"]["labels"]


def test_merge_missing_secret() -> None:
    spec = {"secretStoreRef": {"name": "s"}, "target": {"creationPolicy": "Merge"},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    p = rc.plan(es_manifest(spec=spec), None, fetched(a=b"1"), {}, NOW)
    assert p.secret_action is None and p.ready and p.reason == "SecretMissing"
    assert p.status["conditions"][0]["message"] == "secret will not be created due to CreationPolicy=Merge"


def test_merge_keeps_foreign_keys_and_drops_keys_it_wrote() -> None:
    spec = {"secretStoreRef": {"name": "s"}, "target": {"creationPolicy": "Merge"},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    existing: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                "metadata": {"name": "my-es", "namespace": "default", "uid": "x",
                                             "labels": {"keep": "me"}, "managedFields": [
                                                 {"manager": "externalsecrets.external-secrets.io/my-es",
                                                  "operation": "Update", "fieldsV1": {"f:data": {
                                                      ".": {}, "f:old": {}}}}]},
                                "data": {"foreign": b64("f"), "old": b64("o")}}
    p = rc.plan(es_manifest(spec=spec), existing, fetched(a=b"1"), {}, NOW)
    assert p.secret_action == "update" and p.secret is not None
    assert p.secret["data"] == {"foreign": b64("f"), "a": b64("1")}
    assert p.secret["metadata"]["labels"] == {"keep": "me", rc.LABEL_MANAGED: "true"}
    assert "ownerReferences" not in p.secret["metadata"]


def test_none_writes_nothing() -> None:
    spec = {"secretStoreRef": {"name": "s"}, "target": {"creationPolicy": "None"},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    p = rc.plan(es_manifest(spec=spec), None, fetched(a=b"1"), {}, NOW)
    assert p.secret_action is None and p.ready and p.reason == "SecretSynced" and p.status["binding"] == {"name": ""}


def test_fetch_error_leaves_secret_and_keeps_refresh_time() -> None:
    es = synced_es()
    err = FetchError("error processing spec.data[0] (key: db), err: connection refused", where="ExternalSecret default/my-es")
    p = rc.plan(es, managed_secret({"password": b"x"}), err, {}, NOW)
    assert p.secret_action is None and p.retry and not p.ready
    ready = p.status["conditions"][0]
    assert (ready["status"], ready["reason"], ready["message"]) == \
        ("False", "SecretSyncedError", "could not get secret data from provider")
    assert ready["lastTransitionTime"] == format_time(NOW)
    assert p.status["refreshTime"] == es["status"]["refreshTime"]
    assert p.events == [Event("Warning", "UpdateFailed", "error processing spec.data[0] (key: db), err: connection refused")]


def test_status_json_shape_before_first_sync() -> None:
    """ESO marshals a zero refreshTime as null (the CRD keeps it: nullable) and an unset binding as {}, which
    the CRD defaults to {"name": ""}."""
    p = rc.plan(es_manifest(), None, FetchError("boom"), {}, NOW)
    assert p.status["refreshTime"] is None and p.status["binding"] == {"name": ""}
    assert "syncedResourceVersion" not in p.status


def test_foreign_error_text_not_copied() -> None:
    p = rc.plan(synced_es(), None, RuntimeError(SECRET_VALUE), {}, NOW)
    assert SECRET_VALUE not in json.dumps(p.status) and SECRET_VALUE not in repr(p.events)


def empty_spec(creation: str, deletion: str) -> dict[str, Any]:
    return {"secretStoreRef": {"name": "s"}, "target": {"creationPolicy": creation, "deletionPolicy": deletion},
            "dataFrom": [{"extract": {"key": "k"}}]}


def test_empty_delete_owner_deletes() -> None:
    p = rc.plan(es_manifest(spec=empty_spec("Owner", "Delete")), managed_secret({"a": b"1"}), fetched(), {}, NOW)
    assert p.secret_action == "delete" and p.reason == "SecretDeleted" and p.ready
    assert p.status["conditions"][0]["message"] == "secret deleted due to DeletionPolicy=Delete"
    assert p.events == [Event("Normal", "Deleted", "secret deleted due to DeletionPolicy=Delete")]
    p = rc.plan(es_manifest(spec=empty_spec("Owner", "Delete")), None, fetched(), {}, NOW)
    assert p.secret_action is None and p.reason == "SecretDeleted" and p.events == []


def test_empty_delete_orphan_refused() -> None:
    p = rc.plan(es_manifest(spec=empty_spec("Orphan", "Delete")), managed_secret({}), fetched(), {}, NOW)
    assert p.secret_action is None and not p.retry and p.requeue_after is None
    assert p.status["conditions"][0]["message"] == "could not delete secret"
    assert p.events[-1].message == "unable to delete secret my-es: creationPolicy=Orphan is not Owner"


def test_empty_retain_keeps() -> None:
    p = rc.plan(es_manifest(spec=empty_spec("Owner", "Retain")), managed_secret({"a": b"1"}), fetched(), {}, NOW)
    assert p.secret_action is None and p.ready
    assert p.status["conditions"][0]["message"] == "secret retained due to DeletionPolicy=Retain"


def test_empty_merge_writes_empty_data() -> None:
    p = rc.plan(es_manifest(spec=empty_spec("Owner", "Merge")), managed_secret({"a": b"1"}), fetched(), {}, NOW)
    assert p.secret_action == "update" and p.secret is not None and p.secret["data"] == {}


def test_owned_by_another_external_secret() -> None:
    s = managed_secret({})
    s["metadata"]["ownerReferences"] = [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                         "name": "other", "uid": "u2", "controller": True}]
    p = rc.plan(es_manifest(), s, fetched(password=b"x"), {}, NOW)
    assert p.secret_action is None and not p.retry
    assert p.status["conditions"][0]["message"] == "target is owned by another ExternalSecret"
    assert p.events[-1].message == "unable to mutate secret my-es: secret is owned by another ExternalSecret: other"


def test_owned_by_another_controller() -> None:
    s = managed_secret({})
    s["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "u",
                                         "controller": True}]
    p = rc.plan(es_manifest(), s, fetched(password=b"x"), {}, NOW)
    assert p.status["conditions"][0]["message"] == "failed to take ownership of target secret"


def test_immutable() -> None:
    spec = {"secretStoreRef": {"name": "s"}, "target": {"immutable": True},
            "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    p = rc.plan(es_manifest(spec=spec), None, fetched(a=b"1"), {}, NOW)
    assert p.secret is not None and p.secret["immutable"] is True
    existing = json.loads(json.dumps(p.secret))
    existing["metadata"]["uid"] = "s"
    p2 = rc.plan(es_manifest(spec=spec), existing, fetched(a=b"2"), {}, NOW)
    # the new data-hash is a metadata change: ESO writes the metadata (old data, new hash), then fails
    assert p2.secret_action == "update" and p2.secret is not None and not p2.retry
    assert p2.secret["data"] == {"a": b64("1")}
    assert p2.secret["metadata"]["annotations"][rc.ANNOTATION_DATA_HASH] == object_hash({"a": b"2"})
    assert p2.status["conditions"][0]["message"] == "could not update secret, target is immutable"
    assert p2.events[-1] == Event("Warning", "UpdateFailed", "unable to update secret my-es: secret is immutable")
    # same data, only the type differs: nothing to write, still refused
    typed = dict(existing, type="kubernetes.io/tls")
    spec_t = {**spec, "target": {"immutable": True, "template": {"type": "Opaque"}}}
    p4 = rc.plan(es_manifest(spec=spec_t), typed, fetched(a=b"1"), {}, NOW, render=render)
    assert p4.secret_action is None
    assert p4.status["conditions"][0]["message"] == "could not update secret, target is immutable"
    # a metadata change is still written, data kept, and the data change still refused
    p3 = rc.plan(es_manifest(spec=spec, labels={"new": "l"}), existing, fetched(a=b"2"), {}, NOW)
    assert p3.secret_action == "update" and p3.secret is not None
    assert p3.secret["data"] == {"a": b64("1")} and p3.secret["metadata"]["labels"]["new"] == "l"
    assert p3.status["conditions"][0]["reason"] == "SecretSyncedError"


def test_template() -> None:
    spec: dict[str, Any] = {"secretStoreRef": {"name": "s"},
            "target": {"template": {"type": "kubernetes.io/basic-auth",
                                    "metadata": {"labels": {"tpl": "{{ .user }}"}},
                                    "data": {"username": "{{ .user }}"}}},
            "data": [{"secretKey": "user", "remoteRef": {"key": "k"}}]}
    es = es_manifest(spec=spec, labels={"es-label": "not copied"})
    p = rc.plan(es, None, fetched(user=b"bob"), {}, NOW, render=render)
    assert p.secret is not None and p.secret["type"] == "kubernetes.io/basic-auth"
    assert p.secret["data"] == {"username": b64("bob")}
    assert p.secret["metadata"]["labels"]["tpl"] == "bob" and "es-label" not in p.secret["metadata"]["labels"]
    spec["target"]["template"]["mergePolicy"] = "Merge"
    p = rc.plan(es_manifest(spec=spec), None, fetched(user=b"bob"), {}, NOW, render=render)
    assert p.secret is not None and p.secret["data"] == {"username": b64("bob"), "user": b64("bob")}


def test_template_error() -> None:
    spec = {"secretStoreRef": {"name": "s"}, "target": {"template": {"data": {"x": "{{ .missing }}"}}},
            "data": [{"secretKey": "user", "remoteRef": {"key": "k"}}]}
    p = rc.plan(es_manifest(spec=spec), None, fetched(user=SECRET_VALUE.encode()), {}, NOW, render=render)
    assert p.secret_action is None and p.retry
    assert p.status["conditions"][0]["message"] == "could not update secret"
    assert p.events[-1].message.startswith("could not apply template: ")
    assert SECRET_VALUE not in repr(p.events)


def test_invalid_spec() -> None:
    es = es_manifest()
    es["spec"]["refreshInterval"] = "1d"
    p = rc.plan(es, None, fetched(), {}, NOW)
    assert p.secret_action is None and not p.ready and p.reason == "SecretSyncedError"
    assert "spec.refreshInterval" in p.status["conditions"][0]["message"]


def test_write_failed() -> None:
    p = rc.write_failed(synced_es(), "Secret \"my-es\" is invalid: metadata.labels", NOW)
    assert p.retry and p.status["conditions"][0]["message"] == "could not update secret"
    assert p.events == [Event("Warning", "UpdateFailed", "Secret \"my-es\" is invalid: metadata.labels")]


def test_status_keeps_other_conditions_and_transition_time() -> None:
    es = synced_es()
    es["status"]["conditions"].insert(0, {"type": "Deleted", "status": "False"})
    p = rc.plan(es, None, fetched(password=b"x"), {}, NOW)
    types = [c["type"] for c in p.status["conditions"]]
    assert types == ["Deleted", "Ready"]
    assert p.status["conditions"][1]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def _preexisting(manager: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "my-es", "namespace": "default", "uid": "x", "resourceVersion": "1",
                         "labels": {"existing-label": "v"}, "annotations": {"existing-annotation": "v"},
                         "managedFields": [{"manager": manager, "operation": "Update", "fieldsV1": {
                             "f:metadata": {"f:labels": {".": {}, "f:existing-label": {}},
                                            "f:annotations": {".": {}, "f:existing-annotation": {}}}}}]}}


def test_merges_metadata_owned_by_another_manager() -> None:
    """ESO envtest 'should merge labels and annotations to the ones owned by other entity'."""
    es = es_manifest(labels={"l": "1"}, annotations={"a": "1"})
    p = rc.plan(es, _preexisting("someone-else"), fetched(password=b"x"), {}, NOW)
    assert p.secret is not None
    assert p.secret["metadata"]["labels"]["existing-label"] == "v" and p.secret["metadata"]["labels"]["l"] == "1"
    assert p.secret["metadata"]["annotations"]["existing-annotation"] == "v"


def test_removes_outdated_metadata_it_wrote() -> None:
    """ESO envtest 'should removed outdated labels and annotations'."""
    es = es_manifest(labels={"l": "1"}, annotations={"a": "1"})
    p = rc.plan(es, _preexisting("externalsecrets.external-secrets.io/my-es"), fetched(password=b"x"), {}, NOW)
    assert p.secret is not None
    assert "existing-label" not in p.secret["metadata"]["labels"] and p.secret["metadata"]["labels"]["l"] == "1"
    assert "existing-annotation" not in p.secret["metadata"]["annotations"]


def test_no_value_anywhere_in_failure_plans() -> None:
    value = SECRET_VALUE.encode()
    immut = {"secretStoreRef": {"name": "s"}, "target": {"immutable": True},
             "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    created = rc.plan(es_manifest(spec=immut), None, fetched(a=b"old"), {}, NOW).secret
    assert created is not None
    other = managed_secret({"password": value})
    other["metadata"]["ownerReferences"] = [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                             "name": "o", "uid": "u", "controller": True}]
    plans = [
        rc.plan(es_manifest(spec=immut), dict(created, metadata={**created["metadata"], "uid": "u"}),
                fetched(a=value), {}, NOW),
        rc.plan(es_manifest(), other, fetched(password=value), {}, NOW),
        rc.plan(es_manifest(spec=empty_spec("Orphan", "Delete")), managed_secret({"k": value}), fetched(), {}, NOW),
        rc.write_failed(es_manifest(), "Secret is invalid", NOW),
    ]
    for p in plans:
        assert SECRET_VALUE not in json.dumps(p.status) and SECRET_VALUE not in repr(p.events)


def _as_stored(body: dict[str, Any]) -> dict[str, Any]:
    """What the API server returns for a body we wrote (type defaulted, uid and resourceVersion set)."""
    stored = json.loads(json.dumps(body))
    stored.setdefault("type", "Opaque")
    stored["metadata"].update(uid="stored-uid", resourceVersion="9")
    return stored


@pytest.mark.parametrize("target", [
    {}, {"creationPolicy": "Orphan"}, {"creationPolicy": "Merge"}, {"immutable": True},
    {"template": {"type": "kubernetes.io/basic-auth", "data": {"username": "{{ .a }}"},
                  "metadata": {"annotations": {"x": "{{ .a }}"}}}},
    {"template": {"mergePolicy": "Merge", "data": {"copy": "{{ .a }}"}}},
])
@pytest.mark.parametrize("api_version", ["external-secrets.io/v1", "external-secrets.io/v1beta1"])
def test_second_refresh_writes_nothing(target: dict[str, Any], api_version: str) -> None:
    spec = {"secretStoreRef": {"name": "s"}, "target": target, "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}
    es = es_manifest(spec=spec, api_version=api_version, labels={"team": "t"},
                     annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"})
    existing = None
    if target.get("creationPolicy") == "Merge":
        existing = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"theirs": b64("t")},
                    "metadata": {"name": "my-es", "namespace": "default", "uid": "u", "resourceVersion": "1"}}
    first = rc.plan(es, existing, fetched(a=b"1"), {}, NOW, render=render)
    assert first.secret is not None and first.secret_action in ("create", "update")
    if first.secret_action == "create":
        refs = first.secret["metadata"].get("ownerReferences", [])
        assert all(r["apiVersion"] == "external-secrets.io/v1" for r in refs)
    stored = _as_stored(first.secret)
    es["status"] = first.status
    assert not rc.needs_refresh(es, stored, NOW + dt.timedelta(minutes=1)).due
    again = rc.plan(es, stored, fetched(a=b"1"), {}, NOW + HOUR, render=render)
    assert again.secret_action is None and again.events == [] and again.ready
