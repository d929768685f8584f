"""Certificates from URLs and from the controller through the API server's service proxy.

A small local server plays the API server's service proxy (the paths and the Service
lookup kubeseal makes), so real kubeseal and ours fetch from the same place; where the
real kube-apiserver peer runs, the proxy path is also checked end to end through it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from secrets_kit.k8s.manifests import dump_json
from secrets_kit.sealed.keyfiles import read_private_keys
from secrets_kit.sealed.model import seal_secret, unseal

from .helpers import docs_of, kubeseal, run_cli, secret, yaml_of

TOKEN = "test-token-123"


class FakeApiServer:
    """Just the API-server routes kubeseal uses, with bearer-token auth."""

    def __init__(self, cert_pem: bytes, *, tls: tuple[Path, Path] | None = None, namespace: str = "kube-system",
                 service: str = "sealed-secrets-controller", port_name: str = "http", keys=None, new_cert=None,
                 labelled: bool = False):
        self.cert_pem, self.namespace, self.service, self.port_name = cert_pem, namespace, service, port_name
        self.keys, self.new_cert, self.labelled = keys, new_cert, labelled
        self.requests: list[tuple[str, str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, method: str) -> None:
                outer.requests.append((method, self.path, self.headers.get("Authorization", "")))
                # Over plain HTTP client-go sends no credentials, so only the TLS server checks them.
                if outer.scheme == "https" and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, b'{"kind":"Status","message":"Unauthorized","code":401}')
                base = f"/api/v1/namespaces/{outer.namespace}/services"
                proxy = f"{base}/http:{outer.service}:{outer.port_name}/proxy"
                if method == "GET" and self.path == f"{base}/{outer.service}":
                    return self._send(200, json.dumps(outer.service_json()).encode())
                if method == "GET" and self.path.startswith(f"{base}?labelSelector=") and outer.labelled:
                    return self._send(200, json.dumps({"kind": "ServiceList", "items": [outer.service_json()]})
                                      .encode())
                if method == "GET" and self.path == f"{proxy}/v1/cert.pem":
                    return self._send(200, outer.cert_pem, "application/x-pem-file")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if method == "POST" and self.path == f"{proxy}/v1/verify":
                    try:
                        unseal(json.loads(body), outer.keys)
                    except Exception:
                        return self._send(409, b'{"kind":"Status","message":"conflict","code":409}')
                    return self._send(200, b"")
                if method == "POST" and self.path == f"{proxy}/v1/rotate":
                    doc = json.loads(body)
                    plain = unseal(doc, outer.keys).secret
                    plain["metadata"]["creationTimestamp"] = None
                    return self._send(200, json.dumps(seal_secret(plain, outer.new_cert.public_key)).encode())
                return self._send(404, json.dumps({"kind": "Status", "code": 404,
                                                   "message": f'services "{self.path}" not found'}).encode())

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def service_json(self) -> dict:
        return {"kind": "Service", "apiVersion": "v1",
                "metadata": {"name": self.service, "namespace": self.namespace,
                             "labels": {"app.kubernetes.io/name": "sealed-secrets"}},
                "spec": {"ports": [{"name": self.port_name, "port": 8080}]}}

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def server_tls(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "srv")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (tmp_path / "ca.pem", tmp_path / "srv.pem", tmp_path / "srv.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def kubeconfig_for(path: Path, server: str, ca: Path | None = None, namespace: str = "apps") -> Path:
    cluster: dict = {"server": server}
    if ca is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca.read_bytes()).decode()
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": "test", "user": {"token": TOKEN}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test", "namespace": namespace}}],
    }))
    return path


@pytest.mark.peer("kubeseal")
@pytest.mark.parametrize("use_tls", [False, True])
def test_fetch_cert_through_service_proxy_like_kubeseal(kubeseal_bin, pair, key_file, tmp_path, use_tls):
    tls = server_tls(tmp_path) if use_tls else None
    with FakeApiServer(pair.cert.pem, tls=(tls[1], tls[2]) if tls else None) as api:
        config = kubeconfig_for(tmp_path / "kubeconfig", api.url, tls[0] if tls else None)
        env = {"KUBECONFIG": str(config)}
        theirs = kubeseal(kubeseal_bin, "--fetch-cert", env=env)
        assert theirs.returncode == 0, theirs.stderr
        ours = run_cli("kubeseal", "--fetch-cert", env=env)
        assert ours.code == 0, ours.err
        assert ours.out == theirs.stdout == pair.cert.pem
        paths = {(m, p) for m, p, _ in api.requests}
        assert ("GET", "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy"
                       "/v1/cert.pem") in paths
        # sealing without --cert fetches the same way; the kubeconfig namespace fills a missing one
        sealed = run_cli("kubeseal", "-o", "yaml", input=yaml_of(secret(namespace=None, string_data={"a": "b"})),
                         env=env)
        assert sealed.code == 0, sealed.err
        doc = docs_of(sealed.out)[0]
        assert doc["metadata"]["namespace"] == "apps"
        assert unseal(doc, read_private_keys([key_file])).secret["data"] == {"a": "Yg=="}
        native = run_cli("seal", "--from-cluster", "--kubeconfig", config,
                         input=yaml_of(secret(string_data={"a": "b"})))
        assert native.code == 0, native.err


@pytest.mark.peer("kubeseal")
def test_service_not_found_and_auth_errors(kubeseal_bin, pair, tmp_path):
    tls = server_tls(tmp_path)
    with FakeApiServer(pair.cert.pem, service="sealed-secrets", tls=(tls[1], tls[2])) as api:
        config = kubeconfig_for(tmp_path / "kubeconfig", api.url, tls[0])
        env = {"KUBECONFIG": str(config)}
        theirs = kubeseal(kubeseal_bin, "--fetch-cert", "--controller-name", "nope", env=env)
        assert theirs.returncode != 0 and b"cannot get sealed secret service" in theirs.stderr
        ours = run_cli("kubeseal", "--fetch-cert", "--controller-name", "nope", env=env)
        assert ours.code == 1 and "cannot get sealed secret service" in ours.err and "--controller-name" in ours.err
        good = run_cli("kubeseal", "--fetch-cert", "--controller-name", "sealed-secrets", env=env)
        assert good.code == 0 and good.out == pair.cert.pem
        bad_token = tmp_path / "bad"
        bad_token.write_text(config.read_text().replace(TOKEN, "wrong"))
        denied = run_cli("kubeseal", "--fetch-cert", "--controller-name", "sealed-secrets",
                         env={"KUBECONFIG": str(bad_token)})
        assert denied.code == 1 and "Unauthorized" in denied.err


def test_default_name_falls_back_to_the_charts_service(pair, tmp_path):
    with FakeApiServer(pair.cert.pem, service="sealed-secrets", labelled=True) as api:
        config = kubeconfig_for(tmp_path / "kubeconfig", api.url)
        ours = run_cli("kubeseal", "--fetch-cert", env={"KUBECONFIG": str(config)})
        assert ours.code == 0, ours.err
        assert ours.out == pair.cert.pem


@pytest.mark.peer("kubeseal")
def test_cert_from_url_and_file_url(kubeseal_bin, pair, tmp_path):
    tls = server_tls(tmp_path)
    with FakeApiServer(pair.cert.pem, tls=(tls[1], tls[2])) as api:
        url = f"{api.url}/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem"
        # direct URLs carry no token (and this CA is not trusted): both tools must fail
        assert kubeseal(kubeseal_bin, "--cert", url, "--fetch-cert").returncode != 0
        refused = run_cli("kubeseal", "--cert", url, "--fetch-cert")
        assert refused.code == 1 and "cannot fetch certificate" in refused.err
    served = tmp_path / "www"
    served.mkdir()
    (served / "cert.pem").write_bytes(pair.cert.pem)
    proc = subprocess.Popen(["python", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(served)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(line.split(" port ")[1].split()[0])
        url = f"http://127.0.0.1:{port}/cert.pem"
        for spec in (url, f"file://{served / 'cert.pem'}"):
            theirs = kubeseal(kubeseal_bin, "--cert", spec, "--fetch-cert")
            ours = run_cli("kubeseal", "--cert", spec, "--fetch-cert")
            assert ours.code == 0 and ours.out == theirs.stdout == pair.cert.pem
            sealed = run_cli("seal", "--cert", spec, input=yaml_of(secret(string_data={"a": "b"})))
            assert sealed.code == 0, sealed.err
        missing = run_cli("seal", "--cert", f"http://127.0.0.1:{port}/missing.pem",
                          input=yaml_of(secret(string_data={"a": "b"})))
        assert missing.code == 6 and "404" in missing.err
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.peer("kubeseal")
def test_validate_and_reencrypt_through_the_controller_api(kubeseal_bin, pair, other_pair, tmp_path):
    keys = read_private_keys([pair.key_path])
    good = dump_json(seal_secret(secret(string_data={"a": "b"}), pair.cert.public_key))
    bad = dump_json(seal_secret(secret(string_data={"a": "b"}), other_pair.cert.public_key))
    with FakeApiServer(pair.cert.pem, keys=keys, new_cert=other_pair.cert) as api:
        env = {"KUBECONFIG": str(kubeconfig_for(tmp_path / "kubeconfig", api.url))}
        for text, ok in ((good, True), (bad, False)):
            theirs = kubeseal(kubeseal_bin, "--validate", input=text, env=env)
            ours = run_cli("kubeseal", "--validate", input=text, env=env)
            assert (theirs.returncode == 0) is ok and (ours.code == 0) is ok
            if not ok:
                assert b"unable to decrypt sealed secret: mysecret" in theirs.stderr
                assert "unable to decrypt sealed secret: mysecret" in ours.err
        src = tmp_path / "s.json"
        src.write_text(good)
        ours = run_cli("kubeseal", "--re-encrypt", "-f", src, env=env)  # -f without -w rewrites the input
        assert ours.code == 0, ours.err
        rotated = json.loads(src.read_text())
        opened = unseal(rotated, read_private_keys([other_pair.key_path])).secret
        assert opened["data"] == {"a": "Yg=="}


def _external_ip() -> str | None:
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in out.splitlines():
        address = line.split()[3].split("/")[0]
        if not address.startswith(("127.", "169.254.")):
            return address
    return None


@pytest.mark.peer("kubeseal")
def test_fetch_cert_through_a_real_kube_apiserver(kube_cluster, kube_namespace, kubeseal_bin, pair, tmp_path):
    """The real API server proxies to a Service whose Endpoints point at a local HTTP server."""
    address = _external_ip()
    if address is None:
        pytest.skip("no non-loopback IPv4 address: the API server refuses to proxy to loopback")
    served = tmp_path / "www" / "v1"
    served.mkdir(parents=True)
    (served / "cert.pem").write_bytes(pair.cert.pem)
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["python", "-m", "http.server", str(port), "--bind", "0.0.0.0", "--directory",
                             str(tmp_path / "www")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ns = kube_namespace
        kube_cluster.request("POST", f"/api/v1/namespaces/{ns}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "sealed-secrets"},
            "spec": {"ports": [{"name": "http", "port": port, "targetPort": port}]}})
        # The proxy only dials endpoint addresses that belong to a Pod with that IP: no kubelet runs,
        # so the Pod's status is written directly.
        kube_cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "controller"},
            "spec": {"nodeName": "none", "containers": [{"name": "c", "image": "example.invalid/none"}]}})
        kube_cluster.request("PATCH", f"/api/v1/namespaces/{ns}/pods/controller/status",
                             {"status": {"phase": "Running", "podIP": address, "podIPs": [{"ip": address}]}},
                             content_type="application/merge-patch+json")
        kube_cluster.request("POST", f"/api/v1/namespaces/{ns}/endpoints", {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "sealed-secrets"},
            "subsets": [{"addresses": [{"ip": address, "targetRef": {"kind": "Pod", "name": "controller",
                                                                     "namespace": ns}}],
                         "ports": [{"name": "http", "port": port}]}]})
        env = {"KUBECONFIG": str(kube_cluster.kubeconfig)}
        args = ["--fetch-cert", "--controller-namespace", ns, "--controller-name", "sealed-secrets"]
        deadline = time.monotonic() + 20
        while True:
            theirs = kubeseal(kubeseal_bin, *args, env=env)
            if theirs.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert theirs.returncode == 0, theirs.stderr
        ours = run_cli("kubeseal", *args, env=env)
        assert ours.code == 0, ours.err
        assert ours.out == theirs.stdout == pair.cert.pem
    finally:
        proc.terminate()
        proc.wait(timeout=10)
