"""Certificates from URLs, files, and an API server reached over plain HTTP.

Fetching through the service proxy, --validate, --re-encrypt and their error paths run against
the real sealed-secrets controller behind a real kube-apiserver (test_controller_peer.py). What
stays here is what that peer cannot show: a kubeconfig whose server is plain HTTP (kube-apiserver
serves TLS only), played by a small local server with just the routes kubeseal uses, and
certificates from http(s):// and file:// URLs.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secrets_kit.sealed.keyfiles import read_private_keys
from secrets_kit.sealed.model import unseal

from .helpers import docs_of, kubeseal, run_cli, secret, yaml_of

TOKEN = "test-token-123"


class FakeApiServer:
    """Just the API-server routes kubeseal uses to fetch a certificate, over plain HTTP (where
    client-go sends no credentials)."""

    def __init__(self, cert_pem: bytes, *, namespace: str = "kube-system",
                 service: str = "sealed-secrets-controller", port_name: str = "http") -> None:
        self.cert_pem, self.namespace, self.service, self.port_name = cert_pem, namespace, service, port_name
        self.requests: list[tuple[str, str]] = []
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

            def do_GET(self):
                outer.requests.append(("GET", self.path))
                base = f"/api/v1/namespaces/{outer.namespace}/services"
                proxy = f"{base}/http:{outer.service}:{outer.port_name}/proxy"
                if self.path == f"{base}/{outer.service}":
                    return self._send(200, json.dumps(outer.service_json()).encode())
                if self.path == f"{proxy}/v1/cert.pem":
                    return self._send(200, outer.cert_pem, "application/x-pem-file")
                return self._send(404, json.dumps({"kind": "Status", "code": 404,
                                                   "message": f'services "{self.path}" not found'}).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def service_json(self) -> dict:
        return {"kind": "Service", "apiVersion": "v1",
                "metadata": {"name": self.service, "namespace": self.namespace},
                "spec": {"ports": [{"name": self.port_name, "port": 8080}]}}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


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
def test_fetch_cert_from_a_plain_http_api_server_like_kubeseal(kubeseal_bin, pair, key_file, tmp_path):
    with FakeApiServer(pair.cert.pem) as api:
        config = kubeconfig_for(tmp_path / "kubeconfig", api.url)
        env = {"KUBECONFIG": str(config)}
        theirs = kubeseal(kubeseal_bin, "--fetch-cert", env=env)
        assert theirs.returncode == 0, theirs.stderr
        ours = run_cli("kubeseal", "--fetch-cert", env=env)
        assert ours.code == 0, ours.err
        assert ours.out == theirs.stdout == pair.cert.pem
        assert ("GET", "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy"
                       "/v1/cert.pem") in api.requests
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
def test_cert_from_url_and_file_url(kubeseal_bin, pair, tmp_path):
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


def test_credentials_in_a_cert_url_are_not_shown(tmp_path: Path) -> None:
    import socket

    from secrets_kit.errors import ProviderError
    from secrets_kit.sealed.fetch import read_cert_source, shown_url

    assert shown_url("https://user:pa55word@certs.example:8443/c.pem") == "https://***@certs.example:8443/c.pem"
    assert shown_url("https://certs.example/c.pem") == "https://certs.example/c.pem"
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderError) as err:
        read_cert_source(f"http://user:pa55word@127.0.0.1:{port}/cert.pem", timeout=2)
    assert "pa55word" not in str(err.value) and "***@127.0.0.1" in str(err.value)


_URLISH = st.text(alphabet=st.sampled_from(list("aZ09+-.:/\\ \t\r\n\x00\x1f~é@")), max_size=12)


@settings(max_examples=2000, deadline=None)
@given(_URLISH)
def test_url_scheme_is_what_urlsplit_finds(spec):
    """The seal path tells a path from a URL without importing urllib.parse: same answer."""
    import urllib.parse

    from secrets_kit.sealed.fetch import url_scheme

    assert url_scheme(spec) == urllib.parse.urlsplit(spec).scheme


@pytest.mark.parametrize("spec", ["cert.pem", "./a:b.pem", "C:\\certs\\c.pem", "https://h/c.pem", "file:///c.pem",
                                  " \thttp://h/c", "1http://h", "git+ssh://h/x", "ht\ntp://h", ":x", ""])
def test_url_scheme_examples(spec):
    import urllib.parse

    from secrets_kit.sealed.fetch import url_scheme

    assert url_scheme(spec) == urllib.parse.urlsplit(spec).scheme
