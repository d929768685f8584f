"""The alert rules file parses as promtool expects, each rule is complete (severity, summary, description,
a runbook_url naming a runbook that exists), and the promtool unit tests cover every alert both ways.
(Which metrics the expressions and the Grafana dashboard's queries read, and that the running controllers
export them: test_runbooks.py.)"""

from __future__ import annotations

import re

import pytest

from .alert_rules import (
    DURATION,
    REPO,
    RULES,
    UNIT_TESTS,
    alert_rules,
    check_expression,
    dashboard_metric_names,
    exported_names,
    load_yaml,
    metric_names,
)

RUNBOOK_URL = re.compile(r"^https://\S+/docs/runbooks/([a-z0-9-]+\.md)(#[a-z0-9-]+)?$")


def test_every_rule_is_a_complete_alert() -> None:
    rules = alert_rules()
    assert len(rules) >= 8
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule["alert"]
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
        if "for" in rule:
            assert DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        notes = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(notes), rule["alert"]
        link = RUNBOOK_URL.match(notes["runbook_url"])
        assert link, f"{rule['alert']}: runbook_url {notes['runbook_url']!r}"
        assert (REPO / "docs" / "runbooks" / link.group(1)).is_file(), f"{rule['alert']}: no {link.group(1)}"
        for text in notes.values():  # Go templates: every {{ is closed
            assert text.count("{{") == text.count("}}"), rule["alert"]


def test_the_asked_for_alerts_are_there() -> None:
    reads = metric_names()
    wanted = {
        "ExternalSecretSyncFailing": "externalsecret_status_condition",
        "ExternalSecretSyncErrors": "externalsecret_sync_calls_error",
        "ExternalSecretRefreshStale": "externalsecret_sync_calls_total",
        "SecretStoreNotReady": "secretstore_status_condition",
        "ClusterSecretStoreNotReady": "clustersecretstore_status_condition",
        "SealedSecretUnsealFailing": "sealed_secrets_controller_unseal_errors_total",
        "SealedSecretNotSynced": "sealed_secrets_controller_condition_info",
        "SealedSecretsControllerDown": "up",
        "ExternalSecretsControllerDown": "up",
    }
    for alert, metric in wanted.items():
        assert metric in reads[alert], f"{alert} reads {sorted(reads[alert])}"


def test_the_expression_checker_catches_what_promtool_would() -> None:
    assert check_expression('max by (namespace, name) (a_b{x="1", y=~"z.*"}) == 1') == {"a_b"}
    assert check_expression('changes(c[3h]) == 0 and c offset 3h and on (n) d') == {"c", "d"}
    assert check_expression('absent(up{job=~"(a|b).*"} == 1)') == {"up"}
    for bad in ('sum(rate(x[5m])', 'x{a="1"', 'x{a=1}', 'rate(x[5q])', 'x{a="1}', 'x # y'):
        with pytest.raises(ValueError):
            check_expression(bad)


def test_promtool_unit_tests_cover_every_alert_both_ways() -> None:
    """tests/docs/prometheus-rules.test.yaml (run with `promtool test rules`) has, for every alert, a case where
    it fires and one where it does not, on the rules file itself."""
    doc = load_yaml(UNIT_TESTS)
    assert [(UNIT_TESTS.parent / f).resolve() for f in doc["rule_files"]] == [RULES.resolve()]
    fires: set[str] = set()
    silent: set[str] = set()
    for case in doc["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else silent).add(check["alertname"])
            for alert in check["exp_alerts"]:
                assert {"summary", "description", "runbook_url"} <= set(alert["exp_annotations"])
    every = {r["alert"] for r in alert_rules()}
    assert fires == every, f"no firing case for {sorted(every - fires)}"
    assert silent == every, f"no silent case for {sorted(every - silent)}"


def test_exported_names_reads_families_and_samples() -> None:
    text = "# HELP a_total x\n# TYPE a_total counter\na_total 1\n# TYPE b gauge\nc{x=\"1\"} 2\n"
    assert exported_names(text) == {"a_total", "b", "c"}


def test_the_dashboard_reads_what_the_rules_read() -> None:
    """docs/grafana/secrets-kit-dashboard.json parses, its queries are well formed, and they read the
    metrics the rules read (plus the provider-call counter), which the exporters test checks are real."""
    panels = dashboard_metric_names()
    assert len(panels) >= 6
    read = set().union(*panels.values())
    assert read - set().union(*metric_names().values()) == {"externalsecret_provider_api_calls_count"}


def test_each_alert_is_named_by_its_runbook_and_runbooks_name_only_real_alerts() -> None:
    rules = alert_rules()
    names = {r["alert"] for r in rules}
    for rule in rules:
        page = RUNBOOK_URL.match(rule["annotations"]["runbook_url"])
        assert page is not None
        assert f"`{rule['alert']}`" in (REPO / "docs" / "runbooks" / page.group(1)).read_text(), \
            f"{page.group(1)} does not mention the alert {rule['alert']} that links to it"
    alert_like = re.compile(r"`([A-Z][A-Za-z]+(?:Failing|Errors|Stale|Backlog|NotReady|NotSynced|Down))`")
    for path in sorted((REPO / "docs" / "runbooks").glob("*.md")):
        unknown = set(alert_like.findall(path.read_text())) - names
        assert not unknown, f"{path.name} names alerts that do not exist: {sorted(unknown)}"


def test_the_docs_index_lists_every_alert() -> None:
    index = (REPO / "docs" / "README.md").read_text()
    missing = [r["alert"] for r in alert_rules() if f"`{r['alert']}`" not in index]
    assert not missing, f"docs/README.md's alert table lacks {missing}"
