"""The real Bitnami sealed-secrets controller as a test peer, run against the kube-apiserver peer.

Build: `go install github.com/bitnami-labs/sealed-secrets/cmd/controller@<pin>` into a private
folder, then moved to <cache>/bin/sealed-secrets-controller (the upstream binary is just
`controller`, too generic a name for a shared bin folder).

Run: the controller has no --kubeconfig flag; it calls client-go's `rest.InClusterConfig()`,
which reads KUBERNETES_SERVICE_HOST/PORT and the fixed files
/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}. So it is started inside a private
mount namespace (`unshare --mount`, plus a user namespace when not root) where a tmpfs holds
those two files; nothing outside the process sees them. It listens on a non-loopback address of
this machine, because the API server's service proxy refuses loopback endpoints, and a Service +
Pod (status IP written directly: no kubelet runs) + Endpoints make
/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/... reach it,
the way kubeseal finds an in-cluster controller.

The SealedSecret CRD is the one the pinned release ships (helm/sealed-secrets/crds/), read from
the Go module cache at test time, not copied into this repository.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import versions
from tests.peers.cache import find_binary, go_install, log
from tests.peers.kube import (
    KubeAPIError,
    KubeCluster,
    free_port,
    log_tail,
    scratch_dir,
    start_process,
    stop_child,
    wait_until_ready,
)

MODULE = "github.com/bitnami-labs/sealed-secrets"
BINARY = "sealed-secrets-controller"
INSTALL_HINT = "run `python -m tests.peers.install sealed-controller`"
CRD_PATH = "helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SEALED_API = "/apis/bitnami.com/v1alpha1"

# Inside the new mount namespace: a tmpfs over the folder that holds (or would hold) the
# service-account files, the files written there (read before the mount: the source may sit
# under the covered folder), then exec the controller (same pid).
_IN_NAMESPACE = r"""
set -e
target=/var/run/secrets
[ -d "$target" ] || target=$(readlink -f /var/run)
token=$(cat "$SK_SA_SOURCE/token"); ca=$(cat "$SK_SA_SOURCE/ca.crt"); ns=$(cat "$SK_SA_SOURCE/namespace")
mount -t tmpfs -o mode=0755,size=1m secrets-kit-sa "$target"
sa=/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$sa"
umask 077
printf '%s' "$token" > "$sa/token"; printf '%s\n' "$ca" > "$sa/ca.crt"; printf '%s' "$ns" > "$sa/namespace"
unset token ca ns SK_SA_SOURCE
exec "$@"
"""


# --------------------------------------------------------------------------------------------- build


def build_sealed_controller(version: str = versions.CONTROLLER) -> Path:
    """Build the controller into the cache's bin folder as sealed-secrets-controller (once per pin)."""
    return go_install(f"{MODULE}/cmd/controller", version, "controller", output=BINARY)


def module_dir(version: str = versions.CONTROLLER) -> Path:
    """The pinned release's source tree in the Go module cache (downloaded by the build)."""
    if shutil.which("go") is None:
        raise RuntimeError(f"no `go` on PATH to locate {MODULE}@{version}: {INSTALL_HINT}")
    done = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{version}"], check=True,
                          capture_output=True, text=True, env={**os.environ, "GOFLAGS": "-mod=mod"})
    return Path(json.loads(done.stdout)["Dir"])


def upstream_crd(version: str = versions.CONTROLLER) -> dict[str, Any]:
    """The SealedSecret CRD as the pinned release ships it."""
    from secrets_kit.k8s.manifests import load_documents

    path = module_dir(version) / CRD_PATH
    docs = load_documents(path.read_bytes(), source=str(path))
    if len(docs) != 1 or docs[0].get("kind") != "CustomResourceDefinition":
        raise RuntimeError(f"{path}: expected one CustomResourceDefinition")
    return dict(docs[0])


def missing() -> str | None:
    """Why the controller peer cannot run here, or None."""
    if find_binary(BINARY) is None:
        return f"sealed-secrets controller not built: {INSTALL_HINT}"
    if shutil.which("unshare") is None:
        return "`unshare` (util-linux) not found: the controller needs a private mount namespace"
    if external_ipv4() is None:
        return "no non-loopback IPv4 address: the API server's service proxy refuses loopback endpoints"
    probe = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"]) + ["true"]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return "this machine refuses `unshare --mount` (no private mount namespace for the controller)"
    return None


def external_ipv4() -> str | None:
    """An IPv4 address of this machine that is neither loopback nor link-local."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.254", 9))  # no packet is sent: this only picks the outgoing interface
        address = str(sock.getsockname()[0])
        if not address.startswith(("127.", "169.254.", "0.")):
            return address
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if not address.startswith(("127.", "169.254.")):
            return address
    return None


def free_port_on(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------- model


@dataclass
class SealedController:
    """A running controller: its key namespace, Service name, address and log."""

    cluster: KubeCluster
    namespace: str
    name: str
    address: str
    port: int
    log_file: Path
    workdir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # -- the controller's own HTTP API (direct, not through the proxy) ------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)

    def served_cert(self) -> bytes:
        """/v1/cert.pem straight from the controller's listener."""
        with urllib.request.urlopen(f"{self.url}/v1/cert.pem", timeout=10) as resp:
            return bytes(resp.read())

    def proxy_path(self, namespace: str | None = None, name: str | None = None, port: str = "http") -> str:
        return (f"/api/v1/namespaces/{namespace or self.namespace}/services/"
                f"http:{name or self.name}:{port}/proxy")

    # -- keys ---------------------------------------------------------------------------------------

    def key_secrets(self) -> list[dict[str, Any]]:
        """The controller's key Secrets (label sealed-secrets-key), oldest first."""
        listing = self.cluster.request(
            "GET", f"/api/v1/namespaces/{self.namespace}/secrets?labelSelector={KEY_LABEL}")
        items: list[dict[str, Any]] = listing.get("items", [])
        return sorted(items, key=lambda s: (s["metadata"]["creationTimestamp"], s["metadata"]["name"]))

    def key_backup(self) -> dict[str, Any]:
        """What `kubectl get secret -n NS -l sealedsecrets.bitnami.com/sealed-secrets-key -o json` prints."""
        items = [{"apiVersion": "v1", "kind": "Secret", **s} for s in self.key_secrets()]
        return {"apiVersion": "v1", "kind": "List", "items": items}

    def newest_cert(self) -> bytes:
        """The certificate of the newest key (the one the controller seals with)."""
        return base64.b64decode(self.key_secrets()[-1]["data"]["tls.crt"])

    def rotate_key(self, timeout: float = 60.0) -> dict[str, Any]:
        """SIGUSR1 makes the controller generate a new key now; return the new key Secret once the
        controller serves its certificate."""
        assert self.proc is not None
        before = {s["metadata"]["name"] for s in self.key_secrets()}
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [s for s in self.key_secrets() if s["metadata"]["name"] not in before]
            if new and self.served_cert() == base64.b64decode(new[-1]["data"]["tls.crt"]):
                return new[-1]
            time.sleep(0.2)
        raise RuntimeError(f"no new controller key after {timeout:.0f}s; log:\n{log_tail(self.log_file)}")

    # -- SealedSecrets and their Secrets ------------------------------------------------------------

    def create_sealed_secret(self, doc: dict[str, Any]) -> dict[str, Any]:
        ns = doc["metadata"]["namespace"]
        return self.cluster.request("POST", f"{SEALED_API}/namespaces/{ns}/sealedsecrets", doc)

    def sealed_secret(self, namespace: str, name: str) -> dict[str, Any]:
        return self.cluster.request("GET", f"{SEALED_API}/namespaces/{namespace}/sealedsecrets/{name}")

    def wait_for_status(self, namespace: str, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """The SealedSecret's Synced condition, once the controller has written one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.sealed_secret(namespace, name).get("status") or {}
            for condition in status.get("conditions") or []:
                if condition.get("type") == "Synced":
                    return dict(condition)
            time.sleep(0.1)
        raise RuntimeError(f"SealedSecret {namespace}/{name}: no Synced condition after {timeout:.0f}s;"
                           f" log:\n{log_tail(self.log_file)}")

    def wait_for_secret(self, namespace: str, name: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
            except KubeAPIError as err:
                if err.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def secret_exists(self, namespace: str, name: str) -> bool:
        try:
            self.cluster.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except KubeAPIError as err:
            if err.status == 404:
                return False
            raise
        return True

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    # -- reaching it through the API server ---------------------------------------------------------

    def expose(self, namespace: str, name: str, *, port_name: str = "http",
               labels: dict[str, str] | None = None) -> None:
        """A Service NAMESPACE/NAME whose endpoint is this controller, so the API server's service
        proxy reaches it. The proxy only dials endpoint addresses that belong to a Pod with that IP;
        no kubelet runs, so the Pod's status is written directly."""
        api = self.cluster.request
        self.cluster.ensure_namespace(namespace)
        meta: dict[str, Any] = {"name": name, "namespace": namespace}
        if labels:
            meta["labels"] = labels
        api("POST", f"/api/v1/namespaces/{namespace}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"ports": [{"name": port_name, "port": 8080, "targetPort": self.port}]}})
        pod = f"{name}-peer"
        api("POST", f"/api/v1/namespaces/{namespace}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": namespace},
            "spec": {"nodeName": "none", "containers": [{"name": "controller",
                                                         "image": "example.invalid/sealed-secrets-controller"}]}})
        api("PATCH", f"/api/v1/namespaces/{namespace}/pods/{pod}/status",
            {"status": {"phase": "Running", "podIP": self.address, "podIPs": [{"ip": self.address}]}},
            content_type="application/merge-patch+json")
        api("POST", f"/api/v1/namespaces/{namespace}/endpoints", {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": namespace},
            "subsets": [{"addresses": [{"ip": self.address,
                                        "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace}}],
                         "ports": [{"name": port_name, "port": self.port}]}]})

        def proxied() -> bool:
            try:
                text = self.cluster.request("GET", self.proxy_path(namespace, name, port_name) + "/healthz")
            except KubeAPIError:
                return False
            return "text" in text

        deadline = time.monotonic() + 30
        while not proxied():
            if time.monotonic() > deadline:
                raise RuntimeError(f"service proxy to {namespace}/{name} not answering")
            time.sleep(0.2)

    # -- lifecycle ----------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def register_crd(cluster: KubeCluster, timeout: float = 30.0) -> None:
    """Create the upstream SealedSecret CRD (if absent) and wait until it is Established."""
    crd = upstream_crd()
    name = crd["metadata"]["name"]
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    try:
        cluster.request("POST", path, crd)
    except KubeAPIError as err:
        if err.status != 409:
            raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = cluster.request("GET", f"{path}/{name}")
        conditions = (current.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            # discovery can lag the condition a little
            with contextlib.suppress(KubeAPIError):
                cluster.request("GET", f"{SEALED_API}/sealedsecrets")
                return
        time.sleep(0.1)
    raise RuntimeError(f"CRD {name} not established after {timeout:.0f}s")


def start_controller(cluster: KubeCluster, *, namespace: str = "kube-system",
                     name: str = "sealed-secrets-controller", timeout: float = 90.0,
                     extra_args: tuple[str, ...] = ()) -> SealedController:
    """Start the controller (keys in `namespace`) and expose it as Service namespace/name, like the
    upstream manifests. Return once its key Secret exists and /healthz answers through the proxy.
    `extra_args` come last, so they override the defaults (e.g. `--all-namespaces=false`)."""
    binary = find_binary(BINARY)
    reason = missing()
    if binary is None or reason:
        raise RuntimeError(reason or INSTALL_HINT)
    address = external_ipv4()
    assert address is not None
    register_crd(cluster)
    cluster.ensure_namespace(namespace)
    workdir = scratch_dir("secrets-kit-sealed-controller-")
    workdir.chmod(0o700)
    sa = workdir / "serviceaccount"
    sa.mkdir(mode=0o700)
    (sa / "token").write_text(cluster.admin_token)
    shutil.copyfile(cluster.ca_file, sa / "ca.crt")
    (sa / "namespace").write_text(namespace)
    for path in sa.iterdir():
        path.chmod(0o600)
    port = free_port_on(address)
    api_port = cluster.url.rsplit(":", 1)[1]
    unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    args = [
        *unshare, "sh", "-c", _IN_NAMESPACE, "sealed-secrets-controller", str(binary),
        f"--listen-addr={address}:{port}", f"--listen-metrics-addr=127.0.0.1:{free_port()}",
        "--key-renew-period=0",  # no timed rotation; tests rotate with SIGUSR1
        "--rate-limit=100", "--rate-limit-burst=100",  # /v1/verify: tests call it back to back
        "--update-status=true",
        *extra_args,
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": api_port,
        "POD_NAMESPACE": namespace, "SK_SA_SOURCE": str(sa),
    }
    log_file = workdir / "controller.log"
    started = time.monotonic()
    controller = SealedController(cluster=cluster, namespace=namespace, name=name, address=address, port=port,
                                  log_file=log_file, workdir=workdir)
    controller.proc = start_process(args, log_file, env=env)
    try:
        def ready() -> bool:
            return bool(controller.key_secrets()) and controller.healthy()

        wait_until_ready(ready, "sealed-secrets controller", controller.proc, log_file, timeout=timeout)
        controller.expose(namespace, name)
    except BaseException:
        controller.stop()
        raise
    log(f"sealed-secrets controller ready in {time.monotonic() - started:.1f}s at {controller.url}")
    return controller
