"""Just enough of kubeconfig to reach an API server: pick the context, build TLS and auth, send a request.

Loading follows client-go: an explicit `--kubeconfig` file, else the `KUBECONFIG` list
(missing files skipped, the first definition of a name wins), else `~/.kube/config`.
kubectl's override flags (`--context`, `--server`, `--token`, `-n`, ...) apply on top.
Auth: bearer token (inline or file), client certificate, basic auth, and `exec`
credential plugins. Key material is handed to `ssl` through an in-memory file, never a
temporary file on disk.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): see EVALUATED_ANNOTATIONS
# in tests/sealed/test_import_budget.py. Paths are strings (os.path): pathlib, with urllib.parse and
# ipaddress, would cost `secrets-kit kubeseal` ~3 ms of start-up for reading the default namespace.

import base64
import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # ssl and urllib load only when a request is made (reading a namespace needs neither)
    import ssl

from ..errors import ConfigError, ProviderError
from .manifests import load_documents


# Records are NamedTuples, not dataclasses: `dataclasses` imports inspect, ast and dis, a cost every
# command that seals would pay at start-up (issue 10 item 9).
class Overrides(NamedTuple):
    """kubectl's override flags."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    server: str | None = None
    token: str | None = None
    namespace: str | None = None
    insecure_skip_tls_verify: bool | None = None
    certificate_authority: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    username: str | None = None
    password: str | None = None
    impersonate: str | None = None
    impersonate_groups: Sequence[str] = ()
    timeout: float = 30.0


class ClusterAccess(NamedTuple):
    server: str
    namespace: str  # the context's namespace, "default" if it has none
    namespace_explicit: bool
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None
    token: str | None = None
    basic: tuple[str, str] | None = None
    exec_config: dict[str, Any] | None = None
    headers: dict[str, str] = {}  # noqa: RUF012 (never changed in place: resolve() passes its own)
    timeout: float = 30.0
    source: str = "kubeconfig"


def _files(overrides: Overrides) -> list[str]:
    if overrides.kubeconfig:
        path = os.path.expanduser(overrides.kubeconfig)
        if not os.path.isfile(path):
            raise ConfigError("kubeconfig file not found", where=path)
        return [path]
    env = os.environ.get("KUBECONFIG")
    if env is not None:
        listed = (os.path.expanduser(p) for p in env.split(os.pathsep) if p)
        return [path for path in listed if os.path.isfile(path)]
    default = os.path.join(os.path.expanduser("~"), ".kube", "config")
    return [default] if os.path.isfile(default) else []


def load_merged(overrides: Overrides) -> dict[str, Any]:
    """The merged kubeconfig: named entries from the first file that defines them."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    for path in _files(overrides):
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as ex:
            raise ConfigError(f"cannot read kubeconfig: {ex.strerror}", where=path) from None
        docs = load_documents(raw, source=path)
        if not docs:
            continue
        doc = docs[0]
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            entries = doc.get(section) or []
            if not isinstance(entries, list):
                raise ConfigError(f"kubeconfig {section} must be a list", where=path)
            for entry in entries:
                # Names are text and entries mappings, as client-go's decoder requires.
                if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] \
                        and entry["name"] not in merged[section]:
                    body = entry.get(inner) or {}
                    if not isinstance(body, dict):
                        raise ConfigError(f"kubeconfig {section} entry {entry['name']!r}: {inner} must be a mapping",
                                          where=path)
                    value = dict(body)
                    value["_base"] = os.path.dirname(path)  # relative file names are read from here
                    merged[section][entry["name"]] = value
        if not merged["current-context"] and isinstance(doc.get("current-context"), str):
            merged["current-context"] = doc["current-context"]
    return merged


def _read(base: str, data: Any, file: Any, what: str) -> bytes | None:
    if data:
        try:
            return base64.b64decode(str(data), validate=False)
        except ValueError:
            raise ConfigError(f"{what}-data is not base64") from None
    if file:
        path = os.path.join(base, os.path.expanduser(str(file)))  # an absolute name stays as it is
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as ex:
            raise ConfigError(f"cannot read {what}: {ex.strerror}", where=path) from None
    return None


def resolve(overrides: Overrides) -> ClusterAccess | None:
    """How to reach the selected cluster; None when there is no kubeconfig and no --server."""
    merged = load_merged(overrides)
    ctx_name = overrides.context or merged["current-context"]
    if overrides.context and overrides.context not in merged["contexts"]:
        raise ConfigError(f"context {overrides.context!r} not found in kubeconfig")
    context = merged["contexts"].get(ctx_name, {}) if ctx_name else {}
    cluster_name = overrides.cluster or context.get("cluster")
    user_name = overrides.user or context.get("user")
    cluster = merged["clusters"].get(cluster_name, {}) if cluster_name else {}
    user = merged["users"].get(user_name, {}) if user_name else {}
    server = overrides.server or cluster.get("server")
    if not server:
        if not merged["contexts"] and not merged["clusters"]:
            return None
        raise ConfigError("no server found for the current context", hint="pass --server or --context")
    base_c = str(cluster.get("_base", ""))
    base_u = str(user.get("_base", ""))
    namespace = overrides.namespace or context.get("namespace") or "default"
    token = overrides.token or user.get("token")
    if not token and user.get("tokenFile"):
        from_file = _read(base_u, None, user["tokenFile"], "tokenFile")
        token = from_file.decode().strip() if from_file else None
    username = overrides.username or user.get("username")
    password = overrides.password or user.get("password")
    return ClusterAccess(
        server=str(server).rstrip("/"),
        namespace=namespace,
        namespace_explicit=bool(overrides.namespace),
        ca_data=(_read("", None, overrides.certificate_authority, "certificate-authority")
                 or _read(base_c, cluster.get("certificate-authority-data"), cluster.get("certificate-authority"),
                          "certificate-authority")),
        insecure=bool(overrides.insecure_skip_tls_verify
                      if overrides.insecure_skip_tls_verify is not None
                      else cluster.get("insecure-skip-tls-verify")),
        tls_server_name=overrides.tls_server_name or cluster.get("tls-server-name"),
        client_cert=(_read("", None, overrides.client_certificate, "client-certificate")
                     or _read(base_u, user.get("client-certificate-data"), user.get("client-certificate"),
                              "client-certificate")),
        client_key=(_read("", None, overrides.client_key, "client-key")
                    or _read(base_u, user.get("client-key-data"), user.get("client-key"), "client-key")),
        token=token,
        basic=(str(username), str(password)) if username and password else None,
        exec_config=user.get("exec") if not overrides.token else None,
        headers={"Impersonate-User": overrides.impersonate} if overrides.impersonate else {},
        timeout=overrides.timeout,
        source=f"context {ctx_name}" if ctx_name else "kubeconfig",
    )


def default_namespace(overrides: Overrides) -> tuple[str, bool]:
    """(namespace, explicitly set) as kubeseal sees it; ("", False) when there is no kubeconfig."""
    if overrides.namespace:
        return overrides.namespace, True
    try:
        merged = load_merged(overrides)
    except ConfigError:
        return "", False
    ctx_name = overrides.context or merged["current-context"]
    context = merged["contexts"].get(ctx_name)
    if context is None:
        return "", False
    return str(context.get("namespace") or "default"), False


def _run_exec(config: dict[str, Any]) -> dict[str, Any]:
    """An exec credential plugin's ExecCredential status (token or client certificate)."""
    command = config.get("command")
    if not command:
        raise ConfigError("exec credential plugin has no command")
    env = dict(os.environ)
    for item in config.get("env") or []:
        env[str(item.get("name"))] = str(item.get("value"))
    import subprocess

    env["KUBERNETES_EXEC_INFO"] = json.dumps({
        "apiVersion": config.get("apiVersion", "client.authentication.k8s.io/v1"),
        "kind": "ExecCredential", "spec": {"interactive": False}})
    try:
        done = subprocess.run([command, *[str(a) for a in config.get("args") or []]], env=env,
                              capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as ex:
        raise ConfigError(f"exec credential plugin {command!r} failed to run: {type(ex).__name__}") from None
    if done.returncode != 0:
        raise ConfigError(f"exec credential plugin {command!r} exited with {done.returncode}")
    try:
        status = json.loads(done.stdout).get("status") or {}
    except (ValueError, AttributeError):
        raise ConfigError(f"exec credential plugin {command!r} printed no ExecCredential") from None
    return status if isinstance(status, dict) else {}


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    """A path to `data` that lives only in memory (Linux memfd), for ssl's file-only APIs."""
    fd = os.memfd_create("secrets-kit-tls", 0)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def ssl_context(access: ClusterAccess, client_cert: bytes | None, client_key: bytes | None) -> "ssl.SSLContext":
    import ssl

    ctx = ssl.create_default_context()
    if access.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif access.ca_data:
        ctx.load_verify_locations(cadata=access.ca_data.decode("ascii", "replace"))
    if client_cert and client_key:
        with _memory_file(client_cert) as cert_path, _memory_file(client_key) as key_path:
            ctx.load_cert_chain(cert_path, key_path)
    return ctx


def request(access: ClusterAccess, path: str, *, method: str = "GET", body: bytes | None = None,
            accept: str = "application/json", content_type: str | None = None) -> tuple[int, bytes]:
    """One API request; (status, body). Connection problems raise ProviderError naming the server."""
    import ssl
    import urllib.error
    import urllib.request

    headers = {"Accept": accept, "User-Agent": "secrets-kit", **access.headers}
    client_cert, client_key, token = access.client_cert, access.client_key, access.token
    if access.exec_config and not token:
        status = _run_exec(access.exec_config)
        token = status.get("token")
        if status.get("clientCertificateData"):
            client_cert = str(status["clientCertificateData"]).encode()
            client_key = str(status.get("clientKeyData") or "").encode()
    secure = access.server.startswith("https://")
    if not secure:
        token = None  # like client-go: credentials never travel over plain HTTP
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif access.basic and secure:
        raw = f"{access.basic[0]}:{access.basic[1]}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(access.server + path, data=body, method=method, headers=headers)
    handlers: list[Any] = [urllib.request.ProxyHandler()]
    if access.server.startswith("https://"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl_context(access, client_cert, client_key)))
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(req, timeout=access.timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as ex:
        return ex.code, ex.read()
    except (urllib.error.URLError, OSError, ssl.SSLError) as ex:
        reason = getattr(ex, "reason", ex)
        raise ProviderError(f"cannot reach the API server: {reason}", where=access.server) from None
