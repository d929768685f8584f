"""The Helm chart (operator/chart/secrets-kit), rendered by the real helm and checked by the real
kube-apiserver: lint, every values preset and every boolean toggle render objects the API server accepts
(server-side dry run, CRDs created for real first), the schema refuses bad values, every
`secrets-kit operator run` flag is a value, operator/deploy/ equals the chart, and `helm uninstall` leaves
the CRDs and the objects stored in them."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operator import chart_render
from tests.operator.chart_render import CHART, DEPLOY, documents, template
from tests.peers.cache import find_binary
from tests.peers.kube import KubeAPIError, KubeCluster, resource_path, running_cluster

PRESETS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="module")
def helm_ok() -> None:
    if find_binary("helm") is None:
        pytest.skip("helm not found: run `python -m tests.peers.install helm`")


def objects(output: str) -> list[dict[str, Any]]:
    return [yaml.safe_load(d.text) for d in documents(output)]


def render(values: tuple[str, ...] = (), sets: tuple[str, ...] = (), namespace: str = "sk") -> list[dict[str, Any]]:
    return objects(template(values, sets, namespace=namespace))


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


# ------------------------------------------------------------------------------------ lint and schema


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_helm_lint_strict(helm_ok: None, preset: str | None) -> None:
    args = ["lint", "--strict", str(CHART)] + (["-f", str(CHART / "ci" / preset)] if preset else [])
    done = chart_render.helm(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def schema_paths(schema: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        out.add(path)
        if sub.get("additionalProperties") is False:
            out |= schema_paths(sub, path)
    return out


def value_paths(node: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        out.add(path)
        sub = (schema.get("properties") or {}).get(key) or {}
        if isinstance(value, dict) and sub.get("additionalProperties") is False:
            out |= value_paths(value, sub, path)
    return out


def test_the_schema_describes_exactly_the_values() -> None:
    """Every value has a schema (an unknown key fails), and the schema has no key values.yaml lacks."""
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema_paths(schema) == value_paths(VALUES, schema)


BAD_VALUES = [
    ("sealedSecrets.enabled=yes", "sealedSecrets.enabled: Invalid type. Expected: boolean"),
    ("externalSecrets.shards=0", "externalSecrets.shards: Must be greater than or equal to 1"),
    ("externalSecrets.shards=65", "externalSecrets.shards: Must be less than or equal to 64"),
    ("externalSecrets.leaderElection=sometimes", "externalSecrets.leaderElection: externalSecrets.leaderElection must be one of"),
    ("sealedSecrets.args.key-ttl=ten", "sealedSecrets.args.key-ttl: Does not match pattern"),
    ("image.pullPolicy=Sometimes", "image.pullPolicy: image.pullPolicy must be one of"),
    ("sealedSecret.enabled=false", "Additional property sealedSecret is not allowed"),
    ("externalSecrets.args.workers=4", "externalSecrets.args: Additional property workers is not allowed"),
    ("sealedSecrets.service.port=0", "sealedSecrets.service.port: Must be greater than or equal to 1"),
    ("args.log-format=xml", "args.log-format: args.log-format must be one of"),
]


@pytest.mark.parametrize(("value", "message"), BAD_VALUES)
def test_the_schema_refuses_a_bad_value_with_a_clear_message(helm_ok: None, value: str, message: str) -> None:
    for command in (["lint", "--strict", str(CHART)], ["template", "x", str(CHART)]):
        done = chart_render.helm(*command, "--set", value)
        assert done.returncode != 0, (command, value)
        assert message in done.stdout + done.stderr, done.stdout + done.stderr


COMBINATIONS = [  # refused by templates/validate.yaml, as `secrets-kit operator run` refuses them
    (("sealedSecrets.enabled=false",), "nothing to run"),
    (("sealedSecrets.enabled=false", "externalSecrets.enabled=true", "externalSecrets.ownDeployment=false"),
     "enable sealedSecrets, or set ownDeployment=true"),
    (("externalSecrets.enabled=true", "externalSecrets.ownDeployment=false", "externalSecrets.replicas=2"),
     "need externalSecrets.ownDeployment=true"),
    (("externalSecrets.enabled=true", "externalSecrets.shards=2", "externalSecrets.leaderElection=true"),
     "choose one"),
    (("externalSecrets.rbac.grantWhenDisabled=true",), "set externalSecrets.ownDeployment=false too"),
]


@pytest.mark.parametrize(("sets", "message"), COMBINATIONS)
def test_contradicting_values_fail_with_a_clear_message(helm_ok: None, sets: tuple[str, ...], message: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(message)):
        template((), sets)


# ----------------------------------------------------------------------- every flag of `operator run`

# Flags the chart sets from other values: value path, or None with the reason it has none.
DERIVED: dict[str, str | None] = {
    "--sealed-secrets": "sealedSecrets.enabled", "--no-sealed-secrets": "sealedSecrets.enabled",
    "--external-secrets": "externalSecrets.enabled", "--no-external-secrets": "externalSecrets.enabled",
    "--listen-addr": "sealedSecrets.service.port", "--listen-metrics-addr": "sealedSecrets.metrics.port",
    "--metrics-addr": "externalSecrets.metrics.port", "--enable-leader-election": "externalSecrets.leaderElection",
    "--shards": "externalSecrets.shards", "--namespace": "externalSecrets.args.namespace",
    "--kubeconfig": None,  # a Pod uses its in-cluster service account, never a kubeconfig
}


def lookup(path: str) -> Any:
    node: Any = VALUES
    for part in path.split("."):
        node = node[part]
    return node


def run_params() -> dict[str, Any]:
    from secrets_kit_cli.commands.operator import run

    return {opt: p for p in run.params for opt in (*p.opts, *p.secondary_opts)}


def help_flags() -> list[str]:
    from click.testing import CliRunner
    from secrets_kit_cli.commands.operator import operator

    done = CliRunner().invoke(operator, ["run", "--help"], terminal_width=200)
    assert done.exit_code == 0, done.output
    options = done.output.split("\nOptions:\n", 1)[1]
    return [flag for line in re.findall(r"^  (--[\w-]+(?: / --[\w-]+)?)", options, re.M)
            for flag in line.split(" / ")]


def test_every_operator_run_flag_is_a_value_with_the_binarys_default() -> None:
    flags = help_flags()
    params = run_params()
    assert len(flags) > 35 and "--help" in flags
    maps = {"args": VALUES["args"], "sealedSecrets.args": VALUES["sealedSecrets"]["args"],
            "externalSecrets.args": VALUES["externalSecrets"]["args"]}
    for flag in flags:
        if flag == "--help":
            continue
        if flag in DERIVED:
            if DERIVED[flag] is not None:
                lookup(str(DERIVED[flag]))  # the value exists
            continue
        name = flag.removeprefix("--")
        param = params[flag]
        external = (param.help or "").startswith("[external-secrets]")
        where = "externalSecrets.args" if external else (
            "args" if name in ("log-format", "log-level") else "sealedSecrets.args")
        assert name in maps[where], f"{flag} has no value: add it to {where} in values.yaml"
        assert maps[where][name] == param.default, f"{where}.{name}: {maps[where][name]!r}, the binary's {param.default!r}"
    assert lookup("externalSecrets.args.namespace") == "" and params["--namespace"].default is None  # "" = all
    for where, values in maps.items():
        unknown = [name for name in values if f"--{name}" not in params]
        assert not unknown, f"{where} holds values that are no flag of operator run: {unknown}"


def commands(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    out = {}
    for name, deployment in by_kind(docs, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        out[name] = container["command"]
    return out


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_every_rendered_command_parses_as_operator_run(helm_ok: None, preset: str | None) -> None:
    """Each Deployment's command is accepted by the CLI's own parser, and says what the values say."""
    from secrets_kit_cli.commands.operator import run

    values = ("ci/" + preset,) if preset else ()
    for name, command in commands(render(values)).items():
        assert command[:3] == ["secrets-kit", "operator", "run"], name
        ctx = run.make_context("run", list(command[3:]))
        params = ctx.params
        if name == "sealed-secrets-controller":
            assert params["sealed_secrets"] is True and params["listen_addr"] == ":8080"
            assert params["enable_leader_election"] is False and params["shards"] == 1
        else:
            assert params["sealed_secrets"] is False and params["external_secrets"] is True
            assert params["metrics_addr"] == ":8080"
            assert not (params["shards"] > 1 and params["enable_leader_election"])


def test_numbers_keep_their_form_in_the_command(helm_ok: None, tmp_path: Path) -> None:
    """YAML numbers reach the template as floats: a whole one must not print as 1e+07 (click refuses it)."""
    from secrets_kit_cli.commands.operator import run

    values = tmp_path / "numbers.yaml"
    values.write_text("sealedSecrets:\n  args:\n    max-unseal-retries: 10000000\n"
                      "externalSecrets:\n  enabled: true\n  ownDeployment: false\n  args:\n    client-qps: 12.5\n")
    (command,) = commands(render((str(values),))).values()
    assert "--max-unseal-retries=10000000" in command and "--client-qps=12.5" in command
    params = run.make_context("run", list(command[3:])).params
    assert params["max_unseal_retries"] == 10_000_000 and params["client_qps"] == 12.5


def test_the_external_controller_scales_with_leader_election_or_shards(helm_ok: None) -> None:
    def external(*sets: str) -> tuple[int, list[str], str]:
        docs = render((), ("externalSecrets.enabled=true", *sets))
        deployment = by_kind(docs, "Deployment")["secrets-kit-external-secrets"]
        (command,) = commands([deployment]).values()
        roles = sorted(by_kind(docs, "Role"))
        return deployment["spec"]["replicas"], [c for c in command if c.startswith(("--enable-leader", "--shards"))], \
            f"{deployment['spec']['strategy']['type']} {roles}"

    assert external() == (1, ["--enable-leader-election=false", "--shards=1"], "Recreate []")
    assert external("externalSecrets.replicas=3") == (
        3, ["--enable-leader-election=true", "--shards=1"],
        "RollingUpdate ['secrets-kit-external-secrets-leader-election']")
    assert external("externalSecrets.replicas=3", "externalSecrets.shards=6") == (
        3, ["--enable-leader-election=false", "--shards=6"], "RollingUpdate ['secrets-kit-external-secrets-shards']")
    assert external("externalSecrets.leaderElection=false", "externalSecrets.replicas=2")[1][0] == \
        "--enable-leader-election=false"


# ------------------------------------------------------------------------------ what gets rendered


def test_defaults_render_the_sealed_controller_only(helm_ok: None) -> None:
    docs = render()
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == [
        ("ClusterRole", "secrets-kit-sealed-secrets"), ("ClusterRoleBinding", "secrets-kit-sealed-secrets"),
        ("CustomResourceDefinition", "sealedsecrets.bitnami.com"), ("Deployment", "sealed-secrets-controller"),
        ("Service", "sealed-secrets-controller"), ("Service", "sealed-secrets-controller-metrics"),
        ("ServiceAccount", "sealed-secrets-controller")]


def test_kubeseals_service_is_in_the_release_namespace(helm_ok: None) -> None:
    service = by_kind(render(namespace="platform"), "Service")["sealed-secrets-controller"]
    assert service["metadata"]["namespace"] == "platform"  # kubeseal --controller-namespace platform
    assert service["spec"]["ports"][0] == {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_every_deployment_is_unprivileged_with_probes_and_resources(helm_ok: None, preset: str | None) -> None:
    docs = render(("ci/" + preset,) if preset else ())
    accounts = by_kind(docs, "ServiceAccount")
    for name, deployment in by_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in accounts, name
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}}
        ports = {p["name"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] in ports, (name, probe)
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert container["image"] == f"ghcr.io/example/secrets-kit:{chart_version()}"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selected = [s for s in by_kind(docs, "Service").values() if s["spec"]["selector"].items() <= labels.items()]
        assert selected, f"no Service selects {name}"
        for service in selected:
            assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def chart_version() -> str:
    import secrets_kit

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == secrets_kit.__version__  # the image tag follows the package version
    return str(chart["appVersion"])


def bindings(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """ServiceAccount -> the (Cluster)Roles bound to it."""
    out: dict[str, set[str]] = {}
    for d in docs:
        if d["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            for subject in d["subjects"]:
                out.setdefault(subject["name"], set()).add(d["roleRef"]["name"])
    return out


def test_each_controller_gets_only_its_own_rbac(helm_ok: None) -> None:
    separate = bindings(render(("ci/external-values.yaml",)))
    assert separate == {
        "sealed-secrets-controller": {"secrets-kit-sealed-secrets"},
        "secrets-kit-external-secrets": {"secrets-kit-external-secrets",
                                         "secrets-kit-external-secrets-leader-election"}}
    combined = bindings(render(("ci/combined-values.yaml",)))  # one process: one account, both roles
    assert combined == {"sealed-secrets-controller": {"secrets-kit-sealed-secrets", "secrets-kit-external-secrets"}}
    alone = bindings(render(("ci/external-shards-values.yaml",)))
    assert alone == {"secrets-kit-external-secrets": {"secrets-kit-external-secrets",
                                                      "secrets-kit-external-secrets-shards"}}
    assert bindings(render((), ("sealedSecrets.rbac.create=false",))) == {}


def test_crds_are_kept_on_uninstall_and_esos_can_be_left_out(helm_ok: None) -> None:
    def crds(*sets: str) -> dict[str, dict[str, Any]]:
        return by_kind(render((), sets), "CustomResourceDefinition")

    both = crds("externalSecrets.enabled=true")
    assert sorted(both) == ["clusterexternalsecrets.external-secrets.io", "clustersecretstores.external-secrets.io",
                            "externalsecrets.external-secrets.io", "sealedsecrets.bitnami.com",
                            "secretstores.external-secrets.io"]
    for crd in both.values():
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
        source = CHART / "files" / "crds" / f"{crd['spec']['names']['singular']}s.yaml"
        source = source if source.exists() else source.with_name(f"{crd['spec']['names']['singular']}.yaml")
        assert crd["spec"] == yaml.safe_load(source.read_text())["spec"]  # the file, unchanged
    assert sorted(crds("externalSecrets.enabled=true", "crds.externalSecrets.install=false")) == [
        "sealedsecrets.bitnami.com"]
    assert crds("crds.sealedSecrets.install=false") == {}
    assert "annotations" not in crds("crds.keep=false")["sealedsecrets.bitnami.com"]["metadata"]


def test_service_monitors_select_the_metrics_services(helm_ok: None) -> None:
    docs = render(("ci/everything-values.yaml",))
    monitors = by_kind(docs, "ServiceMonitor")
    assert sorted(monitors) == ["sealed-secrets-controller", "secrets-kit-external-secrets"]
    services = by_kind(docs, "Service")
    for monitor in monitors.values():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        selected = [s for s in services.values()
                    if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
        assert [s["metadata"]["name"] for s in selected] == [monitor["metadata"]["name"] + "-metrics"]
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in selected[0]["spec"]["ports"]]
    assert by_kind(render((), ("serviceMonitor.enabled=false",)), "ServiceMonitor") == {}


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "secrets-kit"
    shutil.copytree(CHART, copy)
    return copy


def test_the_prometheus_rule_wraps_the_rules_file_or_renders_nothing(helm_ok: None, chart_copy: Path) -> None:
    rules_file = chart_copy / "files" / "prometheus-rules.yaml"
    groups = [{"name": "secrets-kit-test", "rules": [
        {"alert": "ExternalSecretSyncFailing", "expr": "increase(externalsecret_sync_calls_error[15m]) > 0",
         "for": "15m", "labels": {"severity": "warning"}, "annotations": {"summary": "{{ $labels.name }} fails"}}]}]
    rules_file.write_text(yaml.safe_dump({"groups": groups}))

    def rules(*sets: str) -> dict[str, dict[str, Any]]:
        return by_kind(objects(template((), sets, chart=chart_copy)), "PrometheusRule")

    (rule,) = rules("prometheusRule.enabled=true", "prometheusRule.labels.release=prometheus").values()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["spec"]["groups"] == groups
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rules() == {}
    rules_file.write_text("")
    assert rules("prometheusRule.enabled=true") == {}
    rules_file.unlink()
    assert rules("prometheusRule.enabled=true") == {}


def test_the_prometheus_rule_passes_dry_run_against_the_prometheus_operators_crd(chart_cluster: KubeCluster,
                                                                                   chart_copy: Path) -> None:
    chart_cluster.ensure_namespace("sk")
    (chart_copy / "files" / "prometheus-rules.yaml").write_text(yaml.safe_dump({"groups": [{
        "name": "t", "rules": [{"alert": "SealedSecretUnsealErrors",
                                "expr": "rate(sealed_secrets_controller_unseal_errors_total[5m]) > 0",
                                "for": "10m", "labels": {"severity": "warning"}}]}]}))
    docs = objects(template((), ("prometheusRule.enabled=true", "serviceMonitor.enabled=true"), chart=chart_copy))
    assert {d["kind"] for d in docs} >= {"PrometheusRule", "ServiceMonitor"}
    assert "PrometheusRule/secrets-kit" in dry_run(chart_cluster, docs)


def test_the_packaged_chart_renders_what_the_folder_renders(helm_ok: None, tmp_path: Path) -> None:
    done = chart_render.helm("package", str(CHART), "--destination", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (archive,) = tmp_path.glob("secrets-kit-*.tgz")
    for sets in ((), ("externalSecrets.enabled=true",)):
        assert template((), sets, chart=archive) == template((), sets)  # files/crds and every template packaged


# ------------------------------------------------------------------------- operator/deploy = the chart


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    kustomize = find_binary("kustomize")
    if kustomize is None:
        pytest.skip("kustomize not found: run `python -m tests.peers.install kustomize`")
    done = subprocess.run([str(kustomize), "build", str(folder)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def keyed(docs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}
    assert len(out) == len(docs), "duplicate objects"
    return out


def test_kustomize_build_of_operator_deploy_equals_the_chart(helm_ok: None) -> None:
    base = render(chart_render.BASE, namespace="kube-system")
    assert keyed(kustomize_build(DEPLOY)) == keyed(base)
    with_shards = keyed(render(chart_render.BASE, chart_render.SHARDS, namespace="kube-system"))
    added = {k: v for k, v in with_shards.items() if k not in keyed(base)}
    assert keyed(kustomize_build(DEPLOY / "shards")) == added and added
    eso = [d for d in render(chart_render.BASE, chart_render.ESO_CRDS, namespace="kube-system")
           if d["kind"] == "CustomResourceDefinition" and d["spec"]["group"] == "external-secrets.io"]
    assert keyed(kustomize_build(DEPLOY / "crds" / "external-secrets")) == keyed(eso) and len(eso) == 4


def test_operator_deploy_files_are_the_rendered_templates_comments_included(helm_ok: None) -> None:
    stale = chart_render.stale()
    assert not stale, f"stale: {stale}; run `python -m tests.operator.chart_render --write`"
    assert chart_render.main(["--check"]) == 0


# ------------------------------------------------------------------- on a real kube-apiserver


@pytest.fixture(scope="module")
def chart_cluster(helm_ok: None) -> Iterator[KubeCluster]:
    """A cluster of its own: the chart's CRDs are created for real (the session's cluster carries ESO's)."""
    with running_cluster() as cluster:
        from tests.peers.prometheus_operator import crds as monitoring_crds

        create_crds(cluster, monitoring_crds() or [])
        yield cluster


# The Prometheus Operator's kinds, validated against its release's CRDs (tests/peers/prometheus_operator.py),
# which chart_cluster creates when the Go module cache holds them.
MONITORING = {"ServiceMonitor", "PrometheusRule"}


def create_crds(cluster: KubeCluster, docs: list[dict[str, Any]]) -> None:
    """Server-side apply every CRD for real and wait until its API is served."""
    for crd in (d for d in docs if d["kind"] == "CustomResourceDefinition"):
        cluster.apply(resource_path(crd), crd, field_manager="secrets-kit-chart-test", force=True)
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v["storage"])
        deadline = time.monotonic() + 30
        while True:
            try:
                cluster.request("GET", f"/apis/{spec['group']}/{version}/{spec['names']['plural']}")
                break
            except KubeAPIError:
                assert time.monotonic() < deadline, f"{crd['metadata']['name']} not served"
                time.sleep(0.2)


def monitoring_served(cluster: KubeCluster) -> bool:
    try:
        cluster.request("GET", "/apis/monitoring.coreos.com/v1/servicemonitors")
        return True
    except KubeAPIError:
        return False


def dry_run(cluster: KubeCluster, docs: list[dict[str, Any]]) -> list[str]:
    """Every object, server-side applied with dryRun=All; returns what the API server accepted. Without
    the Prometheus Operator's CRDs the test skips after the other objects passed."""
    accepted = []
    monitoring = [d for d in docs if d["kind"] in MONITORING]
    if monitoring and not monitoring_served(cluster):
        from tests.peers.prometheus_operator import INSTALL_HINT as HINT

        docs = [d for d in docs if d["kind"] not in MONITORING]
        accepted = dry_run(cluster, docs)
        pytest.skip(f"{len(accepted)} objects accepted; {len(monitoring)} ServiceMonitor/PrometheusRule not "
                    f"checked: no Prometheus Operator CRDs ({HINT})")
    for doc in docs:
        if doc["kind"] == "CustomResourceDefinition":
            continue
        result = cluster.request("PATCH", f"{resource_path(doc)}?fieldManager=secrets-kit-chart-test&dryRun=All&force=true",
                                 doc, content_type="application/apply-patch+yaml")
        assert result["kind"] == doc["kind"] and result["metadata"]["name"] == doc["metadata"]["name"]
        accepted.append(f"{doc['kind']}/{doc['metadata']['name']}")
    return accepted


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_every_preset_passes_server_side_dry_run(chart_cluster: KubeCluster, preset: str | None) -> None:
    chart_cluster.ensure_namespace("sk")
    docs = render(("ci/" + preset,) if preset else ())
    create_crds(chart_cluster, docs)
    accepted = dry_run(chart_cluster, docs)
    assert len(accepted) == len([d for d in docs if d["kind"] != "CustomResourceDefinition"]) > 0


def boolean_paths(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, bool):
        return [prefix]
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in boolean_paths(value, f"{prefix}.{key}" if prefix else key)]
    return []


TOGGLES = boolean_paths(VALUES)
# (base, flipped value) -> why it must fail (the other flips must render)
REFUSED = {(None, "sealedSecrets.enabled"): "nothing to run",
           (None, "externalSecrets.rbac.grantWhenDisabled"): "ownDeployment=false too",
           ("ci/everything-values.yaml", "externalSecrets.ownDeployment"): "need externalSecrets.ownDeployment=true"}


def test_the_toggle_list_covers_the_controllers() -> None:
    for path in ("sealedSecrets.enabled", "externalSecrets.enabled", "externalSecrets.ownDeployment",
                 "crds.keep", "crds.externalSecrets.install", "serviceMonitor.enabled", "prometheusRule.enabled",
                 "labels.helm", "externalSecrets.rbac.grantWhenDisabled", "sealedSecrets.args.generate-key"):
        assert path in TOGGLES


@pytest.mark.parametrize("base", [None, "ci/everything-values.yaml"])
def test_every_boolean_toggle_renders_objects_the_api_server_accepts(chart_cluster: KubeCluster,
                                                                     base: str | None) -> None:
    chart_cluster.ensure_namespace("sk")
    base_values = yaml.safe_load((CHART / base).read_text()) if base else {}

    def current(path: str) -> bool:
        for source in (base_values, VALUES):
            node: Any = source
            for part in path.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, bool):
                return node
        raise AssertionError(path)

    rendered = 0
    for path in TOGGLES:
        flip = f"{path}={str(not current(path)).lower()}"
        values = (base,) if base else ()
        if (base, path) in REFUSED:
            with pytest.raises(RuntimeError, match=re.escape(REFUSED[(base, path)])):
                template(values, (flip,))
            continue
        docs = render(values, (flip,))
        create_crds(chart_cluster, docs)
        assert dry_run(chart_cluster, docs), flip
        rendered += 1
    assert rendered >= len(TOGGLES) - 2


# ---------------------------------------------------------------------- helm install / uninstall


def helm_env(tmp_path: Path) -> dict[str, str]:
    import os

    return {**{k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBECONFIG"))},
            "HELM_CACHE_HOME": str(tmp_path / "helm-cache"), "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
            "HELM_DATA_HOME": str(tmp_path / "helm-data")}


@pytest.fixture
def fresh_cluster(helm_ok: None) -> Iterator[KubeCluster]:
    """No CRDs yet: Helm refuses to take over CRDs another tool created (see operator/deploy/README.md)."""
    with running_cluster() as cluster:
        yield cluster


def test_helm_install_then_uninstall_leaves_the_crds_and_their_objects(fresh_cluster: KubeCluster,
                                                                       tmp_path: Path) -> None:
    chart_cluster = fresh_cluster
    env = helm_env(tmp_path)

    def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(chart_render.helm_binary()), "--kubeconfig", str(chart_cluster.kubeconfig), *args],
                              capture_output=True, text=True, timeout=180, env=env, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    ns = "sk-install"
    installed = run_helm("install", "secrets-kit", str(CHART), "-n", ns, "--create-namespace",
                         "--set", "externalSecrets.enabled=true")
    assert f"kubeseal --controller-namespace {ns} --fetch-cert" in installed.stdout  # NOTES.txt
    listed = run_helm("list", "-n", ns, "-o", "json")
    assert '"status":"deployed"' in listed.stdout
    assert chart_cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/sealed-secrets-controller")
    assert chart_cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/secrets-kit-external-secrets")
    # An upgrade that scales the ExternalSecret controller out: no immutable field (selectors) changes.
    run_helm("upgrade", "secrets-kit", str(CHART), "-n", ns, "--set", "externalSecrets.enabled=true",
             "--set", "externalSecrets.replicas=3", "--set", "externalSecrets.shards=3")
    scaled = chart_cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/secrets-kit-external-secrets")
    assert scaled["spec"]["replicas"] == 3
    assert "--shards=3" in scaled["spec"]["template"]["spec"]["containers"][0]["command"]
    chart_cluster.request("GET", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/secrets-kit-external-secrets-shards")
    sealed = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
              "metadata": {"name": "kept", "namespace": ns}, "spec": {"encryptedData": {"a": "AAAA"}}}
    external = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                "metadata": {"name": "kept", "namespace": ns},
                "spec": {"secretStoreRef": {"name": "store", "kind": "SecretStore"},
                         "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]}}
    chart_cluster.request("POST", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets", sealed)
    chart_cluster.request("POST", f"/apis/external-secrets.io/v1/namespaces/{ns}/externalsecrets", external)

    done = run_helm("uninstall", "secrets-kit", "-n", ns)
    assert "kept due to the resource policy" in done.stdout + done.stderr
    for crd in ("sealedsecrets.bitnami.com", "externalsecrets.external-secrets.io", "secretstores.external-secrets.io",
                "clustersecretstores.external-secrets.io", "clusterexternalsecrets.external-secrets.io"):
        chart_cluster.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")
    assert chart_cluster.request("GET", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets/kept")
    assert chart_cluster.request("GET", f"/apis/external-secrets.io/v1/namespaces/{ns}/externalsecrets/kept")
    for gone in (f"/apis/apps/v1/namespaces/{ns}/deployments/sealed-secrets-controller",
                 f"/api/v1/namespaces/{ns}/services/sealed-secrets-controller",
                 "/apis/rbac.authorization.k8s.io/v1/clusterroles/secrets-kit-sealed-secrets",
                 "/apis/rbac.authorization.k8s.io/v1/clusterroles/secrets-kit-external-secrets"):
        with pytest.raises(KubeAPIError) as err:
            chart_cluster.request("GET", gone)
        assert err.value.status == 404, gone
    # Installed again under the same name and namespace, the release takes the kept CRDs back.
    run_helm("install", "secrets-kit", str(CHART), "-n", ns, "--set", "externalSecrets.enabled=true")
    assert chart_cluster.request("GET", f"/apis/bitnami.com/v1alpha1/namespaces/{ns}/sealedsecrets/kept")


# -------------------------------------------------------------- the rendered commands, running


@pytest.mark.parametrize("preset", [None, "combined-values.yaml", "external-values.yaml",
                                    "external-shards-values.yaml"])
def test_the_rendered_commands_run_against_the_api_server(chart_cluster: KubeCluster, preset: str | None,
                                                          tmp_path: Path) -> None:
    """Each Deployment's command, as rendered, runs `secrets-kit operator run` until ready and stops cleanly
    on SIGTERM (out of cluster: only --kubeconfig and loopback listen addresses are appended, which the
    last-given-wins rule of the CLI lets override the chart's `:PORT`)."""
    import os
    import urllib.request

    from tests.peers.kube import free_port, start_process, stop_child, wait_until_ready
    from tests.peers.our_operator import secrets_kit_binary

    for namespace in ("sk", "team-a"):
        chart_cluster.ensure_namespace(namespace)
    create_crds(chart_cluster, render((), ("externalSecrets.enabled=true",)))  # also for the ESO-CRDs-kept preset
    docs = render(("ci/" + preset,) if preset else ())
    ran = []
    for name, command in commands(docs).items():
        api_port, metrics_port = free_port(), free_port()
        extra = ["--kubeconfig", str(chart_cluster.kubeconfig)]
        if "--sealed-secrets" in command:
            extra += [f"--listen-addr=127.0.0.1:{api_port}", f"--listen-metrics-addr=127.0.0.1:{metrics_port}",
                      "--key-size=2048"]  # a faster first key; the chart's 4096 is parsed all the same
            ready_url = f"http://127.0.0.1:{api_port}/readyz"
        else:
            extra += [f"--metrics-addr=127.0.0.1:{metrics_port}"]
            ready_url = f"http://127.0.0.1:{metrics_port}/readyz"
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")}
        env["POD_NAMESPACE"] = "sk"  # the Deployment's fieldRef
        log_file = tmp_path / f"{name}.log"
        proc = start_process([secrets_kit_binary(), *command[1:], *extra], log_file, env=env)

        def ready(url: str = ready_url) -> bool:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return bool(resp.status == 200)

        try:
            wait_until_ready(ready, f"{name} ({preset or 'defaults'})", proc, log_file, timeout=90)
        finally:
            stop_child(proc, timeout=30)
        assert proc.returncode == 0, log_file.read_text()[-2000:]
        ran.append(name)
    assert ran
