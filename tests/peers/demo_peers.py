"""The local cluster demo's peers (tests/peers/demo.py): start them, install our CRDs, prepare the
cluster and the providers, seed the provider values, start our operator. Every process started is
recorded in `Started`, which stops them (also from the --keep state file).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import secrets
import shutil
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers.kube import (
    KubeAPIError,
    KubeCluster,
    free_port,
    scratch_dir,
    start_process,
    stop_pid,
    wait_until_ready,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CRD_FILES = [REPO / "operator" / "deploy" / "crd.yaml",
             *sorted((REPO / "operator" / "deploy" / "crds" / "external-secrets").glob("*.yaml"))]
ENVIRONMENTS = ("dev", "staging", "prod")
KEYS_NAMESPACE = "kube-system"
ESO_NAMESPACE, ESO_ACCOUNT = "external-secrets", "external-secrets"  # what the example stores name
ROLE_ARN = "arn:aws:iam::123456789012:role/external-secrets"  # the IRSA annotation a real install sets
GCP_PROJECT, AWS_REGION = "example-demo-project", "eu-west-1"  # as in the example stores
API = {"SealedSecret": ("/apis/bitnami.com/v1alpha1", "sealedsecrets"),
       "ExternalSecret": ("/apis/external-secrets.io/v1", "externalsecrets"),
       "ClusterSecretStore": ("/apis/external-secrets.io/v1", "clustersecretstores")}
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def say(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- peers


def missing_peers() -> list[str]:
    """What is missing to run the demo, each with the command that provides it."""
    from tests.peers import gcp, kube, vault

    out: list[str] = []
    absent = kube.missing_binaries()
    if absent:
        out.append(f"kube-apiserver peer ({', '.join(absent)}): {kube.INSTALL_HINT}")
    if vault.vault_binary() is None:
        out.append(f"OpenBao (bao): {vault.INSTALL_HINT}")
    if not gcp.emulator_installed():
        out.append(f"GCP Secret Manager peer (drongo): {gcp.INSTALL_HINT}")
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("moto.server") is None:
        out.append("moto server: run `pip install 'moto[server]'`")
    for module in ("hvac", "boto3", "google.cloud.secretmanager"):
        with contextlib.suppress(ModuleNotFoundError):
            if importlib.util.find_spec(module) is not None:
                continue
        out.append(f"Python package for {module}: run `pip install -e '.[all,dev]'`")
    if shutil.which("secrets-kit") is None and not (Path(sys.executable).parent / "secrets-kit").exists():
        out.append("the secrets-kit command: run `pip install -e '.[all,dev]'`")
    return out


@dataclass
class Started:
    """Every process the demo started: recorded for the --keep state file, stopped together, then the cluster."""

    cluster: KubeCluster | None = None
    processes: list[dict[str, Any]] = field(default_factory=list)  # {"what", "pid", "workdir"}
    exports: dict[str, str] = field(default_factory=dict)
    stoppers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def add(self, what: str, pid: int, workdir: Path, stop: Callable[[], None]) -> None:
        self.processes.append({"what": what, "pid": pid, "workdir": str(workdir)})
        self.stoppers.append(stop)

    def stop(self) -> None:
        stop_together(self.stoppers)
        self.stoppers.clear()
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None

    def to_json(self) -> dict[str, Any]:
        assert self.cluster is not None
        return {"kube": self.cluster.to_json(), "processes": self.processes, "exports": self.exports}


def stop_together(stoppers: list[Callable[[], None]]) -> None:
    """Run the stop functions at once: each waits for its process to exit (the operator takes a few
    seconds to finish on SIGTERM), and none depends on another. The cluster is stopped after them."""
    from concurrent.futures import ThreadPoolExecutor

    def quietly(stop: Callable[[], None]) -> None:
        with contextlib.suppress(Exception):
            stop()

    if stoppers:
        with ThreadPoolExecutor(max_workers=len(stoppers)) as pool:
            list(pool.map(quietly, stoppers))


def start_moto(started: Started) -> str:
    """moto's own server (`python -m moto.server`, what `moto_server` runs) as a process, so --keep can
    leave it up; the AWS tests run the same server in a thread."""
    workdir = scratch_dir("secrets-kit-demo-moto-")
    port = free_port()
    log_file = workdir / "moto.log"
    proc = start_process([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log_file)

    def stop() -> None:
        stop_pid(proc.pid)
        shutil.rmtree(workdir, ignore_errors=True)

    started.add("moto", proc.pid, workdir, stop)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as resp:
            return bool(resp.status == 200)

    wait_until_ready(answers, "moto server", proc, log_file, timeout=60)
    return url


def start_peers(started: Started) -> tuple[Any, Any, str]:
    """kube-apiserver + etcd, OpenBao (configured, Kubernetes auth against the cluster), drongo, moto."""
    from tests.peers.gcp import start_gcp_emulator
    from tests.peers.kube import start_cluster
    from tests.peers.vault import configure, configure_kubernetes_auth, start_vault

    t0 = time.monotonic()
    started.cluster = start_cluster()
    say(f"kube-apiserver {started.cluster.version} + etcd up at {started.cluster.url} "
        f"({time.monotonic() - t0:.1f}s)")
    vault = start_vault()
    started.add("openbao", vault.pid, vault.workdir, vault.stop)
    setup = configure(vault)
    configure_kubernetes_auth(setup, started.cluster)
    say(f"OpenBao {vault.version()} up at {vault.url}: KV v2 at secret/, Kubernetes auth via the cluster's TokenReview")
    gcp = start_gcp_emulator()
    started.add("drongo", gcp.process.pid, gcp.workdir, gcp.stop)
    say(f"drongo (GCP Secret Manager, REST) up at {gcp.url}")
    moto = start_moto(started)
    say(f"moto (AWS Secrets Manager, STS) up at {moto}")
    started.exports.update(VAULT_ADDR=vault.url, AWS_ENDPOINT_URL=moto, SECRETS_KIT_GCP_SM_ENDPOINT=gcp.endpoint)
    return setup, gcp, moto


# -------------------------------------------------------------------------------------- cluster


def install_crds(cluster: KubeCluster, timeout: float = 60.0) -> None:
    """Our CRDs, as the README installs them: the SealedSecret one and external-secrets.io's."""
    from secrets_kit.k8s.manifests import load_documents

    names = []
    for path in CRD_FILES:
        for doc in load_documents(path.read_bytes(), source=str(path)):
            if doc.get("kind") != "CustomResourceDefinition":
                continue
            names.append(doc["metadata"]["name"])
            cluster.apply(f"{CRD_API}/{doc['metadata']['name']}", dict(doc), field_manager="secrets-kit-demo")
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            conditions = (cluster.request("GET", f"{CRD_API}/{name}").get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not established after {timeout:.0f}s")
            time.sleep(0.1)
    for api, plural in API.values():  # discovery lags the condition a little
        while True:
            try:
                cluster.request("GET", f"{api}/{plural}")
                break
            except KubeAPIError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    say(f"CRDs installed from operator/deploy/: {', '.join(sorted(names))}")


def prepare_cluster(cluster: KubeCluster, setup: Any) -> None:
    """Namespaces, and the ServiceAccount the example stores authenticate as: Vault's role
    `external-secrets` admits it (Kubernetes auth); its IRSA annotation names the AWS role."""
    from tests.peers.vault import POLICY

    for ns in (KEYS_NAMESPACE, ESO_NAMESPACE, *(f"demo-{env}" for env in ENVIRONMENTS)):
        cluster.ensure_namespace(ns)
    cluster.request("POST", f"/api/v1/namespaces/{ESO_NAMESPACE}/serviceaccounts", {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": ESO_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}}})
    setup.server.client().auth.kubernetes.create_role(
        "external-secrets", bound_service_account_names=[ESO_ACCOUNT],
        bound_service_account_namespaces=[ESO_NAMESPACE], policies=[POLICY], ttl="1h", mount_point="kubernetes")
    say(f"ServiceAccount {ESO_NAMESPACE}/{ESO_ACCOUNT} (Vault role external-secrets, IRSA role {ROLE_ARN})")


def fake(what: str) -> str:
    """A fresh fake value per run (so a test can grep for it)."""
    return f"fake-{what}-{secrets.token_hex(8)}"


def seed(setup: Any, gcp: Any, moto_url: str) -> int:
    """The provider values the example ExternalSecrets read, for every environment."""
    import boto3
    from google.cloud import secretmanager

    from tests.peers.gcp import rest_client

    vault = setup.server.client()
    sm = boto3.client("secretsmanager", endpoint_url=moto_url, region_name=AWS_REGION,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    gsm = rest_client(gcp.endpoint)
    try:
        for env in ENVIRONMENTS:
            vault.secrets.kv.v2.create_or_update_secret(path=f"demo/{env}/payments", mount_point="secret",
                                                        secret={"api-key": fake(f"{env}-payments-api-key")})
            sm.create_secret(Name=f"demo/{env}/smtp", SecretString=json.dumps(
                {"username": f"demo-{env}-mailer", "password": fake(f"{env}-smtp-password"), "host": "smtp.example.com"}))
            created = gsm.create_secret(parent=f"projects/{GCP_PROJECT}", secret_id=f"demo-{env}-analytics-sa",
                                        secret=secretmanager.Secret(replication={"automatic": {}}))
            key = {"type": "service_account", "project_id": GCP_PROJECT, "private_key": fake(f"{env}-analytics-key"),
                   "client_email": f"analytics-{env}@{GCP_PROJECT}.iam.gserviceaccount.com"}
            gsm.add_secret_version(parent=created.name, payload=secretmanager.SecretPayload(data=json.dumps(key).encode()))
    finally:
        gsm.transport.close()
    say(f"seeded fresh fake values: OpenBao secret/demo/<env>/payments, AWS SM ({AWS_REGION}) demo/<env>/smtp, "
        f"GCP SM projects/{GCP_PROJECT}/secrets/demo-<env>-analytics-sa, for {', '.join(ENVIRONMENTS)}")
    return 3 * len(ENVIRONMENTS)


def start_operator(started: Started, cluster: KubeCluster, moto_url: str, gcp_endpoint: str) -> Any:
    """`secrets-kit operator run --external-secrets`: both controllers, out of cluster (kubeconfig),
    sealing keys in kube-system ($POD_NAMESPACE), the peers' endpoints in its environment."""
    from tests.peers.our_operator import OurController, _env, secrets_kit_binary
    from tests.peers.sealed_controller import external_ipv4, free_port_on

    # On a non-loopback address the API server's service proxy reaches it, so `kubeseal --fetch-cert`
    # works against the kept cluster as against Bitnami's controller (the proxy refuses loopback).
    address = external_ipv4() or "127.0.0.1"
    workdir = scratch_dir("secrets-kit-demo-operator-")
    port, metrics_port = free_port_on(address), free_port()
    args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--kubeconfig", str(cluster.kubeconfig),
            f"--listen-addr={address}:{port}", f"--listen-metrics-addr=127.0.0.1:{metrics_port}",
            "--log-format=json"]
    env = {**_env(), "POD_NAMESPACE": KEYS_NAMESPACE, "AWS_ENDPOINT_URL": moto_url,
           "AWS_EC2_METADATA_DISABLED": "true", "SECRETS_KIT_GCP_SM_ENDPOINT": gcp_endpoint}
    ours = OurController(cluster=cluster, namespace=KEYS_NAMESPACE, name="sealed-secrets-controller",
                         address=address, port=port, log_file=workdir / "operator.log", workdir=workdir,
                         metrics_port=metrics_port, args=tuple(args))
    t0 = time.monotonic()
    ours.proc = start_process(args, ours.log_file, env=env)
    started.add("secrets-kit operator", ours.proc.pid, workdir, ours.stop)
    wait_until_ready(ours.ready, "secrets-kit operator", ours.proc, ours.log_file, timeout=120)
    if address != "127.0.0.1":
        ours.expose(KEYS_NAMESPACE, "sealed-secrets-controller")  # the Service kubeseal looks for
    say(f"secrets-kit operator run --external-secrets ready in {time.monotonic() - t0:.1f}s "
        f"(HTTP API {ours.url}, metrics :{metrics_port}, log {ours.log_file})")
    return ours


