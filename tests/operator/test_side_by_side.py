"""Side by side with the real Bitnami controller v0.36.6 on one kube-apiserver, and migration both ways.

One corpus (tests/operator/corpus.py) goes to a namespace each controller handles (each restricted
to its namespaces); the Secrets (type, data, labels, annotations, immutable, ownerReference shape)
and the Synced conditions must be equal. A difference fails unless DELIBERATE lists it (the same
table is in the README's operator section). Then each controller takes over the other's namespace
and keys: no Secret is rewritten.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.peers.kube import KubeCluster
from tests.peers.our_operator import OurController, start_operator
from tests.peers.sealed_controller import SealedController, start_controller

from . import corpus
from .conftest import unique
from .support import assert_no_plaintext, events_for, get_secret, sealed_list, wait_for

pytestmark = [pytest.mark.peer("sealed-controller"), pytest.mark.slow]


@dataclass(frozen=True)
class Deliberate:
    field: str
    cases: tuple[str, ...]
    why: str


# Differences we mean (README "Deliberate differences from Bitnami's controller" is this table).
DELIBERATE = (
    Deliberate("status.message", ("foreign", "moved", "garbled"),
               "ours says why the unseal failed (fingerprints of the keys tried and of the newest, the scope "
               "it opens under, or what is malformed and where); upstream says only "
               "'no key could decrypt secret (k)' or the decoder's text"),
    Deliberate("events.count", ("foreign", "moved", "garbled", "taken"),
               "ours posts one event per change of outcome; upstream posts one per attempt and retries a "
               "failed unseal --max-unseal-retries times (6 events), though retrying cannot change the outcome"),
)


def allowed(field: str, case: str) -> bool:
    return any(d.field == field and case in d.cases for d in DELIBERATE)


def owner_shape(secret: dict[str, Any], sealed_uid: str) -> list[tuple[Any, ...]]:
    return [(r.get("apiVersion"), r.get("kind"), r.get("name"), r.get("controller"), r.get("uid") == sealed_uid,
             r.get("blockOwnerDeletion")) for r in secret["metadata"].get("ownerReferences") or []]


def outcome(cluster: KubeCluster, ns: str, case: corpus.Case) -> dict[str, Any]:
    """What a controller made of one case, in the fields both must agree on."""
    sealed = cluster.request("GET", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets/{case.name}")
    out = get_secret(cluster, ns, case.name)
    conditions = [(c["type"], c["status"], c.get("message", ""))
                  for c in (sealed.get("status") or {}).get("conditions") or []]
    result: dict[str, Any] = {
        "status.observedGeneration": (sealed.get("status") or {}).get("observedGeneration"),
        "status.conditions": [c[:2] for c in conditions],
        "status.message": [c[2] for c in conditions],
        "events.reasons": sorted({e["reason"] for e in events_for(cluster, ns, case.name)}),
    }
    if out is None:
        result["secret"] = None
        return result
    meta = out["metadata"]
    result.update({
        "secret.type": out.get("type"), "secret.data": out.get("data") or {},
        "secret.labels": meta.get("labels") or {}, "secret.annotations": meta.get("annotations") or {},
        "secret.immutable": out.get("immutable"),
        "secret.ownerReferences": owner_shape(out, sealed["metadata"]["uid"]),
    })
    return result


def apply(cluster: KubeCluster, ns: str, cases: list[corpus.Case]) -> None:
    for case in cases:
        if case.existing:
            cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {**case.existing,
                                                                        "metadata": {**case.existing["metadata"],
                                                                                     "namespace": ns}})
    for case in cases:
        doc = json.loads(json.dumps(case.sealed))
        doc["metadata"]["namespace"] = ns
        cluster.request("POST", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets", doc)


def all_synced(cluster: KubeCluster, ns: str, count: int, log: Any) -> None:
    def check() -> bool:
        items = sealed_list(cluster, ns)
        return len(items) == count and all(
            any(c.get("type") == "Synced" for c in (i.get("status") or {}).get("conditions") or []) for i in items)
    wait_for(f"every SealedSecret in {ns} to have a Synced condition", check, timeout=90, log=log)


@pytest.fixture(scope="module")
def pair(op_cluster: KubeCluster, bitnami_ok: None) -> Iterator[tuple[SealedController, OurController, str, str]]:
    """Bitnami's controller on namespace B, ours on A, both with Bitnami's key (copied to ours)."""
    ns_a, ns_b = unique("side-ours"), unique("side-bitnami")
    op_cluster.ensure_namespace(ns_a)
    op_cluster.ensure_namespace(ns_b)
    theirs = start_controller(op_cluster, namespace=unique("bitnami-sys"),
                              extra_args=("--all-namespaces=false", f"--additional-namespaces={ns_b}"))
    keys_ns = unique("ours-sys")
    op_cluster.ensure_namespace(keys_ns)
    for key in theirs.key_secrets():
        op_cluster.request("POST", f"/api/v1/namespaces/{keys_ns}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "type": key["type"], "data": key["data"],
            "metadata": {"name": key["metadata"]["name"], "labels": key["metadata"]["labels"]}})
    try:
        ours = start_operator(op_cluster, namespace=keys_ns, watch=(ns_a,))
    except BaseException:
        theirs.stop()
        raise
    try:
        yield theirs, ours, ns_a, ns_b
    finally:
        ours.stop()
        theirs.stop()


def test_same_corpus_same_secrets_and_statuses(pair: tuple[SealedController, OurController, str, str],
                                               op_cluster: KubeCluster, other_pair: Any) -> None:
    theirs, ours, ns_a, ns_b = pair
    assert ours.key_secrets()[0]["data"] == theirs.key_secrets()[0]["data"]  # one key, two controllers
    foreign = other_pair.cert_path.read_bytes()
    plain: dict[str, str] = {}
    cases_a = corpus.build(ns_a, theirs.newest_cert(), foreign, plain)
    cases_b = corpus.build(ns_b, theirs.newest_cert(), foreign, plain)
    apply(op_cluster, ns_a, cases_a)
    apply(op_cluster, ns_b, cases_b)
    all_synced(op_cluster, ns_a, len(cases_a), ours.log_text)
    all_synced(op_cluster, ns_b, len(cases_b), theirs.log_text)
    time.sleep(3)  # upstream's retries of failures settle

    differences = []
    for case in cases_a:
        mine, upstream = outcome(op_cluster, ns_a, case), outcome(op_cluster, ns_b, case)
        for field in sorted(set(mine) | set(upstream)):
            if mine.get(field) != upstream.get(field) and not allowed(field, case.name):
                differences.append(f"{case.name}: {field}: ours={mine.get(field)!r} bitnami={upstream.get(field)!r}")
        if allowed("status.message", case.name) and not allowed("status.conditions", case.name):
            # the deliberate difference is an addition: the condition still says the same thing happened
            assert mine["status.conditions"] == upstream["status.conditions"]
            assert all(m for m in mine["status.message"])
    assert differences == [], "\n".join(differences)

    # ours posts one event per outcome: the failures did not repeat
    for case in cases_a:
        assert len(events_for(op_cluster, ns_a, case.name)) == 1, case.name
    plaintexts = [p for case in cases_a + cases_b for p in case.plaintexts]
    statuses = json.dumps([s.get("status") for s in sealed_list(op_cluster, ns_a)])
    events = json.dumps(op_cluster.request("GET", f"/api/v1/namespaces/{ns_a}/events"))
    assert_no_plaintext(plaintexts, ours.log_text(), ours.metrics_text(), statuses, events)


# ------------------------------------------------------------------------------------ migration


def snapshot(cluster: KubeCluster, ns: str) -> tuple[dict[str, str], dict[str, str]]:
    secrets = {s["metadata"]["name"]: s["metadata"]["resourceVersion"]
               for s in cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets")["items"]}
    sealed = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in sealed_list(cluster, ns)}
    return secrets, sealed


def unsealed_count(ours: OurController) -> float:
    for line in ours.metrics_text().splitlines():
        if line.startswith("sealed_secrets_controller_unseal_requests_total "):
            return float(line.split()[1])
    return 0.0


def test_bitnami_to_ours_rewrites_nothing(op_cluster: KubeCluster, bitnami_ok: None, other_pair: Any) -> None:
    ns, keys_ns = unique("from-bitnami"), unique("shared-sys")
    op_cluster.ensure_namespace(ns)
    theirs = start_controller(op_cluster, namespace=keys_ns,
                              extra_args=("--all-namespaces=false", f"--additional-namespaces={ns}"))
    try:
        cert = theirs.newest_cert()
        cases = corpus.build(ns, cert, other_pair.cert_path.read_bytes())
        apply(op_cluster, ns, cases)
        all_synced(op_cluster, ns, len(cases), theirs.log_text)
        time.sleep(3)
    finally:
        theirs.stop()
    keys_before = [k["metadata"]["name"] for k in theirs.key_secrets()]
    secrets_before, sealed_before = snapshot(op_cluster, ns)
    ours = start_operator(op_cluster, namespace=keys_ns, watch=(ns,), expose=False)
    try:
        wait_for("ours to reconcile the corpus", lambda: unsealed_count(ours) >= len(cases), log=ours.log_text)
        time.sleep(2)
        secrets_after, sealed_after = snapshot(op_cluster, ns)
        assert secrets_after == secrets_before  # not one Secret rewritten
        failed = {c.name for c in cases if allowed("status.message", c.name)}
        assert {k: v for k, v in sealed_after.items() if k not in failed} == \
               {k: v for k, v in sealed_before.items() if k not in failed}
        assert [k["metadata"]["name"] for k in ours.key_secrets()] == keys_before  # Bitnami's key, no new one
        assert ours.served_cert() == cert
    finally:
        ours.stop()


def test_ours_to_bitnami_rewrites_nothing(op_cluster: KubeCluster, bitnami_ok: None, other_pair: Any) -> None:
    ns, keys_ns = unique("from-ours"), unique("ours-keys")
    ours = start_operator(op_cluster, namespace=keys_ns, watch=(ns,), expose=False)
    try:
        cases = corpus.build(ns, ours.served_cert(), other_pair.cert_path.read_bytes())
        apply(op_cluster, ns, cases)
        all_synced(op_cluster, ns, len(cases), ours.log_text)
        time.sleep(2)
    finally:
        ours.stop()
    keys_before = [k["metadata"]["name"] for k in ours.key_secrets()]
    secrets_before, sealed_before = snapshot(op_cluster, ns)
    theirs = start_controller(op_cluster, namespace=keys_ns,
                              extra_args=("--all-namespaces=false", f"--additional-namespaces={ns}"))
    try:
        wait_for("Bitnami's controller to process every SealedSecret",
                 lambda: all(f"{ns}/{c.name}" in theirs.log_text() for c in cases), timeout=60,
                 log=theirs.log_text)
        time.sleep(3)
        secrets_after, sealed_after = snapshot(op_cluster, ns)
        assert secrets_after == secrets_before
        ok = {c.name for c in cases if not allowed("status.message", c.name)}
        assert {k: sealed_after[k] for k in ok} == {k: sealed_before[k] for k in ok}
        assert [k["metadata"]["name"] for k in theirs.key_secrets()] == keys_before  # our key, no new one
    finally:
        theirs.stop()
