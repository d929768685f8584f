"""Adoption: one controller syncs a namespace, stops, the other takes over without rewriting anything.

    test_ours_adopts_eso_secrets   ESO syncs; ESO stops; ours starts on the same namespace: no
                                   managed Secret is written (resourceVersions unchanged), every
                                   ExternalSecret stays Ready=True
    test_eso_adopts_our_secrets    the reverse: ours syncs, ESO takes over; ESO rewriting nothing
                                   proves ours wrote exactly the data-hash / labels ESO expects

A canary ExternalSecret created after the hand-over proves the new controller is running (it
must sync it) before the old ones are checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.externalsecrets.case import Case
from tests.externalsecrets.harness import (
    Harness,
    case_objects,
    es_name,
    ours_missing,
    ready_condition,
    settled,
    start_ours,
    target_name,
)
from tests.peers.kube import KubeCluster

FAKE = {"fake": {"data": [{"key": "user", "value": "alice"}, {"key": "json", "value": '{"a": "1", "b": "2"}'},
                          {"key": "canary", "value": "tweet"}]}}
ADOPTED = [
    Case(id="adopt-owner", store=FAKE, external_secret={
        "refreshInterval": "1h", "data": [{"secretKey": "user", "remoteRef": {"key": "user"}}]}),
    Case(id="adopt-extract-template", store=FAKE, external_secret={
        "refreshInterval": "1h", "dataFrom": [{"extract": {"key": "json"}}],
        "target": {"template": {"engineVersion": "v2", "data": {"joined": "{{ .a }}-{{ .b }}"}}}}),
    Case(id="adopt-orphan", store=FAKE, external_secret={
        "refreshInterval": "1h", "target": {"creationPolicy": "Orphan"},
        "data": [{"secretKey": "user", "remoteRef": {"key": "user"}}]}),
    Case(id="adopt-labels", store=FAKE, external_secret={
        "metadata": {"labels": {"app": "web"}, "annotations": {"owner": "team-a"}},
        "refreshInterval": "1h", "data": [{"secretKey": "user", "remoteRef": {"key": "user"}}]}),
]
CANARY = Case(id="adopt-canary", store=FAKE, external_secret={
    "refreshInterval": "1h", "data": [{"secretKey": "c", "remoteRef": {"key": "canary"}}]})


def _snapshot(h: Harness, ns: str) -> dict[str, tuple[str, dict[str, Any] | None]]:
    out = {}
    for case in ADOPTED:
        obs = h.read(case, "x", ns, False)
        assert obs.secret is not None, f"{case.id}: no Secret {target_name(case)}"
        out[case.id] = (obs.secret["metadata"]["resourceVersion"], ready_condition(obs.es))
    return out


def _hand_over(cluster: KubeCluster, namespace: str, first: Callable[[str], Any],
               second: Callable[[str], Any], between: Callable[[str], None] | None = None) -> None:
    """`first` syncs ADOPTED in `namespace` and stops; `between` (if any) runs while no controller
    does; `second` starts: it must sync the canary and rewrite none of the ADOPTED Secrets."""
    h = Harness(cluster, {})
    cluster.ensure_namespace(namespace)
    one = first(namespace)
    try:
        for case in ADOPTED:
            for obj in case_objects(case, namespace, "x", {}):
                h.create(obj)
        h.wait_settled(ADOPTED, {"x": namespace})
    finally:
        getattr(one, "stop_process", one.stop)()
    if between is not None:
        between(namespace)
    before = _snapshot(h, namespace)
    for case_id, (_, cond) in before.items():
        assert cond and cond.get("status") == "True", f"{case_id}: first controller did not sync: {cond}"
    two = second(namespace)
    try:
        for obj in case_objects(CANARY, namespace, "x", {}):
            h.create(obj)
        observed = h.wait_settled([CANARY], {"x": namespace})
        canary = observed[CANARY.id]["x"]
        assert settled(canary.es) and (ready_condition(canary.es) or {}).get("status") == "True", (
            f"second controller did not sync the canary {es_name(CANARY)}: {canary.es.get('status')}")
        after = _snapshot(h, namespace)
    finally:
        getattr(two, "stop_process", two.stop)()
    for case_id, (rv, cond) in after.items():
        assert rv == before[case_id][0], f"{case_id}: the second controller rewrote the managed Secret"
        assert cond and cond.get("status") == "True", f"{case_id}: not Ready after the hand-over: {cond}"


@pytest.fixture
def ours_runner(kube_cluster: KubeCluster) -> Callable[[str], Any]:
    reason = ours_missing()
    if reason:
        pytest.skip(f"adoption needs ours: {reason}")
    return lambda ns: start_ours(kube_cluster, ns)


def test_ours_adopts_eso_secrets(kube_cluster: KubeCluster, eso_runner: Callable[..., Any],
                                 ours_runner: Callable[[str], Any], kube_namespace: str) -> None:
    _hand_over(kube_cluster, kube_namespace, eso_runner, ours_runner)


def test_eso_adopts_our_secrets(kube_cluster: KubeCluster, eso_runner: Callable[..., Any],
                                ours_runner: Callable[[str], Any], kube_namespace: str) -> None:
    _hand_over(kube_cluster, kube_namespace, ours_runner, eso_runner)


def test_eso_restart_rewrites_nothing(kube_cluster: KubeCluster, eso_runner: Callable[..., Any],
                                      kube_namespace: str) -> None:
    """The hand-over check against ESO itself (ESO → a new ESO process): the baseline the two
    adoption tests hold ours to, and proof that the check passes for the reference."""
    _hand_over(kube_cluster, kube_namespace, eso_runner, eso_runner)


def test_hand_over_check_catches_a_rewrite(kube_cluster: KubeCluster, eso_runner: Callable[..., Any],
                                           kube_namespace: str) -> None:
    """The check can fail: a Secret whose data-hash does not match its data (what a controller with a
    different hash would leave) is rewritten by the next ESO, and the hand-over check says so."""

    def corrupt_hash(namespace: str) -> None:
        kube_cluster.request(
            "PATCH", f"/api/v1/namespaces/{namespace}/secrets/{target_name(ADOPTED[0])}",
            {"metadata": {"annotations": {"reconcile.external-secrets.io/data-hash": "0" * 56}}},
            content_type="application/merge-patch+json")

    with pytest.raises(AssertionError, match="rewrote the managed Secret"):
        _hand_over(kube_cluster, kube_namespace, eso_runner, eso_runner, between=corrupt_hash)
