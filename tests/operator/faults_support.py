"""Helpers of the fault tests: a private `Ours` watching one namespace, a counting loopback proxy in
front of OpenBao, bulk creation and listing of ExternalSecrets, and the provider-call metric."""

from __future__ import annotations

import http.client
import http.server
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.peers.kube import KubeCluster, free_port, scratch_dir
from tests.peers.our_operator import secrets_kit_binary

from .test_external_operator import ES_API, Ours, ready_of


def private_ours(cluster: KubeCluster, namespace: str, *extra: str) -> Ours:
    """Our operator on `cluster`, watching `namespace` only (not started)."""
    workdir = scratch_dir("secrets-kit-eso-faults-")
    port = free_port()
    args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
            "--namespace", namespace, "--kubeconfig", str(cluster.kubeconfig),
            f"--metrics-addr=127.0.0.1:{port}", "--log-format=json", *extra]
    return Ours(cluster, args, port, workdir / "operator.log")


def create_many(cluster: KubeCluster, path: str, docs: list[dict[str, Any]], workers: int = 16) -> None:
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda d: cluster.request("POST", path, d), docs))


def list_es(cluster: KubeCluster, ns: str) -> list[dict[str, Any]]:
    return list(cluster.request("GET", f"{ES_API}/namespaces/{ns}/externalsecrets")["items"])


def ready_counts(cluster: KubeCluster, ns: str) -> tuple[int, int]:
    items = list_es(cluster, ns)
    return sum(1 for es in items if (ready_of(es) or {}).get("status") == "True"), len(items)


def provider_calls(metrics_text: str, provider: str = "HashiCorp/Vault") -> dict[tuple[str, str], float]:
    """externalsecret_provider_api_calls_count{provider=...} as {(call, status): value}."""
    out: dict[tuple[str, str], float] = {}
    for line in metrics_text.splitlines():
        if not line.startswith("externalsecret_provider_api_calls_count{") or f'provider="{provider}"' not in line:
            continue
        labels, value = line.rsplit(" ", 1)
        fields = dict(part.split("=", 1) for part in labels[labels.index("{") + 1:-1].split(","))
        out[(fields["call"].strip('"'), fields["status"].strip('"'))] = float(value)
    return out


class CountingProxy:
    """A loopback HTTP proxy to one upstream, counting every request by (method, path) — OpenBao's
    own view of what a client sent (a 502 when the upstream is down, still counted)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.seen: Counter[tuple[str, str]] = Counter()
        self.times: list[tuple[float, str, str]] = []  # (time.monotonic(), method, path) of every request
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    path = self.path.split("?", 1)[0]
                    proxy.seen[(self.command, path)] += 1
                    proxy.times.append((time.monotonic(), self.command, path))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                try:
                    conn = http.client.HTTPConnection(str(proxy.upstream.hostname), proxy.upstream.port, timeout=10)
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, out_headers = resp.status, resp.getheaders()
                    conn.close()
                except OSError:
                    status, out_headers, data = 502, [], b'{"errors":["upstream down"]}'
                self.send_response(status)
                for k, v in out_headers:
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_LIST = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def counts(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter(self.seen)

    def requests_since(self, since: float, prefix: str = "", method: str = "GET") -> list[float]:
        """When each `method` request for a path under `prefix` arrived, since `since` (monotonic)."""
        with self.lock:
            return [t for t, m, path in self.times if t >= since and m == method and path.startswith(prefix)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
