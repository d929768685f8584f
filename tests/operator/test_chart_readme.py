"""operator/deploy/README.md's Helm chart section runs as written on a kube-apiserver peer: the install, kubeseal
fetching the certificate through the chart's Service with --controller-namespace, the uninstall that keeps
the CRDs, the adoption of a kept CRD by a release in another namespace, and the regeneration commands.

No kubelet runs, so the chart's Deployment starts no Pod: our operator runs out of cluster with the chart's
namespace, and the test writes what the kubelet and the endpoints controller would (a Running Pod with the
Deployment's labels and the operator's address, the Service's Endpoints). kubeseal then goes through the
chart's own Service by name, namespace and port name."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.operator.chart_render import DEPLOY, helm_binary
from tests.peers.cache import find_binary
from tests.peers.kube import INSTALL_HINT, KubeCluster, missing_binaries, start_cluster

REPO = Path(__file__).resolve().parents[2]
README = DEPLOY / "README.md"
pytestmark = pytest.mark.peer("kube")


def section() -> str:
    text = README.read_text()
    start = text.index("## Helm chart (`operator/chart/secrets-kit`)")
    return text[start:text.index("\n## ", start + 5)]


def blocks(kind: str) -> list[list[str]]:
    return [[line for line in block.splitlines() if line.strip()]
            for block in re.findall(rf"```sh {kind}\n(.*?)```", section(), re.S)]


def test_the_chart_section_shows_its_commands() -> None:
    install, uninstall, adopt = blocks("cluster")
    assert install[0].startswith("helm install secrets-kit operator/chart/secrets-kit --namespace secrets-kit")
    assert "--controller-namespace secrets-kit" in install[1]
    assert uninstall[0].startswith("helm uninstall") and adopt[-1].startswith("helm install")
    assert blocks("dev") == [["python -m tests.operator.image_lock --write",
                              "python -m tests.operator.chart_render --write"]]


@pytest.fixture
def readme_cluster() -> Iterator[KubeCluster]:
    absent = missing_binaries()
    if absent:
        pytest.skip(f"real kube-apiserver peer missing ({', '.join(absent)}): {INSTALL_HINT}")
    if find_binary("helm") is None:
        pytest.skip("helm not found: run `python -m tests.peers.install helm`")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def stand_in_for_the_kubelet(cluster: KubeCluster, namespace: str, address: str, port: int) -> None:
    """The Pod the chart's Deployment would run (its labels, Running at the operator's address) and the
    Endpoints of the chart's Service (the endpoints controller's work)."""
    api = cluster.request
    deployment = api("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/sealed-secrets-controller")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = api("GET", f"/api/v1/namespaces/{namespace}/services/sealed-secrets-controller")
    assert service["spec"]["selector"].items() <= labels.items()
    pod = "sealed-secrets-controller-0"
    api("POST", f"/api/v1/namespaces/{namespace}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": "none", "containers": [{"name": "controller", "image": "example.invalid/secrets-kit",
                                                     "ports": [{"name": "http", "containerPort": port}]}]}})
    api("PATCH", f"/api/v1/namespaces/{namespace}/pods/{pod}/status",
        {"status": {"phase": "Running", "podIP": address, "podIPs": [{"ip": address}]}},
        content_type="application/merge-patch+json")
    port_name = service["spec"]["ports"][0]["name"]
    api("POST", f"/api/v1/namespaces/{namespace}/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "sealed-secrets-controller", "namespace": namespace},
        "subsets": [{"addresses": [{"ip": address, "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace}}],
                     "ports": [{"name": port_name, "port": port}]}]})


def test_the_chart_section_runs_as_written(readme_cluster: KubeCluster, kubeseal_bin: Path, kubectl: Path,
                                           proxy_ok: None, tmp_path: Path) -> None:
    from tests.peers.our_operator import secrets_kit_binary, start_operator

    cluster = readme_cluster
    install, uninstall, adopt = blocks("cluster")
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    shutil.copyfile(cluster.kubeconfig, home / ".kube" / "config")
    path = os.pathsep.join([str(Path(secrets_kit_binary()).parent), str(helm_binary().parent),
                            str(kubeseal_bin.parent), str(kubectl.parent), os.environ.get("PATH", "")])
    env = {"HOME": str(home), "PATH": path, "HELM_CACHE_HOME": str(tmp_path / "helm" / "cache"),
           "HELM_CONFIG_HOME": str(tmp_path / "helm" / "config"), "HELM_DATA_HOME": str(tmp_path / "helm" / "data")}
    work = tmp_path / "work"
    work.mkdir()
    # Relative paths in the README are from the repository root; cert.pem is written to a scratch copy of it.
    (work / "operator").symlink_to(REPO / "operator")

    def sh(line: str, cwd: Path = work) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", line], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=180, check=False)
        assert done.returncode == 0, f"{shlex.quote(line)}: {done.stdout}{done.stderr}"
        return done

    sh(install[0])
    ours = start_operator(cluster, namespace="secrets-kit", expose=False)
    try:
        stand_in_for_the_kubelet(cluster, "secrets-kit", ours.address, ours.port)
        sh(install[1])
        assert (work / "cert.pem").read_bytes().strip() == ours.newest_cert().strip()
    finally:
        ours.stop()
    done = [sh(line) for line in uninstall][-1]
    assert "sealedsecrets.bitnami.com" in done.stdout
    for line in adopt:
        sh(line)
    assert cluster.request("GET", "/apis/apps/v1/namespaces/platform/deployments/sealed-secrets-controller")
    generated = {p: p.read_bytes() for p in (DEPLOY / "requirements.lock", DEPLOY / "deployment.yaml")}
    for line in blocks("dev")[0]:
        sh(line, cwd=REPO)
    assert {p: p.read_bytes() for p in generated} == generated  # already current: nothing changed
