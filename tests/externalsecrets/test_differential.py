"""The differential test: every corpus case given to the real ESO v0.16.2 and to ours.

    test_eso_meets_case[id]    ESO's Secret and status match the case's own expectation and the
                               §10 invariants (data-hash, created-by, managed, syncedResourceVersion):
                               proves the case, the harness and the peer
    test_ours_meets_case[id]   the same expectation, on ours
    test_ours_matches_eso[id]  ours equals ESO field by field (deliberate.py lists allowed differences)

The whole corpus runs once per session and group ("fake", "vault", "aws"): one namespace per controller and
batch, one controller process per batch (harness.batches). The AWS group reads the session's moto server:
ESO through AWS_SECRETSMANAGER_ENDPOINT / AWS_SSM_ENDPOINT / AWS_STS_ENDPOINT, ours through AWS_ENDPOINT_URL. The corpus is tests/externalsecrets/corpus.py
(`CASES`); while it does not exist, the handful of cases below stand in.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

import pytest

from tests.externalsecrets.case import Case
from tests.externalsecrets.harness import (
    AwsAccess,
    CaseResult,
    Harness,
    VaultAccess,
    describe,
    ours_missing,
    plaintext_hits,
    plaintext_sources,
    remote_plaintexts,
    side_class,
    start_ours,
    uses_aws,
    uses_vault,
)
from tests.peers.kube import KubeCluster

OURS_SKIP = "ours (secrets-kit operator run --external-secrets) not available: {}"


def _fake(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"fake": {"data": [{"key": k, "value": v} for k, v in pairs]}}


FALLBACK_CASES: list[Case] = [
    Case(
        id="fallback-simple-data",
        store=_fake(("db-user", "alice"), ("db-pass", "s3cr3t")),
        external_secret={"refreshInterval": "1h", "target": {"name": "fallback-simple"},
                         "data": [{"secretKey": "user", "remoteRef": {"key": "db-user"}},
                                  {"secretKey": "pass", "remoteRef": {"key": "db-pass"}}]},
        expect={"type": "Opaque", "data": {"user": "alice", "pass": "s3cr3t"},
                "labels": {"reconcile.external-secrets.io/managed": "true"}},
        tags=frozenset({"fake"}),
    ),
    Case(
        id="fallback-property-and-extract",
        store=_fake(("json", '{"a": "1", "b": {"c": "deep"}, "n": 5}')),
        external_secret={"target": {"name": "fallback-prop"},
                         "data": [{"secretKey": "c", "remoteRef": {"key": "json", "property": "b.c"}}],
                         "dataFrom": [{"extract": {"key": "json"}}]},
        expect={"data": {"c": "deep", "a": "1", "b": '{"c": "deep"}', "n": "5"}},
        tags=frozenset({"fake"}),
    ),
    Case(
        id="fallback-template-labels",
        store=_fake(("user", "bob")),
        external_secret={"metadata": {"labels": {"team": "blue"}, "annotations": {"note": "x"}},
                         "target": {"name": "fallback-tpl", "template": {
                             "engineVersion": "v2", "type": "kubernetes.io/basic-auth",
                             "metadata": {"labels": {"from-template": "yes"}},
                             "data": {"username": "{{ .user }}", "password": "{{ .user | upper }}"}}},
                         "data": [{"secretKey": "user", "remoteRef": {"key": "user"}}]},
        expect={"type": "kubernetes.io/basic-auth", "data": {"username": "bob", "password": "BOB"},
                "labels": {"from-template": "yes"}},
        tags=frozenset({"fake", "template"}),
    ),
    Case(
        id="fallback-orphan",
        store=_fake(("k", "v")),
        external_secret={"target": {"name": "fallback-orphan", "creationPolicy": "Orphan"},
                         "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]},
        expect={"data": {"k": "v"}},
        tags=frozenset({"fake"}),
    ),
    Case(
        id="fallback-merge",
        store=_fake(("k", "new")),
        extra_objects=[{"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "fallback-merge", "labels": {"keep": "me"}},
                        "stringData": {"existing": "kept", "k": "old"}}],
        external_secret={"target": {"name": "fallback-merge", "creationPolicy": "Merge"},
                         "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]},
        expect={"data": {"existing": "kept", "k": "new"}, "labels": {"keep": "me"}},
        tags=frozenset({"fake"}),
    ),
    Case(
        id="fallback-missing-key",
        store=_fake(("present", "v")),
        external_secret={"target": {"name": "fallback-missing"},
                         "data": [{"secretKey": "x", "remoteRef": {"key": "absent"}}]},
        expect=None, ready="False", reason="SecretSyncedError",
        tags=frozenset({"fake", "error"}),
    ),
    Case(
        id="fallback-vault-kv2",
        store={"vault": {"server": "{{VAULT_ADDR}}", "path": "secret", "version": "v2",
                         "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}}},
        remote={"secret/fallback/db": {"user": "carol", "pass": "pw"}},
        external_secret={"target": {"name": "fallback-vault"},
                         "data": [{"secretKey": "user", "remoteRef": {"key": "fallback/db", "property": "user"}}],
                         "dataFrom": [{"extract": {"key": "fallback/db"}}]},
        expect={"data": {"user": "carol", "pass": "pw"}},
        tags=frozenset({"vault"}),
    ),
]


def _corpus() -> list[Case]:
    if importlib.util.find_spec("tests.externalsecrets.corpus") is None:
        return FALLBACK_CASES
    corpus = importlib.import_module("tests.externalsecrets.corpus")
    return list(corpus.CASES)


CASES = _corpus()
IDS = [c.id for c in CASES]


GROUPS = ("fake", "vault", "aws")


def _group(case: Case) -> str:
    return "vault" if uses_vault(case) else "aws" if uses_aws(case) else "fake"


def aws_env(endpoint: str, side: str) -> dict[str, str]:
    """Each controller's way to moto: ESO's own endpoint variables, boto3's standard one for ours."""
    common = {"AWS_EC2_METADATA_DISABLED": "true"}
    if side == "eso":
        return {**common, "AWS_SECRETSMANAGER_ENDPOINT": endpoint, "AWS_SSM_ENDPOINT": endpoint,
                "AWS_STS_ENDPOINT": endpoint}
    return {**common, "AWS_ENDPOINT_URL": endpoint}


class Runs:
    """The corpus, run lazily once per group for the whole session."""

    def __init__(self, request: pytest.FixtureRequest, cluster: KubeCluster,
                 eso_runner: Callable[..., Any]) -> None:
        self.request = request
        self.cluster = cluster
        self.eso_runner = eso_runner
        self.results: dict[str, dict[str, CaseResult]] = {}
        self.harnesses: dict[str, Harness] = {}

    def result(self, case: Case) -> CaseResult:
        group = _group(case)
        if group not in self.results:
            vault, aws, env = None, None, {"eso": {}, "ours": {}}
            if group == "vault":
                setup = self.request.getfixturevalue("vault_dev")
                vault = VaultAccess(addr=setup.server.url, token=setup.server.root_token,
                                    client=setup.server.client())
            if group == "aws":
                aws = AwsAccess(endpoint=self.request.getfixturevalue("moto_endpoint"))
                env = {side: aws_env(aws.endpoint, side) for side in env}
            starters: dict[str, Callable[[str], Any]] = {
                "eso": lambda ns: self.eso_runner(ns, f"--controller-class={side_class('eso')}", env=env["eso"])}
            if ours_missing() is None:
                starters["ours"] = lambda ns: start_ours(self.cluster, ns, env=env["ours"],
                                                         extra_args=("--controller-class", side_class("ours")))
            harness = Harness(self.cluster, starters, vault=vault, aws=aws)
            self.harnesses[group] = harness
            self.results[group] = harness.run([c for c in CASES if _group(c) == group])
        return self.results[group][case.id]


@pytest.fixture(scope="session")
def differential(request: pytest.FixtureRequest, kube_cluster: KubeCluster,
                 eso_runner: Callable[..., Any]) -> Runs:
    return Runs(request, kube_cluster, eso_runner)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_eso_meets_case(differential: Runs, case: Case) -> None:
    result = differential.result(case)
    # pytest.fail, not assert: assertion introspection would print the observed Secrets' data
    if result.problems["eso"]:
        pytest.fail(describe(result) + "\n" + differential.harnesses[_group(case)].log_tails())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ours_meets_case(differential: Runs, case: Case) -> None:
    reason = ours_missing()
    if reason:
        pytest.skip(OURS_SKIP.format(reason))
    result = differential.result(case)
    if result.problems["ours"]:
        pytest.fail(describe(result) + "\n" + differential.harnesses[_group(case)].log_tails())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ours_matches_eso(differential: Runs, case: Case) -> None:
    reason = ours_missing()
    if reason:
        pytest.skip(OURS_SKIP.format(reason))
    result = differential.result(case)
    if result.failing_diffs:
        pytest.fail(describe(result))


def test_no_remote_value_in_logs_events_statuses_or_metrics(differential: Runs) -> None:
    """After the differential run (both groups, both controllers): no remote value of the corpus
    in either controller's log files, the Events of the case namespaces, the ExternalSecret
    statuses, or either controller's /metrics."""
    for group in GROUPS:
        first = next((c for c in CASES if _group(c) == group), None)
        if first is not None:
            differential.result(first)
    plaintexts = remote_plaintexts(CASES)
    assert len(plaintexts) >= 20, "the corpus should hold many remote values to look for"
    sources: dict[str, str] = {}
    for group, harness in differential.harnesses.items():
        sources.update({f"[{group}] {where}": text for where, text in plaintext_sources(harness).items()})
    assert any("ours log" in where for where in sources) or ours_missing(), sources.keys()
    # the grep reads what was written: non-empty logs and some Events (failing cases post Warnings)
    assert all(text.strip() for where, text in sources.items() if " log " in where), "an empty log"
    assert any("Events in" in where and text != "[]" for where, text in sources.items()), "no Events read"
    hits = plaintext_hits(plaintexts, sources)
    if hits:
        pytest.fail("remote values found:\n" + "\n".join(hits))


def test_comparison_finds_eso_equal_to_itself(kube_cluster: KubeCluster, eso_runner: Callable[..., Any]) -> None:
    """ESO against ESO in two namespaces, on every fake-store case: the comparison must report no
    difference, so its namespace normalisation (created-by, owner uid, namespace in strings) and
    its settle detection make no false differences that would be blamed on ours."""
    cases = [c for c in CASES if _group(c) == "fake"]
    harness = Harness(kube_cluster, {side: (lambda ns, side=side: eso_runner(ns, f"--controller-class={side_class(side)}"))
                                     for side in ("eso", "ours")})
    results = harness.run(cases)
    bad = [describe(r) for r in results.values() if r.diffs]
    if bad:
        pytest.fail("\n".join(bad))
