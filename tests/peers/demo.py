"""`make demo`: the example GitOps repository on a local cluster, synced by our operator.

    python -m tests.peers.demo [-o table|json] [--keep] [--timeout SECONDS]
    python -m tests.peers.demo down            # after --keep: stop what the demo left running

It starts the test peers (kube-apiserver + etcd, OpenBao, moto, drongo for GCP Secret Manager),
installs our CRDs (operator/deploy/), runs `secrets-kit operator run --external-secrets` (both
controllers, out of cluster with the kubeconfig), seeds the values the example ExternalSecrets read
into OpenBao, moto and drongo, fills in examples/gitops as the quickstart does but sealed with the
cluster's certificate (fetched from the running operator), renders each deploy/<env> (zero plaintext:
every Secret re-sealed; dev's placeholders resolved from fake-store.yaml), applies the ClusterSecretStores,
SealedSecrets and ExternalSecrets, waits until they settle, and prints one row per object: its state and
the Secret it produced (key names, never values). Progress goes to stderr, the table (or JSON) to stdout.

The example stores point at real clouds; for the peers the demo changes two fields, and says so:
the Vault store's `server` (OpenBao's address) and the GCP store's workload identity (dropped: drongo
takes no credentials, and no Google token service runs here). The AWS store is applied as written: its
web identity (the ServiceAccount's IRSA annotation, a TokenRequest, sts:AssumeRoleWithWebIdentity) is
served by the kube-apiserver and moto.

Exit codes: 0 every object Ready/Synced; 3 some object did not settle within --timeout (the table says
which; with --keep the cluster stays up to look at it); 4 a peer is missing (the message names the command
that provides it); 2 bad command line, or a demo is already up (`down` first); 1 anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import demo_table
from tests.peers.cache import cache_dir
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
STORES_FILE = Path("gitops") / "platform" / "external-secrets" / "cluster-secret-stores.yaml"
ENVIRONMENTS = ("dev", "staging", "prod")
KEYS_NAMESPACE = "kube-system"
ESO_NAMESPACE, ESO_ACCOUNT = "external-secrets", "external-secrets"  # what the example stores name
ROLE_ARN = "arn:aws:iam::123456789012:role/external-secrets"  # the IRSA annotation a real install sets
GCP_PROJECT, AWS_REGION = "example-demo-project", "eu-west-1"  # as in the example stores
API = {"SealedSecret": ("/apis/bitnami.com/v1alpha1", "sealedsecrets"),
       "ExternalSecret": ("/apis/external-secrets.io/v1", "externalsecrets"),
       "ClusterSecretStore": ("/apis/external-secrets.io/v1", "clustersecretstores")}
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
EXIT_NOT_SETTLED, EXIT_PEER_MISSING = 3, 4


def say(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def default_state() -> Path:
    return cache_dir() / "demo.json"


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
    """Every process the demo started, stopped in reverse order (also from the --keep state file)."""

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


# ------------------------------------------------------------------------------------ manifests


@contextlib.contextmanager
def age_identity_env(identity: Path) -> Iterator[None]:
    saved = {k: os.environ.pop(k, None) for k in ("SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD")}
    os.environ["SOPS_AGE_KEY_FILE"] = str(identity)
    try:
        yield
    finally:
        os.environ.pop("SOPS_AGE_KEY_FILE", None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def rendered_objects(workdir: Path, cert_pem: bytes) -> list[dict[str, Any]]:
    """examples/gitops filled in with the cluster's certificate, each deploy/<env> rendered (zero
    plaintext); its SealedSecrets and ExternalSecrets."""
    from secrets_kit.quickstart.render_steps import fill_gitops_repo
    from secrets_kit.render.config import CliSettings, options_from
    from secrets_kit.render.pipeline import render
    from secrets_kit.render.reseal import write_key_file
    from secrets_kit.sealed.certs import load_cert
    from secrets_kit.sops.age_identity import ensure_identity
    from secrets_kit.sops.keysources import age

    keys = workdir / "keys"
    keys.mkdir(mode=0o700, parents=True)
    cert_file = keys / "cluster.pem"
    cert_file.write_bytes(cert_pem)
    cert = load_cert(cert_pem, str(cert_file))
    identity = keys / "age.txt"
    recipient, _ = ensure_identity(identity)
    repo = workdir / "gitops"
    counts, _ = fill_gitops_repo(EXAMPLES, repo, recipient, cert)
    reseal_key = keys / "reseal.key"
    write_key_file(reseal_key)
    say(f"examples/gitops filled in ({counts['sops']} SOPS files, {counts['sealed']} SealedSecrets) with the "
        f"cluster's certificate {cert.fingerprint[:16]}… (from the operator's /v1/cert.pem)")
    out: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    age.clear_cache()
    with age_identity_env(identity):
        for env in ENVIRONMENTS:
            cli = CliSettings(seal_to=cert_file, reseal_key=reseal_key, root=repo)
            environ = {"ARGOCD_APP_NAME": f"demo-{env}", "ARGOCD_APP_NAMESPACE": f"demo-{env}"}
            result = render(options_from(repo / "deploy" / env, environ, cli))
            kinds: dict[str, int] = {}
            for doc in result.manifests:
                kind = str(doc.get("kind"))
                if kind in ("SealedSecret", "ExternalSecret"):
                    out.append(json.loads(json.dumps(doc)))
                    kinds[kind] = kinds.get(kind, 0) + 1
                else:
                    skipped[kind] = skipped.get(kind, 0) + 1
            say(f"rendered deploy/{env}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                + f" (re-sealed: {result.context.facts.get('resealed', 0)})")
    age.clear_cache()
    if skipped:
        say("not applied (no kubelet or scheduler here): " + ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())))
    return out


def cluster_stores(vault_url: str) -> list[dict[str, Any]]:
    """The example ClusterSecretStores, with the two changes the local peers need (said on stderr)."""
    from secrets_kit.k8s.manifests import load_documents

    path = EXAMPLES / STORES_FILE
    stores = [json.loads(json.dumps(d)) for d in load_documents(path.read_bytes(), source=str(path))]
    for store in stores:
        provider = store["spec"]["provider"]
        name = store["metadata"]["name"]
        if "vault" in provider:
            say(f"ClusterSecretStore {name}: server {provider['vault']['server']} -> {vault_url} (OpenBao)")
            provider["vault"]["server"] = vault_url
        if "gcpsm" in provider and provider["gcpsm"].pop("auth", None) is not None:
            say(f"ClusterSecretStore {name}: auth.workloadIdentity dropped (drongo takes no credentials; "
                "no Google token service here)")
    return stores


def object_path(doc: dict[str, Any]) -> str:
    api, plural = API[doc["kind"]]
    meta = doc["metadata"]
    if meta.get("namespace"):
        return f"{api}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"
    return f"{api}/{plural}/{meta['name']}"


def apply_all(cluster: KubeCluster, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        cluster.apply(object_path(doc), doc, field_manager="secrets-kit-demo")
    counts: dict[str, int] = {}
    for doc in docs:
        counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
    say("applied " + ", ".join(f"{n} {k}" for k, n in counts.items()))


# ----------------------------------------------------------------------------------------- settle


def current(cluster: KubeCluster, docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The applied objects as the cluster has them now, and the Secrets of their namespaces."""
    objects = [{"kind": d["kind"], **cluster.request("GET", object_path(d))} for d in docs]
    namespaces = sorted({d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")})
    found: list[dict[str, Any]] = []
    for ns in namespaces:
        found += cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets").get("items", [])
    return objects, found


def settle(cluster: KubeCluster, docs: list[dict[str, Any]], timeout: float) -> tuple[list[demo_table.Row], bool]:
    """Poll until every object is Ready/Synced and each SealedSecret/ExternalSecret owns its Secret, or
    the timeout passes; a progress line on stderr when the count changes (and every 5 s)."""
    t0 = time.monotonic()
    last: tuple[int, float] = (-1, 0.0)
    while True:
        rows = demo_table.rows(*current(cluster, docs))
        done = [r for r in rows if r.ready and (r.secret or r.kind not in demo_table.MAKES_SECRET)]
        now = time.monotonic() - t0
        if len(done) == len(rows):
            say(f"all {len(rows)} objects settled in {now:.1f}s")
            return rows, True
        if len(done) != last[0] or now - last[1] >= 5:
            waiting = next(r for r in rows if r not in done)
            say(f"{len(done)}/{len(rows)} settled after {now:.0f}s; waiting for {waiting.kind} "
                f"{waiting.namespace + '/' if waiting.namespace else ''}{waiting.name} "
                f"({waiting.condition}={waiting.status}{' ' + waiting.reason if waiting.reason else ''})")
            last = (len(done), now)
        if now > timeout:
            say(f"not settled after {timeout:.0f}s: {len(rows) - len(done)} of {len(rows)} objects")
            return rows, False
        time.sleep(0.5)


# -------------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    missing = missing_peers()
    if missing:
        for line in missing:
            say(f"missing: {line}")
        return EXIT_PEER_MISSING
    state: Path = args.state
    if state.exists():
        say(f"a demo is already up (state in {state}); run `python -m tests.peers.demo down` first")
        return 2
    t0 = time.monotonic()
    started = Started()
    workdir = scratch_dir("secrets-kit-demo-")
    kept = False
    try:
        setup, gcp, moto_url = start_peers(started)
        assert started.cluster is not None
        cluster = started.cluster
        install_crds(cluster)
        prepare_cluster(cluster, setup)
        seed(setup, gcp, moto_url)
        ours = start_operator(started, cluster, moto_url, gcp.endpoint)
        docs = cluster_stores(setup.server.url) + rendered_objects(workdir, ours.served_cert())
        apply_all(cluster, docs)
        rows, settled = settle(cluster, docs, args.timeout)
        started.exports = {"KUBECONFIG": str(cluster.kubeconfig), **started.exports}
        report: dict[str, Any] = {"settled": settled, "seconds": round(time.monotonic() - t0, 1),
                                  "objects": [r.to_json() for r in rows], "kept": bool(args.keep)}
        if args.keep:
            started.processes.append({"what": "demo work folder", "pid": 0, "workdir": str(workdir)})
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps(started.to_json(), indent=2))
            state.chmod(0o600)
            kept = True
            report["exports"] = started.exports
            report["down"] = down_command(state)
        if args.output == "json":
            print(json.dumps(report, indent=2))
        else:
            print(demo_table.table(rows), end="")
            if kept:
                print("\n" + "\n".join(f"export {k}={v}" for k, v in started.exports.items()))
        if kept:
            say("left running; with the exports above try `kubectl get sealedsecrets,externalsecrets -A` or "
                "`kubeseal --fetch-cert`")
            say(f"stop it with: {down_command(state)}  (or `make demo-down`)")
        return 0 if settled else EXIT_NOT_SETTLED
    finally:
        if not kept:
            say("stopping everything the demo started")
            started.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def down_command(state: Path) -> str:
    extra = "" if state == default_state() else f" --state {state}"
    return f"python -m tests.peers.demo down{extra}"


def down(state: Path) -> int:
    if not state.exists():
        say(f"no demo is up (no {state})")
        return 0
    data = json.loads(state.read_text())

    def stopper(proc: dict[str, Any]) -> Callable[[], None]:
        def stop() -> None:
            if proc.get("pid"):
                stop_pid(int(proc["pid"]))
            shutil.rmtree(proc["workdir"], ignore_errors=True)

        return stop

    stop_together([stopper(proc) for proc in data.get("processes", [])])
    KubeCluster.from_json(data["kube"]).stop()
    state.unlink()
    say("stopped")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, `kill`) stops the peers as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["run", "down"], default="run",
                        help="run the demo (default), or stop one left up by --keep")
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table", help="stdout format")
    parser.add_argument("--keep", action="store_true",
                        help="leave the cluster and peers running; prints the KUBECONFIG export")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for objects to settle")
    parser.add_argument("--state", type=Path, default=None,
                        help="where --keep records what runs (default: <peer cache>/demo.json)")
    args = parser.parse_args(argv)
    args.state = args.state or default_state()
    if args.command == "down":
        return down(args.state)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
