#!/usr/bin/env python3
"""The ExternalSecret controllers head to head: `secrets-kit operator run --external-secrets` against
the real External Secrets Operator v0.16.2, in the same run, on one kube-apiserver (the test peers).

For each scenario, --count ExternalSecrets are created in a fresh namespace before the controller
starts (each controller watches only its own namespace); the time from controller start until every
one is Ready=True, the controller's peak RSS (VmHWM) and the Vault requests it made are recorded:

1. the `fake` provider (no network: the controllers themselves): ESO at its defaults, ours.
   ESO v0.16.2's fake provider crashes with --concurrent > 1 (a Go concurrent map write in its
   NewClient), so tuned ESO runs on Vault only.
2. Vault (OpenBao), --paths distinct KV v2 paths, AppRole auth: ESO at its defaults, ESO tuned as its
   users report (--concurrent=50 --client-qps=100 --client-burst=200), ours. Vault requests are
   counted by a loopback proxy in front of OpenBao, by kind (login, read, token lookup/renew/revoke).
3. The ceiling: a bare asyncio client (aiohttp, --in-flight requests at once) creating --count Secrets
   and patching --count ExternalSecret statuses; each controller is reported as a fraction of it.

    python bench/bench_operator_external.py --write-results          # 1,000 ExternalSecrets
    python bench/bench_operator_external.py --count 200 --paths 20    # quicker
    python bench/bench_operator_external.py --count 10000 --paths 1000 \
        --scenarios ours-fake-shards,eso-fake,ours-fake,eso-vault-tuned,ours-vault --write-results  # issue 13's 10,000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import http.client
import http.server
import json
import os
import platform
import ssl
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_operator_sealed import PeakRSS, bulk  # noqa: E402
from common import write_section  # noqa: E402

from tests.externalsecrets.harness import OursEso, ours_binary, ours_metrics_flag, start_ours  # noqa: E402
from tests.peers.eso import register_crds, start_eso  # noqa: E402
from tests.peers.kube import KubeCluster, free_port, scratch_dir, start_cluster  # noqa: E402
from tests.peers.vault import start_vault  # noqa: E402

HEADING = "## ExternalSecret controller vs External Secrets Operator v0.16.2 (`bench/bench_operator_external.py`)"
ES_API = "/apis/external-secrets.io/v1"
TUNED = ("--concurrent=50", "--client-qps=100", "--client-burst=200")


# ------------------------------------------------------------------------------ Vault request counter


class CountingProxy(http.server.ThreadingHTTPServer):
    """A loopback HTTP proxy in front of Vault that counts requests by kind (keep-alive both ways)."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.local = threading.local()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, method: str, path: str) -> None:
        if "/auth/" in path and path.endswith("/login"):
            kind = "login"
        elif "/auth/token/lookup-self" in path:
            kind = "token lookup"
        elif "/auth/token/renew-self" in path:
            kind = "token renew"
        elif "/auth/token/revoke-self" in path:
            kind = "token revoke"
        elif method in ("GET", "LIST") or (method == "GET" and "/data/" in path):
            kind = "read"
        else:
            kind = f"{method} other"
        with self.lock:
            self.counts[kind] += 1

    def reset(self) -> Counter[str]:
        with self.lock:
            counts, self.counts = self.counts, Counter()
        return counts


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingProxy

    def log_message(self, *_: Any) -> None:  # quiet
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.count(self.command, self.path.split("?", 1)[0])
        conn = getattr(self.server.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=30)
            self.server.local.conn = conn
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException):
            conn.close()
            self.server.local.conn = None
            self.send_error(502)
            return
        data = resp.read()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_LIST = _forward


# ------------------------------------------------------------------------------------ the objects


def fake_store(count: int) -> dict[str, Any]:
    return {"fake": {"data": [{"key": f"k{i:05d}", "value": json.dumps({"user": f"u{i}", "password": f"p{i}"})}
                              for i in range(count)]}}


def vault_store(url: str) -> dict[str, Any]:
    return {"vault": {"server": url, "path": "secret", "version": "v2", "auth": {"appRole": {
        "path": "approle", "roleId": os.environ["BENCH_ROLE_ID"],
        "secretRef": {"name": "vault-approle", "key": "secret-id"}}}}}


def external_secret(ns: str, i: int, key: str) -> dict[str, Any]:
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": f"es{i:05d}", "namespace": ns},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "store", "kind": "SecretStore"},
                     "target": {"name": f"es{i:05d}"},
                     "data": [{"secretKey": "user", "remoteRef": {"key": key, "property": "user"}},
                              {"secretKey": "password", "remoteRef": {"key": key, "property": "password"}}]}}


def prepare(cluster: KubeCluster, ns: str, provider: dict[str, Any], keys: list[str], secret_id: str) -> None:
    cluster.ensure_namespace(ns)
    cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-approle"},
        "stringData": {"secret-id": secret_id}})
    cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "store"},
        "spec": {"provider": provider}})
    bulk(cluster, [("POST", f"{ES_API}/namespaces/{ns}/externalsecrets", external_secret(ns, i, key))
                   for i, key in enumerate(keys)])


class ReadyWatch(threading.Thread):
    """Ready=True ExternalSecrets of a namespace, kept by one list and a watch (polling a list of
    10,000 objects twice a second would load the API server more than the controllers do)."""

    def __init__(self, cluster: KubeCluster, ns: str, *, prefix: bool = False) -> None:
        """Of namespace `ns`, or (prefix) of every namespace whose name starts with `ns`."""
        super().__init__(daemon=True)
        self.cluster, self.ns, self.prefix = cluster, ns, prefix
        self.ready: dict[tuple[str, str], bool] = {}
        self.stop = threading.Event()
        self.start()

    @staticmethod
    def _is_ready(es: dict[str, Any]) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (es.get("status") or {}).get("conditions") or [])

    def run(self) -> None:
        path = f"{ES_API}/externalsecrets" if self.prefix else f"{ES_API}/namespaces/{self.ns}/externalsecrets"
        while not self.stop.is_set():
            listing = self.cluster.request("GET", path)
            self.ready = {self._key(i): self._is_ready(i) for i in listing["items"] if self._mine(i)}
            version = listing["metadata"]["resourceVersion"]
            try:
                while not self.stop.is_set():
                    for event in self.cluster.watch(path, resource_version=version, timeout=30):
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            raise OSError("watch expired")
                        version = obj["metadata"]["resourceVersion"]
                        if not self._mine(obj):
                            continue
                        if event["type"] == "DELETED":
                            self.ready.pop(self._key(obj), None)
                        else:
                            self.ready[self._key(obj)] = self._is_ready(obj)
            except (OSError, ValueError):
                continue  # relist

    def count(self) -> int:
        return sum(self.ready.values())

    @staticmethod
    def _key(es: dict[str, Any]) -> tuple[str, str]:
        return es["metadata"]["namespace"], es["metadata"]["name"]

    def _mine(self, es: dict[str, Any]) -> bool:
        ns = es["metadata"]["namespace"]
        return ns.startswith(self.ns) if self.prefix else ns == self.ns


def time_to_ready(cluster: KubeCluster, ns: str, count: int, start: Callable[[], Any], *,
                  prefix: bool = False) -> tuple[float, float, Any]:
    """Seconds until `count` ExternalSecrets are Ready, the largest peak RSS (MiB) of the controller's
    processes (`.procs`, else `.proc`), and the controller (to stop)."""
    watch = ReadyWatch(cluster, ns, prefix=prefix)
    started = time.monotonic()
    controller = start()
    samplers = [PeakRSS(proc.pid) for proc in getattr(controller, "procs", None) or [controller.proc]]
    for sampler in samplers:
        sampler.start()
    try:
        while watch.count() < count:
            if time.monotonic() - started > 1800:
                raise RuntimeError(f"{ns}: not every ExternalSecret Ready after 30 minutes")
            time.sleep(0.2)
        return time.monotonic() - started, max(s.peak_kb for s in samplers) / 1024, controller
    finally:
        watch.stop.set()
        for sampler in samplers:
            sampler.stop.set()
            sampler.join()


class Replicas:
    """--shards N: N processes of ours watching every namespace, started together."""

    def __init__(self, cluster: KubeCluster, count: int, timeout: float) -> None:
        self.members: list[OursEso] = []
        for _ in range(count):
            workdir = scratch_dir("secrets-kit-bench-shard-")
            port = free_port()
            args = (ours_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
                    "--kubeconfig", str(cluster.kubeconfig), ours_metrics_flag(), f"127.0.0.1:{port}",
                    f"--shards={count}")
            self.members.append(OursEso(cluster=cluster, namespace="", metrics_port=port,
                                        log_file=workdir / "ours.log", workdir=workdir, args=args))
        threads = [threading.Thread(target=m.start, args=(timeout,)) for m in self.members]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if any(m.proc is None for m in self.members):
            self.stop()
            raise RuntimeError("a replica did not start")

    @property
    def procs(self) -> list[Any]:
        return [m.proc for m in self.members]

    def stop(self) -> None:
        for member in self.members:
            member.stop()


def shard_namespaces(count: int, shards: int) -> list[str]:
    """`count` namespace names split evenly over the shards (the operator's own hash decides)."""
    from secrets_kit_operator.external.shards import shard_of

    per = {s: [] for s in range(shards)}  # type: dict[int, list[str]]
    n = 0
    while any(len(v) < count // shards for v in per.values()):
        name = f"bench-s-{n}"
        group = per[shard_of(name, shards)]
        if len(group) < count // shards:
            group.append(name)
        n += 1
    return sorted(name for names in per.values() for name in names)


async def ceiling(cluster: KubeCluster, ns: str, count: int, in_flight: int, *, events: bool = False) -> float:
    """A bare aiohttp client: POST count Secrets and PATCH count ExternalSecret statuses, in_flight at once
    (and with `events`, POST the one Event per sync that ESO and ours both record)."""
    import aiohttp

    headers = {"Authorization": f"Bearer {cluster.admin_token}"}
    ctx = ssl.create_default_context(cafile=str(cluster.ca_file))
    limit = asyncio.Semaphore(in_flight)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight, ssl=ctx)) as session:
        async def call(method: str, path: str, body: Any, content_type: str = "application/json") -> None:
            async with limit, session.request(method, cluster.url + path, data=json.dumps(body),
                                              headers={**headers, "Content-Type": content_type}) as resp:
                await resp.read()
                assert resp.status < 300, (resp.status, path)

        started = time.monotonic()
        await asyncio.gather(*(call("POST", f"/api/v1/namespaces/{ns}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"es{i:05d}"},
            "data": {"user": "dXNlcg==", "password": "cGFzcw=="}}) for i in range(count)))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await asyncio.gather(*(call("PATCH", f"{ES_API}/namespaces/{ns}/externalsecrets/es{i:05d}/status", {
            "status": {"refreshTime": stamp, "syncedResourceVersion": "1-x", "conditions": [
                {"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced",
                 "lastTransitionTime": stamp}]}}, "application/merge-patch+json") for i in range(count)))
        if events:
            await asyncio.gather(*(call("POST", f"/api/v1/namespaces/{ns}/events", {
                "apiVersion": "v1", "kind": "Event", "metadata": {"name": f"es{i:05d}.{os.urandom(8).hex()}"},
                "involvedObject": {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                                   "name": f"es{i:05d}", "namespace": ns},
                "reason": "Created", "message": "secret created", "type": "Normal", "count": 1,
                "firstTimestamp": stamp, "lastTimestamp": stamp, "source": {"component": "external-secrets"}})
                for i in range(count)))
        return time.monotonic() - started


# ------------------------------------------------------------------------------------------- run


SCENARIOS = ("ours-fake-shards", "eso-fake", "ours-fake", "eso-vault", "eso-vault-tuned", "ours-vault")
SHARD_NAMESPACES, SHARDS = 8, 2


def heading(count: int) -> str:
    return HEADING if count == 1000 else f"{HEADING[:-2]} --count {count}`)"


def vault_reads(counts: Counter[str] | None) -> int:
    return 0 if counts is None else counts.get("read", 0)


def bench(args: argparse.Namespace) -> str:
    cluster = start_cluster()
    vault = start_vault()
    proxy = CountingProxy(vault.url)
    rows: list[tuple[str, str, float, float, Counter[str] | None]] = []
    restart: Counter[str] | None = None
    try:
        register_crds(cluster)
        client = vault.client()
        mounts = client.sys.list_mounted_secrets_engines()
        if "secret/" not in (mounts.get("data") or mounts):
            client.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        client.sys.create_or_update_policy("bench", 'path "secret/*" { capabilities = ["read", "list"] }')
        client.sys.enable_auth_method("approle", path="approle")
        client.auth.approle.create_or_update_approle("bench", token_policies=["bench"], token_ttl="1h")
        os.environ["BENCH_ROLE_ID"] = client.auth.approle.read_role_id("bench")["data"]["role_id"]
        secret_id = client.auth.approle.generate_secret_id("bench")["data"]["secret_id"]
        for p in range(args.paths):
            client.secrets.kv.v2.create_or_update_secret(path=f"bench/p{p:04d}", mount_point="secret",
                                                         secret={"user": f"user{p}", "password": os.urandom(8).hex()})
        fake_keys = [f"k{i % args.paths:05d}" for i in range(args.count)]
        vault_keys = [f"bench/p{i % args.paths:04d}" for i in range(args.count)]
        timeout = max(180, args.count // 10)
        scenarios = {
            "eso-fake": ("fake", "ESO v0.16.2, defaults", fake_store(args.paths), fake_keys,
                         lambda ns: start_eso(cluster, ns, timeout=timeout, crds=False)),
            "ours-fake": ("fake", "secrets-kit", fake_store(args.paths), fake_keys,
                          lambda ns: start_ours(cluster, ns, timeout=timeout)),
            "eso-vault": ("vault", "ESO v0.16.2, defaults", vault_store(proxy.url), vault_keys,
                          lambda ns: start_eso(cluster, ns, timeout=timeout, crds=False)),
            "eso-vault-tuned": ("vault", "ESO v0.16.2, tuned (" + " ".join(TUNED) + ")", vault_store(proxy.url),
                                vault_keys,
                                lambda ns: start_eso(cluster, ns, extra_args=TUNED, timeout=timeout, crds=False)),
            "ours-vault": ("vault", "secrets-kit", vault_store(proxy.url), vault_keys,
                           lambda ns: start_ours(cluster, ns, timeout=timeout)),
        }
        if "ours-fake-shards" in args.scenarios:
            # first: its replicas watch every namespace (the others' controllers watch only their own)
            spaces = shard_namespaces(SHARD_NAMESPACES, SHARDS)
            for k, ns in enumerate(spaces):
                prepare(cluster, ns, fake_store(args.paths), fake_keys[k::len(spaces)], secret_id)
            seconds, rss, replicas = time_to_ready(cluster, "bench-s-", args.count,
                                                   lambda: Replicas(cluster, SHARDS, timeout), prefix=True)
            replicas.stop()
            rows.append(("fake", f"secrets-kit, 2 replicas (--shards {SHARDS}; {SHARD_NAMESPACES} namespaces)",
                         seconds, rss, None))
            print(f"fake  shards: {seconds:.1f} s, {rss:.0f} MiB per replica at most", flush=True)
        for n, name in enumerate(n for n in args.scenarios if n != "ours-fake-shards"):
            store, who, provider, keys, start = scenarios[name]
            ns = f"bench-{n}-{store}"
            prepare(cluster, ns, provider, keys, secret_id)
            proxy.reset()
            seconds, rss, controller = time_to_ready(cluster, ns, args.count, functools.partial(start, ns))
            controller.stop()
            counts = proxy.reset() if store == "vault" else None
            rows.append((store, who, seconds, rss, counts))
            print(f"{store:5} {who}: {seconds:.1f} s, {rss:.0f} MiB, vault {dict(counts or {})}", flush=True)
            if name == "ours-vault" and args.restart_watch > 0:
                # every Secret valid and nothing due (refreshInterval 1h): a restart must read nothing
                again = start_ours(cluster, ns, timeout=timeout)
                time.sleep(args.restart_watch)
                again.stop()
                restart = proxy.reset()
                print(f"restart, {args.restart_watch:.0f} s watched: vault {dict(restart)}", flush=True)
        cluster.ensure_namespace("bench-ceiling")
        bulk(cluster, [("POST", f"{ES_API}/namespaces/bench-ceiling/externalsecrets",
                        external_secret("bench-ceiling", i, "k")) for i in range(args.count)])
        ceiling_s = asyncio.run(ceiling(cluster, "bench-ceiling", args.count, args.in_flight))
        cluster.ensure_namespace("bench-ceiling-events")
        bulk(cluster, [("POST", f"{ES_API}/namespaces/bench-ceiling-events/externalsecrets",
                        external_secret("bench-ceiling-events", i, "k")) for i in range(args.count)])
        events_s = asyncio.run(ceiling(cluster, "bench-ceiling-events", args.count, args.in_flight, events=True))
    finally:
        proxy.shutdown()
        vault.stop()
        cluster.stop()
    return report(args, rows, (ceiling_s, events_s), restart)


def report(args: argparse.Namespace, rows: list[tuple[str, str, float, float, Counter[str] | None]],
           ceilings: tuple[float, float], restart: Counter[str] | None) -> str:
    load = os.getloadavg()[0]
    ceiling_s, events_s = ceilings
    ours = {store: seconds for store, who, seconds, _, _ in rows if who == "secrets-kit"}
    sharded = {store: seconds for store, who, seconds, _, _ in rows if who.startswith("secrets-kit, ")}
    command = f"python bench/bench_operator_external.py --count {args.count} --paths {args.paths}"
    if tuple(args.scenarios) != SCENARIOS:
        command += " --scenarios " + ",".join(args.scenarios)
    lines = [
        heading(args.count), "",
        f"`{command}` on "
        f"{dt.date.today().isoformat()}, Python {platform.python_version()}, {os.cpu_count()} CPUs (load average "
        f"{load:.1f} at the end: the machine is shared). One kube-apiserver v1.33 + etcd, OpenBao dev server; "
        f"{args.count} ExternalSecrets over {args.paths} distinct remote keys (2 data entries each: two "
        "properties of one remote key) created before the controller starts; time from controller start until "
        "all are Ready=True (counted by a watch). Vault: AppRole auth, requests counted by a proxy in front of "
        "OpenBao; a first sync is one refresh window, so its reads are the provider calls per window. "
        "ESO v0.16.2's fake provider crashes with --concurrent > 1, so tuned ESO runs on Vault only.", "",
        "| store | controller | start → all Ready | objects/s | peak RSS | Vault requests | its time / ours |",
        "|---|---|---|---|---|---|---|",
    ]
    for store, who, seconds, rss, counts in rows:
        vault_text = "—" if counts is None else (f"{sum(counts.values())} (" + ", ".join(
            f"{k} {v}" for k, v in sorted(counts.items())) + ")")
        ratio = "" if who == "secrets-kit" or store not in ours else f"{seconds / ours[store]:.1f}x"
        lines.append(f"| {store} | {who} | {seconds:.1f} s | {args.count / seconds:.0f} | {rss:.0f} MiB | "
                     f"{vault_text} | {ratio} |")
    lines += [
        "",
        f"Ceiling: a bare aiohttp client, {args.in_flight} requests in flight, creates {args.count} Secrets and "
        f"patches {args.count} ExternalSecret statuses in **{ceiling_s:.1f} s** ({args.count / ceiling_s:.0f} "
        "objects/s); ours takes "
        + ", ".join(f"{s / ceiling_s:.2f}x the ceiling's time on {store}" for store, s in ours.items()) + ". "
        f"With the one Event per sync both controllers post, the bare client takes {events_s:.1f} s "
        f"({args.count / events_s:.0f} objects/s); ours takes "
        + ", ".join(f"{s / events_s:.2f}x that on {store}" for store, s in ours.items()) + "."
        + "".join(f" Two replicas (--shards) take {s / ceiling_s:.2f}x the ceiling's time ({s / events_s:.2f}x "
                  f"with events) on {store}." for store, s in sharded.items()),
    ]
    if restart is not None:
        lines += ["", f"Restart of ours with every Secret valid and none due, watched for {args.restart_watch:.0f} s: "
                      f"**{vault_reads(restart)} Vault reads** (all requests: {dict(restart) or 0})."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--paths", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--scenarios", type=lambda text: [n for n in text.split(",") if n], default=list(SCENARIOS),
                        help="comma-separated, of: " + ", ".join(SCENARIOS))
    parser.add_argument("--restart-watch", type=float, default=20.0,
                        help="seconds to count provider requests after restarting ours (0: skip)")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"--scenarios: unknown {', '.join(sorted(unknown))} (known: {', '.join(SCENARIOS)})")
    text = bench(args)
    print(text)
    if args.write_results:
        write_section(heading(args.count), text)


if __name__ == "__main__":
    main()
