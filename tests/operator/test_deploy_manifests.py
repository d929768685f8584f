"""operator/deploy/: our CRD is schema-compatible with Bitnami's, the RBAC is least privilege and
enough, and every manifest is accepted by a real kube-apiserver (server-side dry-run)."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from secrets_kit.k8s.manifests import load_documents
from tests.peers.kube import KubeAPIError, KubeCluster, resource_path

DEPLOY = Path(__file__).resolve().parents[2] / "operator" / "deploy"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def manifests() -> list[dict[str, Any]]:
    kustomization = load_documents((DEPLOY / "kustomization.yaml").read_bytes(), source="kustomization.yaml")[0]
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs.extend(load_documents((DEPLOY / name).read_bytes(), source=name))
    return docs


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def upstream() -> dict[str, Any]:
    from tests.peers.sealed_controller import upstream_crd

    try:
        return upstream_crd()
    except (RuntimeError, OSError) as err:
        pytest.skip(f"upstream CRD not in the Go module cache ({err}): run `python -m tests.peers.install`")


# ------------------------------------------------------------------------------------ static checks


def test_kustomization_lists_every_manifest_in_the_folder() -> None:
    kustomization = load_documents((DEPLOY / "kustomization.yaml").read_bytes(), source="kustomization.yaml")[0]
    assert sorted(kustomization["resources"]) == sorted(p.name for p in DEPLOY.glob("*.yaml")
                                                        if p.name != "kustomization.yaml")


def shape(schema: dict[str, Any], path: str = "") -> dict[str, tuple[Any, ...]]:
    """Every field path a schema describes, with what it accepts there (descriptions ignored)."""
    out = {path or ".": (schema.get("type"), schema.get("format"), bool(schema.get("nullable")),
                         bool(schema.get("x-kubernetes-preserve-unknown-fields")),
                         tuple(sorted(schema.get("required", []))))}
    for name, sub in (schema.get("properties") or {}).items():
        out.update(shape(sub, f"{path}.{name}"))
    if isinstance(schema.get("additionalProperties"), dict):
        out.update(shape(schema["additionalProperties"], f"{path}.*"))
    if isinstance(schema.get("items"), dict):
        out.update(shape(schema["items"], f"{path}[]"))
    return out


def test_crd_identity_is_upstreams(upstream: dict[str, Any]) -> None:
    ours = one("CustomResourceDefinition")
    assert ours["metadata"]["name"] == upstream["metadata"]["name"] == "sealedsecrets.bitnami.com"
    for key in ("group", "names", "scope"):
        assert ours["spec"][key] == upstream["spec"][key]
    strip = ("schema",)
    assert [{k: v for k, v in ver.items() if k not in strip} for ver in ours["spec"]["versions"]] == \
           [{k: v for k, v in ver.items() if k not in strip} for ver in upstream["spec"]["versions"]]


def test_crd_schema_accepts_exactly_what_upstreams_accepts(upstream: dict[str, Any]) -> None:
    ours = shape(one("CustomResourceDefinition")["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    theirs = shape(upstream["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    assert len(theirs) > 30  # the walk found upstream's fields
    missing = sorted(set(theirs) - set(ours))
    assert not missing, f"upstream accepts field paths ours does not describe: {missing}"
    different = {p: (ours[p], theirs[p]) for p in theirs if ours[p] != theirs[p]}
    assert not different, f"(ours, upstream's) differ at: {different}"
    assert set(ours) == set(theirs), f"ours describes extra paths: {sorted(set(ours) - set(theirs))}"


SEALED_ROLE, ESO_ROLE = "secrets-kit-sealed-secrets", "secrets-kit-external-secrets"


def test_rbac_is_exactly_what_the_controller_calls() -> None:
    role = one("ClusterRole", SEALED_ROLE)
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): sorted(r["verbs"]) for r in role["rules"]}
    assert rules == {
        (("bitnami.com",), ("sealedsecrets",)): ["get", "list", "watch"],
        (("bitnami.com",), ("sealedsecrets/status",)): ["patch", "update"],
        (("",), ("secrets",)): ["create", "get", "list", "update", "watch"],
        (("",), ("events",)): ["create", "patch"],
    }
    binding = one("ClusterRoleBinding", SEALED_ROLE)
    sa = one("ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


def test_external_secrets_rbac_is_exactly_what_that_controller_calls() -> None:
    role = one("ClusterRole", ESO_ROLE)
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): sorted(r["verbs"]) for r in role["rules"]}
    kinds = ("externalsecrets", "secretstores", "clustersecretstores", "clusterexternalsecrets")
    assert rules == {
        (("external-secrets.io",), kinds): ["get", "list", "watch"],
        (("external-secrets.io",), tuple(f"{k}/status" for k in kinds)): ["patch", "update"],
        (("external-secrets.io",), ("externalsecrets",)): ["create", "delete", "update"],
        (("external-secrets.io",), ("externalsecrets/finalizers", "clusterexternalsecrets/finalizers")): ["update"],
        (("",), ("secrets",)): ["create", "delete", "get", "list", "update", "watch"],
        (("",), ("configmaps",)): ["get"],
        (("",), ("namespaces",)): ["get", "list", "watch"],
        (("",), ("serviceaccounts",)): ["get"],
        (("",), ("serviceaccounts/token",)): ["create"],
        (("",), ("events",)): ["create", "patch"],
    }
    lease = one("Role")
    assert lease["metadata"]["namespace"] == one("ServiceAccount")["metadata"]["namespace"]
    assert [(r["apiGroups"], r["resources"], r.get("resourceNames"), sorted(r["verbs"])) for r in lease["rules"]] == [
        (["coordination.k8s.io"], ["leases"], ["external-secrets-controller"], ["get", "update"]),
        (["coordination.k8s.io"], ["leases"], None, ["create"])]
    lease_binding = one("RoleBinding")
    assert lease_binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                        "name": lease["metadata"]["name"]}
    binding = one("ClusterRoleBinding", ESO_ROLE)
    sa = one("ServiceAccount")
    assert lease_binding["subjects"] == binding["subjects"]
    assert binding["roleRef"]["name"] == ESO_ROLE
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


def test_deployment_runs_unprivileged_with_probes_on_healthz() -> None:
    deployment = one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert container["command"][:3] == ["secrets-kit", "operator", "run"]
    security = container["securityContext"]
    assert security == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]}}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8080, "metrics": 8081}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_services_have_upstreams_name_and_port_name() -> None:
    http = one("Service", "sealed-secrets-controller")
    metrics = one("Service", "sealed-secrets-controller-metrics")
    assert http["metadata"]["namespace"] == "kube-system"  # kubeseal's default --controller-namespace
    # kubeseal's proxy path uses the first port's name: http:sealed-secrets-controller:http
    assert http["spec"]["ports"][0] == {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    assert metrics["spec"]["ports"] == [{"name": "metrics", "port": 8081, "targetPort": "metrics", "protocol": "TCP"}]
    labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
    for service in (http, metrics):
        assert service["spec"]["selector"].items() <= labels.items()


# ------------------------------------------------------------------------ on a real kube-apiserver


def test_every_manifest_passes_server_side_dry_run(kube_cluster: KubeCluster) -> None:
    for doc in manifests():
        path = resource_path(doc)
        result = kube_cluster.request(
            "PATCH", f"{path}?fieldManager=secrets-kit-deploy-test&dryRun=All&force=true", doc,
            content_type="application/apply-patch+yaml")
        assert result["kind"] == doc["kind"] and result["metadata"]["name"] == doc["metadata"]["name"], path


def renamed(crd: dict[str, Any], group: str) -> dict[str, Any]:
    out = copy.deepcopy(crd)
    out["metadata"] = {"name": f"sealedsecrets.{group}"}
    out["spec"]["group"] = group
    return out


def establish(cluster: KubeCluster, crd: dict[str, Any]) -> None:
    try:
        cluster.request("POST", CRDS, crd)
    except KubeAPIError as err:
        if err.status != 409:
            raise
    group = crd["spec"]["group"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current = cluster.request("GET", f"{CRDS}/{crd['metadata']['name']}")
        conditions = (current.get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            try:
                cluster.request("GET", f"/apis/{group}/v1alpha1/sealedsecrets")
                return
            except KubeAPIError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"CRD for {group} not established")


def corpus(kubeseal_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """SealedSecret bodies, good and bad, without apiVersion (set per group)."""
    b64 = base64.b64encode(b"\x00\x10" + bytes(40)).decode()
    full = {"template": {"type": "kubernetes.io/tls", "immutable": True,
                         "metadata": {"name": "x", "labels": {"a": "b"}, "annotations": {"c": "d"},
                                      "finalizers": ["f/x"], "generateName": "kept-", "unknownMeta": {"k": 1}},
                         "data": {"dsn": "{{ .password }}"}, "bogus": 1},
            "encryptedData": {"password": b64}, "extra": "pruned"}
    return {
        "kubeseal": kubeseal_json,
        "full": {"kind": "SealedSecret", "metadata": {"name": "full"}, "spec": full},
        "v1data": {"kind": "SealedSecret", "metadata": {"name": "v1data"}, "spec": {"data": b64, "encryptedData": {}}},
        "nulls": {"kind": "SealedSecret", "metadata": {"name": "nulls"},
                  "spec": {"encryptedData": {"a": b64}, "template": {"metadata": None, "data": None}}},
        "no-spec": {"kind": "SealedSecret", "metadata": {"name": "no-spec"}},
        "no-encrypted-data": {"kind": "SealedSecret", "metadata": {"name": "no-ed"}, "spec": {"template": {}}},
        "encrypted-data-string": {"kind": "SealedSecret", "metadata": {"name": "ed-str"},
                                  "spec": {"encryptedData": "abc"}},
        "immutable-string": {"kind": "SealedSecret", "metadata": {"name": "imm"},
                             "spec": {"encryptedData": {}, "template": {"immutable": "yes"}}},
        "template-data-number": {"kind": "SealedSecret", "metadata": {"name": "tdn"},
                                 "spec": {"encryptedData": {}, "template": {"data": {"a": 1}}}},
        "labels-number": {"kind": "SealedSecret", "metadata": {"name": "ln"},
                          "spec": {"encryptedData": {}, "template": {"metadata": {"labels": {"a": 1}}}}},
        "data-not-base64": {"kind": "SealedSecret", "metadata": {"name": "dnb"},
                            "spec": {"encryptedData": {}, "data": "not base64!"}},
    }


def test_our_crd_stores_and_refuses_exactly_what_upstreams_does(kube_cluster: KubeCluster, kube_namespace: str,
                                                               upstream: dict[str, Any], kubeseal_bin: Path,
                                                               tmp_path: Path) -> None:
    """Both CRDs, under two private groups on one API server; the same bodies go to each."""
    from secrets_kit.sealed.keys import KeyFolder
    from tests.sealed.helpers import kubeseal, secret, yaml_of

    pair = KeyFolder(tmp_path / "keys").create(bits=2048, name="k")
    sealed = kubeseal(kubeseal_bin, "--cert", pair.cert_path, "-o", "json",
                      input=yaml_of(secret("kubeseal", kube_namespace, string_data={"p": "v"}, labels={"l": "1"})))
    assert sealed.returncode == 0, sealed.stderr
    groups = {"ours": "ours.deploy-test.secrets-kit.io", "theirs": "theirs.deploy-test.secrets-kit.io"}
    establish(kube_cluster, renamed(one("CustomResourceDefinition"), groups["ours"]))
    establish(kube_cluster, renamed(upstream, groups["theirs"]))
    outcomes: dict[str, dict[str, Any]] = {}
    for who, group in groups.items():
        results: dict[str, Any] = {}
        for case, body in corpus(json.loads(sealed.stdout)).items():
            doc = {**copy.deepcopy(body), "apiVersion": f"{group}/v1alpha1"}
            try:
                got = kube_cluster.request("POST", f"/apis/{group}/v1alpha1/namespaces/{kube_namespace}/sealedsecrets",
                                           doc)
                results[case] = ("stored", got.get("spec"))
                status = {"observedGeneration": 1, "conditions": [
                    {"type": "Synced", "status": "False", "lastUpdateTime": "2026-01-01T00:00:00Z",
                     "lastTransitionTime": "2026-01-01T00:00:00Z", "message": "m", "reason": "r"}]}
                after = kube_cluster.request(
                    "PUT", f"/apis/{group}/v1alpha1/namespaces/{kube_namespace}/sealedsecrets/"
                           f"{got['metadata']['name']}/status", {**got, "status": status})
                results[case + "/status"] = after.get("status")
            except KubeAPIError as err:
                results[case] = ("refused", err.status)
        outcomes[who] = results
    assert outcomes["ours"] == outcomes["theirs"]
    stored = outcomes["ours"]
    assert stored["kubeseal"][0] == "stored" and stored["no-spec"] == ("refused", 422)
    assert "extra" not in stored["full"][1] and stored["full"][1]["template"]["metadata"]["unknownMeta"] == {"k": 1}


def test_rbac_allows_what_the_controller_needs_and_nothing_more(kube_cluster: KubeCluster,
                                                                kube_namespace: str) -> None:
    rules = one("ClusterRole", SEALED_ROLE)["rules"]
    user = kube_cluster.create_service_account(kube_namespace, "controller", cluster_rules=rules)

    def allowed(verb: str, resource: str, group: str = "", namespace: str = "default",
                subresource: str = "") -> bool:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                                  "namespace": namespace, "subresource": subresource}}}
        result = kube_cluster.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review,
                                      token=user.token)
        return bool(result["status"]["allowed"])

    for verb in ("get", "list", "watch"):
        assert allowed(verb, "sealedsecrets", "bitnami.com", "any-ns")
    for verb in ("update", "patch"):
        assert allowed(verb, "sealedsecrets", "bitnami.com", subresource="status")
    for verb in ("get", "list", "watch", "create", "update"):
        assert allowed(verb, "secrets", namespace="apps")
        assert allowed(verb, "secrets", namespace="kube-system")  # the key Secrets
    assert allowed("create", "events", namespace="apps")
    for verb, resource, group, sub in [("delete", "secrets", "", ""), ("patch", "secrets", "", ""),
                                       ("create", "sealedsecrets", "bitnami.com", ""),
                                       ("update", "sealedsecrets", "bitnami.com", ""),
                                       ("delete", "sealedsecrets", "bitnami.com", ""),
                                       ("get", "configmaps", "", ""), ("list", "pods", "", ""),
                                       ("create", "services", "", "proxy")]:
        assert not allowed(verb, resource, group, subresource=sub), (verb, resource, sub)


def test_kubectl_apply_k_dry_run(kube_cluster: KubeCluster, kubectl: Path) -> None:
    """The install command as a user types it, against the real API server (server-side dry-run)."""
    done = kube_cluster.kubectl("apply", "-k", str(DEPLOY), "--dry-run=server", "--server-side",
                                "--force-conflicts", "--field-manager=secrets-kit-deploy-test")
    for doc in manifests():
        assert f"{doc['metadata']['name']} serverside-applied (server dry run)" in done.stdout, done.stdout


def test_external_secrets_rbac_allows_what_it_needs_and_nothing_more(kube_cluster: KubeCluster,
                                                                     kube_namespace: str) -> None:
    rules = one("ClusterRole", ESO_ROLE)["rules"]
    user = kube_cluster.create_service_account(kube_namespace, "eso-controller", one("Role")["rules"],
                                               cluster_rules=rules)

    def allowed(verb: str, resource: str, group: str = "", namespace: str = "apps", subresource: str = "",
                name: str = "") -> bool:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                                  "namespace": namespace, "subresource": subresource,
                                                  "name": name}}}
        result = kube_cluster.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review,
                                      token=user.token)
        return bool(result["status"]["allowed"])

    eso = "external-secrets.io"
    for kind in ("externalsecrets", "secretstores", "clustersecretstores", "clusterexternalsecrets"):
        for verb in ("get", "list", "watch"):
            assert allowed(verb, kind, eso), (verb, kind)
        assert allowed("patch", kind, eso, subresource="status"), kind
    for verb in ("get", "list", "watch", "create", "update", "delete"):
        assert allowed(verb, "secrets"), verb
    assert allowed("get", "configmaps") and allowed("create", "serviceaccounts", subresource="token")
    assert allowed("get", "serviceaccounts") and not allowed("list", "serviceaccounts")
    assert allowed("watch", "namespaces", namespace="") and allowed("create", "events")
    lease = ("coordination.k8s.io", kube_namespace)
    for verb in ("get", "update"):
        assert allowed(verb, "leases", lease[0], lease[1], name="external-secrets-controller")
        assert not allowed(verb, "leases", lease[0], lease[1], name="another-lease")
    assert allowed("create", "leases", *lease) and not allowed("delete", "leases", *lease,
                                                              name="external-secrets-controller")
    for verb, resource, group, sub in [("patch", "secrets", "", ""), ("deletecollection", "secrets", "", ""),
                                       ("list", "configmaps", "", ""), ("update", "configmaps", "", ""),
                                       ("create", "secretstores", eso, ""), ("update", "secretstores", eso, ""),
                                       ("delete", "clustersecretstores", eso, ""),
                                       ("update", "clusterexternalsecrets", eso, ""),
                                       ("create", "pushsecrets", eso, ""), ("list", "serviceaccounts", "", ""),
                                       ("update", "serviceaccounts", "", ""),
                                       ("create", "leases", "coordination.k8s.io", ""), ("list", "pods", "", "")]:
        assert not allowed(verb, resource, group, subresource=sub), (verb, resource, sub)
