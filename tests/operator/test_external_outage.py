"""Provider outage with the real OpenBao behind a Vault SecretStore: while the server is down the managed
Secret is left untouched (same data, same resourceVersion) and the ExternalSecret is Ready=False with
ESO's reason and message; when it returns, the next retry (exponential backoff with jitter) syncs the
new value — no restart of ours, no Secret emptied.

The outage lasts three refresh intervals. The retries are counted from ours' log ("sync failed;
retrying" with its `retry_in_s`): more than one (it retries), few (backoff, not a hot loop), with
differing delays (jitter), each at most one refreshInterval (the backoff is capped there), so the value
is back within one refresh of the provider's return. OpenBao's dev mode keeps its storage in memory:
a restarted server is empty (same root token, as given by -dev-root-token-id), so the test mounts
nothing new (dev mode mounts `secret/` KV v2 itself) and re-seeds the path, with a new value."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.kube import KubeCluster, free_port, scratch_dir, start_process, stop_child, wait_until_ready
from tests.peers.vault import vault_binary

from .conftest import unique
from .support import assert_no_plaintext, b64, get_secret, marker, wait_for
from .test_external_operator import ES_API, Ours, crds, ours, ready_of, wait_ready  # noqa: F401

pytestmark = pytest.mark.peer("kube")
REFRESH = 2.0  # the ExternalSecret's refreshInterval, seconds
OUTAGE = 3 * REFRESH


def retries_of(log: str, es: str) -> list[float]:
    """The `retry_in_s` of each "sync failed; retrying" line of ours' JSON log for one ExternalSecret."""
    out: list[float] = []
    for line in log.splitlines():
        if "sync failed; retrying" not in line or es not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        fields = record.get("fields") if isinstance(record.get("fields"), dict) else record
        if fields.get("externalsecret") == es:
            out.append(float(fields["retry_in_s"]))
    return out


class Bao:
    """`bao server -dev` on a fixed port, so it can be stopped and started again at the same address."""

    def __init__(self) -> None:
        binary = vault_binary()
        if binary is None:
            pytest.skip("real Vault-API server (OpenBao) missing: run `python -m tests.peers.install`")
        self.binary: Path = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = "root-" + os.urandom(8).hex()
        self.workdir = scratch_dir("secrets-kit-eso-outage-")
        self.proc: Any = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(self.workdir)
        self.proc = start_process([str(self.binary), "server", "-dev", f"-dev-root-token-id={self.token}",
                                   f"-dev-listen-address=127.0.0.1:{self.port}", "-log-level=warn"],
                                  self.workdir / "server.log", env=env)
        import urllib.request

        def up() -> bool:
            with urllib.request.urlopen(f"{self.url}/v1/sys/health", timeout=2) as resp:
                return bool(resp.status == 200)

        wait_until_ready(up, "bao", self.proc, self.workdir / "server.log", timeout=30)

    def put(self, path: str, data: dict[str, str]) -> None:
        import hvac

        hvac.Client(url=self.url, token=self.token).secrets.kv.v2.create_or_update_secret(
            path=path, secret=data, mount_point="secret")

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None


@pytest.fixture
def bao() -> Iterator[Bao]:
    server = Bao()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_provider_down_leaves_the_secret_and_recovers(ours: Ours, op_cluster: KubeCluster,  # noqa: F811
                                                      bao: Bao) -> None:
    ns = unique("eso-outage")
    op_cluster.ensure_namespace(ns)
    first, second = marker("before"), marker("after")
    bao.put("app", {"pw": first})
    op_cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-token"},
        "data": {"token": b64(bao.token)}})
    op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/secretstores", {
        "apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "bao"},
        "spec": {"provider": {"vault": {"server": bao.url, "path": "secret", "version": "v2",
                                        "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}}}}}})
    wait_for("the Vault store Ready", lambda: (ready_of(op_cluster.request(
        "GET", f"{ES_API}/namespaces/{ns}/secretstores/bao")) or {}).get("status") == "True", 30, ours.log_text)
    op_cluster.request("POST", f"{ES_API}/namespaces/{ns}/externalsecrets", {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "app"},
        "spec": {"refreshInterval": f"{REFRESH:g}s", "secretStoreRef": {"name": "bao", "kind": "SecretStore"},
                 "data": [{"secretKey": "pw", "remoteRef": {"key": "app", "property": "pw"}}]}})
    wait_ready(ours, ns, "app")
    before = get_secret(op_cluster, ns, "app")
    assert before is not None and before["data"] == {"pw": b64(first)}

    log_mark = len(ours.log_text())
    bao.stop()
    down_at = time.monotonic()
    es = wait_ready(ours, ns, "app", status="False", timeout=30)
    ready = ready_of(es)
    assert ready is not None and (ready["reason"], ready["message"]) == (
        "SecretSyncedError", "could not get secret data from provider")
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))  # three refresh intervals of outage
    during = get_secret(op_cluster, ns, "app")
    assert during is not None and during["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert during["data"] == {"pw": b64(first)}
    retries = retries_of(ours.log_text()[log_mark:], f"{ns}/app")
    outage = time.monotonic() - down_at
    # it retries; with backoff (from 0.5-1 s, doubling, capped at the 2 s refresh), not in a hot loop
    assert 2 <= len(retries) <= outage / 0.5 + 1, (len(retries), outage)
    assert len(set(retries)) > 1, f"no jitter: {retries}"
    assert max(retries) <= REFRESH, f"a retry past one refreshInterval: {retries}"

    bao.start()  # a dev server starts empty (in-memory storage): re-seed, the value comes back rotated
    bao.put("app", {"pw": second})
    back_at = time.monotonic()
    wait_for("the value after the outage", lambda: (get_secret(op_cluster, ns, "app") or {}).get(
        "data") == {"pw": b64(second)}, 60, ours.log_text)
    recovered_in = time.monotonic() - back_at
    wait_ready(ours, ns, "app")
    assert recovered_in <= REFRESH + 1.5, f"recovered {recovered_in:.1f}s after the provider returned"
    print(f"\noutage {outage:.1f}s: {len(retries)} retries {retries}; recovered in {recovered_in:.1f}s")
    events = op_cluster.request("GET", f"/api/v1/namespaces/{ns}/events")["items"]
    assert_no_plaintext([first, second, bao.token], ours.log_text(), ours.metrics(), str(events),
                        str(op_cluster.request("GET", f"{ES_API}/namespaces/{ns}/externalsecrets/app").get("status")))
