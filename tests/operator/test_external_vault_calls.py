"""Vault request accounting: ESO's `externalsecret_provider_api_calls_count{provider="HashiCorp/Vault"}`
counts every HTTP request ours sends to Vault — the AppRole login (call="Login") and the store's
validation lookups (call="LookupSelf") included — and matches what OpenBao received, counted by a
loopback proxy in front of it. 200 ExternalSecrets on 20 paths cost 1 login and 20 reads. A restart
with every Secret valid costs no read until refreshes fall due; overdue ones are spread."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from tests.peers.kube import KubeCluster
from tests.peers.vault import VaultSetup, configure, start_vault, vault_binary

from .conftest import unique
from .faults_support import CountingProxy, create_many, list_es, private_ours, provider_calls, ready_counts
from .support import assert_no_plaintext, b64, get_secret, marker, wait_for
from .test_external_operator import ES_API, crds, ready_of  # noqa: F401

pytestmark = pytest.mark.peer("kube")
PATHS, PER_PATH = 20, 10


@pytest.fixture
def bao_setup() -> Iterator[VaultSetup]:
    if vault_binary() is None:
        pytest.skip("real Vault-API server (OpenBao) missing: run `python -m tests.peers.install`")
    server = start_vault()
    try:
        yield configure(server)
    finally:
        server.stop()


def approle_store(cluster: KubeCluster, ns: str, url: str, setup: VaultSetup) -> None:
    """SecretStore `bao` in ns: KV v2 at `url` (the counting proxy), AppRole auth from Secret `approle`."""
    cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "approle"},
        "data": {"secret-id": b64(setup.approle_secret_id)}})
    cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "bao"},
        "spec": {"provider": {"vault": {"server": url, "path": "kv-v2", "version": "v2", "auth": {
            "appRole": {"path": "approle", "roleId": setup.approle_role_id,
                        "secretRef": {"name": "approle", "key": "secret-id"}}}}}}})


def test_every_vault_request_is_counted_logins_included(op_cluster: KubeCluster, crds: None,  # noqa: F811
                                                        bao_setup: VaultSetup) -> None:
    started = time.monotonic()
    ns = unique("eso-calls")
    op_cluster.ensure_namespace(ns)
    root = bao_setup.server.client()
    values = {i: marker(f"v{i}") for i in range(PATHS)}
    for i, text in values.items():
        root.secrets.kv.v2.create_or_update_secret(path=f"app/p{i:02d}", secret={"pw": text}, mount_point="kv-v2")
    proxy = CountingProxy(bao_setup.server.url)
    ours = private_ours(op_cluster, ns)
    try:
        approle_store(op_cluster, ns, proxy.url, bao_setup)
        docs = [{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                 "metadata": {"name": f"es-{n:03d}"},
                 "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "bao", "kind": "SecretStore"},
                          "data": [{"secretKey": "pw", "remoteRef": {"key": f"app/p{n % PATHS:02d}",
                                                                      "property": "pw"}}]}}
                for n in range(PATHS * PER_PATH)]
        create_many(op_cluster, f"{ES_API}/namespaces/{ns}/externalsecrets", docs)
        ours.start()
        t0 = time.monotonic()
        wait_for("200 ExternalSecrets Ready", lambda: ready_counts(op_cluster, ns) == (len(docs), len(docs)),
                 60, ours.log_text)
        synced_in = time.monotonic() - t0
        for n in (0, 7, 199):
            secret = get_secret(op_cluster, ns, f"es-{n:03d}")
            assert secret is not None and secret["data"] == {"pw": b64(values[n % PATHS])}
        time.sleep(1.0)  # let any trailing request (a store re-validation in flight) land in both counts
        metric = provider_calls(ours.metrics())
        seen = proxy.counts()

        # OpenBao's view
        logins = sum(c for (m, p), c in seen.items() if p == "/v1/auth/approle/login")
        reads = sum(c for (m, p), c in seen.items() if m == "GET" and p.startswith("/v1/kv-v2/data/app/"))
        lookups = sum(c for (m, p), c in seen.items() if p == "/v1/auth/token/lookup-self")
        print(f"\nvault calls: login={logins} reads={reads} validation lookups={lookups}; "
              f"200 ES Ready in {synced_in:.1f}s; metric {sorted(metric.items())}")
        assert logins == 1, seen
        assert sum(seen.values()) == logins + reads + lookups, seen  # nothing else was sent

        # our metric: every one of those, with ESO's call labels, all successful
        assert metric.get(("Login", "success")) == 1, metric
        assert metric.get(("ReadSecretData", "success")) == reads, metric
        assert metric.get(("LookupSelf", "success"), 0) == lookups, metric
        assert sum(metric.values()) == sum(seen.values()), (metric, seen)
        assert not any(status == "error" for _, status in metric), metric
        assert_no_plaintext([*values.values(), bao_setup.approle_secret_id], ours.log_text(), ours.metrics())
        print(f"test {time.monotonic() - started:.1f}s")
        # one read per distinct path: ExternalSecrets sharing a path inside --provider-read-window share its read
        assert reads == PATHS, f"{reads} reads for {PATHS} paths"
    finally:
        ours.stop()
        proxy.stop()


INTERVAL, JITTER = 20.0, 0.3  # refreshInterval 20s; refreshes up to 6 s late (--refresh-jitter 0.3), inside
# the 10 s a periodic refresh may share a read for (half its interval), so one read per path and window


def test_a_restart_reads_nothing_until_refreshes_fall_due_then_one_read_per_path_spread(
        op_cluster: KubeCluster, crds: None, bao_setup: VaultSetup) -> None:  # noqa: F811
    """Counted at OpenBao (a proxy in front of it): a restart with every Secret valid costs no read until
    the refreshes fall due; then each path is read once per window; after an outage longer than the
    interval, the overdue refreshes are spread over the jitter window, not fired together."""
    started = time.monotonic()
    ns = unique("eso-restart")
    op_cluster.ensure_namespace(ns)
    paths, per_path = 10, 3
    root = bao_setup.server.client()
    values = {i: marker(f"r{i}") for i in range(paths)}
    for i, text in values.items():
        root.secrets.kv.v2.create_or_update_secret(path=f"rs/p{i:02d}", secret={"pw": text}, mount_point="kv-v2")
    proxy = CountingProxy(bao_setup.server.url)
    flags = (f"--refresh-jitter={JITTER}",)
    runs = [private_ours(op_cluster, ns, *flags) for _ in range(3)]
    prefix = "/v1/kv-v2/data/rs/"
    wall_to_mono = time.time() - time.monotonic()

    def refreshed_at() -> list[float]:  # status.refreshTime of every ExternalSecret, as monotonic seconds
        return [dt.datetime.fromisoformat(e["status"]["refreshTime"].replace("Z", "+00:00")).timestamp()
                - wall_to_mono for e in list_es(op_cluster, ns)]

    try:
        approle_store(op_cluster, ns, proxy.url, bao_setup)
        create_many(op_cluster, f"{ES_API}/namespaces/{ns}/externalsecrets", [
            {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": f"es-{n:02d}"},
             "spec": {"refreshInterval": f"{INTERVAL:.0f}s", "secretStoreRef": {"name": "bao", "kind": "SecretStore"},
                      "data": [{"secretKey": "pw", "remoteRef": {"key": f"rs/p{n % paths:02d}", "property": "pw"}}]}}
            for n in range(paths * per_path)])
        total = paths * per_path
        runs[0].start()
        wait_for("first sync", lambda: ready_counts(op_cluster, ns) == (total, total), 60, runs[0].log_text)
        assert len(proxy.requests_since(0, prefix)) == paths  # the first sync: one read per path
        runs[0].stop()

        # 1. restart with nothing due: not one read until the earliest refresh is due
        synced = refreshed_at()
        restart = time.monotonic()
        runs[1].start()
        quiet_until = min(synced) + INTERVAL  # refreshTime has whole seconds: due from here at the earliest
        assert quiet_until - time.monotonic() > 5, "the first sync took too long for this test's timing"
        time.sleep(max(0.0, quiet_until - time.monotonic()))
        early = proxy.requests_since(restart, prefix)
        assert early == [], f"{len(early)} reads after a restart with every Secret valid and none due"
        # then: due within the jitter window; one read per path (ExternalSecrets sharing a path share it)
        window_end = max(synced) + 1 + INTERVAL * (1 + JITTER) + 2
        wait_for("the refreshes that fell due", lambda: time.monotonic() > window_end, 60, runs[1].log_text)
        due_reads = proxy.requests_since(restart, prefix)
        assert len(due_reads) == paths, f"{len(due_reads)} reads in one refresh window for {paths} paths"
        assert all(t >= quiet_until for t in due_reads)
        runs[1].stop()

        # 2. an outage longer than the interval: every refresh is overdue at start-up, and spread
        refreshed = refreshed_at()
        time.sleep(max(0.0, max(refreshed) + INTERVAL + 1.5 - time.monotonic()))
        restart = time.monotonic()
        runs[2].start()
        wait_for("every overdue refresh", lambda: min(refreshed_at()) > max(refreshed), 60, runs[2].log_text)
        overdue_reads = proxy.requests_since(restart, prefix)
        span = max(overdue_reads) - min(overdue_reads)
        print(f"\nrestart: 0 reads before due, {len(due_reads)} reads in the window; after the outage "
              f"{len(overdue_reads)} reads spread over {span:.1f}s (window {INTERVAL * JITTER:.0f}s); "
              f"test {time.monotonic() - started:.1f}s")
        assert len(overdue_reads) == paths, overdue_reads
        assert span > 1.0, f"overdue refreshes fired together ({span:.2f}s apart at most)"
        assert max(overdue_reads) - restart < INTERVAL * JITTER + 8
        for n in (0, 13, 29):
            secret = get_secret(op_cluster, ns, f"es-{n:02d}")
            assert secret is not None and secret["data"] == {"pw": b64(values[n % paths])}
        assert_no_plaintext([*values.values(), bao_setup.approle_secret_id],
                            *(run.log_text() for run in runs), runs[2].metrics())
    finally:
        for run in runs:
            run.stop()
        proxy.stop()
