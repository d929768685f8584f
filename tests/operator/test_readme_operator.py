"""The README's "3. In-cluster operator" commands (```sh cluster blocks), run as written against
the kube-apiserver peer: HOME holds the cluster's kubeconfig, PATH the real kubeseal and kubectl,
and the listen addresses come from upstream's SEALED_SECRETS_* variables (free ports)."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.kube import KubeCluster, free_port, start_cluster, stop_child, wait_until_ready
from tests.peers.our_operator import OurController, secrets_kit_binary
from tests.peers.sealed_controller import external_ipv4, free_port_on

from .support import assert_no_plaintext, marker

pytestmark = pytest.mark.peer("kube")
REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def cluster_blocks() -> list[list[str]]:
    text = README.read_text()
    section = text[text.index("### 3. In-cluster operator"):]
    section = section[:section.index("\n### ", 5)]
    return [[line for line in block.splitlines() if line.strip()]
            for block in re.findall(r"```sh cluster\n(.*?)```", section, re.S)]


def test_the_readme_shows_cluster_commands() -> None:
    blocks = cluster_blocks()
    assert len(blocks) == 2 and blocks[0][0] == "kubectl apply -f operator/deploy/crd.yaml"
    assert blocks[0][-1].startswith("secrets-kit operator run")


def test_readme_operator_commands_run_as_written(op_cluster: KubeCluster, kubeseal_bin: Path, kubectl: Path,
                                                 proxy_ok: None, tmp_path: Path) -> None:
    run_block, use_block = cluster_blocks()
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    shutil.copyfile(op_cluster.kubeconfig, home / ".kube" / "config")
    address = external_ipv4()
    assert address is not None
    port, metrics_port = free_port_on(address), free_port()
    bin_path = os.pathsep.join([str(Path(secrets_kit_binary()).parent), str(kubeseal_bin.parent),
                                str(kubectl.parent), os.environ.get("PATH", "")])
    env = {"HOME": str(home), "PATH": bin_path,
           "SEALED_SECRETS_LISTEN_ADDR": f"{address}:{port}",
           "SEALED_SECRETS_LISTEN_METRICS_ADDR": f"127.0.0.1:{metrics_port}"}
    value = marker("readme")
    (tmp_path / "mysecret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysecret\n  namespace: default\n"
        f"stringData:\n  password: {value}\n")
    log_file = tmp_path / "operator.log"
    *setup, command = run_block
    for line in setup:  # the SealedSecret CRD, from the repository root as the README says
        done = subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{shlex.quote(line)}: {done.stdout}{done.stderr}"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(["bash", "-c", command], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    ours = OurController(cluster=op_cluster, namespace="kube-system", name="sealed-secrets-controller",
                         address=address, port=port, log_file=log_file, workdir=tmp_path,
                         metrics_port=metrics_port, proc=proc)
    try:
        wait_until_ready(ours.ready, "README operator", proc, log_file)
        ours.expose("kube-system", "sealed-secrets-controller")  # what the Deployment's Service does
        for line in use_block:
            deadline = time.monotonic() + 30
            while True:
                done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True,
                                      text=True, timeout=60)
                # only the last command reads what the controller writes asynchronously: retry it
                if done.returncode == 0 or line != use_block[-1] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert done.returncode == 0, f"{shlex.quote(line)}: {done.stdout}{done.stderr}"
        assert "mysecret" in done.stdout
        assert_no_plaintext([value], log_file.read_text(), ours.metrics_text())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        stop_child(proc)


def eso_section() -> str:
    text = README.read_text()
    section = text[text.index("### 4. ExternalSecrets (ESO-compatible controller)"):]
    return section[:section.index("\n### ", 5)]


def eso_blocks() -> list[list[str]]:
    return [[line for line in block.splitlines() if line.strip()]
            for block in re.findall(r"```sh cluster\n(.*?)```", eso_section(), re.S)]


def test_the_readme_shows_external_secrets_commands() -> None:
    crds, run, _use = eso_blocks()
    assert crds == ["kubectl apply --server-side -k operator/deploy/crds/external-secrets"]
    assert run[0].startswith("secrets-kit operator run --external-secrets")
    assert "operator/deploy/README.md" in eso_section()


@pytest.fixture
def fresh_cluster() -> Iterator[KubeCluster]:
    """A cluster of its own: the README installs our CRDs "on a cluster without ESO", and the session's
    shared cluster carries ESO's CRDs (the differential tests)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_readme_external_secrets_commands_run_as_written(fresh_cluster: KubeCluster, kubectl: Path,
                                                         tmp_path: Path) -> None:
    """The ExternalSecrets part: our CRDs applied from the repository root, the controller run as
    written (METRICS_ADDR a free port), the README's externalsecret.yaml applied and its Secret read."""
    op_cluster = fresh_cluster
    crds_block, run_block, use_block = eso_blocks()
    [manifest] = re.findall(r"```yaml externalsecret.yaml\n(.*?)```", eso_section(), re.S)
    (tmp_path / "externalsecret.yaml").write_text(manifest)
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    shutil.copyfile(op_cluster.kubeconfig, home / ".kube" / "config")
    metrics_port = free_port()
    bin_path = os.pathsep.join([str(Path(secrets_kit_binary()).parent), str(kubectl.parent),
                                os.environ.get("PATH", "")])
    env = {"HOME": str(home), "PATH": bin_path, "METRICS_ADDR": f"127.0.0.1:{metrics_port}"}

    def sh(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)

    for line in crds_block:
        done = sh(line, README.parent)
        assert done.returncode == 0, f"{shlex.quote(line)}: {done.stdout}{done.stderr}"
    log_file = tmp_path / "operator.log"
    [command] = run_block
    with log_file.open("wb") as out:
        proc = subprocess.Popen(["bash", "-c", command], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)

    try:
        wait_until_ready(ready, "README ExternalSecret controller", proc, log_file)
        for line in use_block:
            deadline = time.monotonic() + 30
            while True:
                done = sh(line, tmp_path)
                if (done.returncode == 0 and done.stdout) or line != use_block[-1] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert done.returncode == 0, f"{shlex.quote(line)}: {done.stdout}{done.stderr}"
        assert base64.b64decode(done.stdout) == b"hello-from-the-store"
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        assert_no_plaintext(["hello-from-the-store"], log_file.read_text(), metrics)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        stop_child(proc)
