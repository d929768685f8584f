"""Vault request accounting: ESO's `externalsecret_provider_api_calls_count{provider="HashiCorp/Vault"}`
counts every HTTP request ours sends to Vault — the AppRole login (call="Login") and the store's
validation lookups (call="LookupSelf") included — and matches what OpenBao received, counted by a
loopback proxy in front of it. 200 ExternalSecrets on 20 paths cost 1 login and 20 reads."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.peers.kube import KubeCluster
from tests.peers.vault import VaultSetup, configure, start_vault, vault_binary

from .conftest import unique
from .faults_support import CountingProxy, create_many, private_ours, provider_calls, ready_counts
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
        op_cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "approle"},
            "data": {"secret-id": b64(bao_setup.approle_secret_id)}})
        op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", {
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "bao"},
            "spec": {"provider": {"vault": {"server": proxy.url, "path": "kv-v2", "version": "v2", "auth": {
                "appRole": {"path": "approle", "roleId": bao_setup.approle_role_id,
                            "secretRef": {"name": "approle", "key": "secret-id"}}}}}}})
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
