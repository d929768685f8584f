"""`--shards`: replicas of our ExternalSecret controller split the namespaces through coordination.k8s.io
Leases, on a kube-apiserver of this module's own that writes an audit log — so who wrote what is the API
server's record (each replica logs in as its own service account), not the replicas' word.

- the balancing alone (Sharder objects in one event loop, the same clock): never one shard held by two at
  once, a fair split, a crashed member's shards taken over within one lease period (+ retries), a
  stopping member's handed over at once;
- two operator processes: 40 ExternalSecrets in 8 namespaces all Ready, each namespace written by exactly
  one replica (the holder of its shard), shard sets disjoint and covering; kill -9 one: the other holds
  every shard within one lease period (+ retries) and syncs a change made after the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.kube import (
    KubeCluster,
    free_port,
    missing_binaries,
    scratch_dir,
    start_cluster,
    start_process,
)
from tests.peers.our_operator import _env, secrets_kit_binary

from .conftest import unique
from .support import get_secret, wait_for
from .test_external_operator import (
    ES_API,
    Ours,
    create,
    external_secret,
    fake_store,
    install_eso_crds,
    ready_of,
)

pytestmark = pytest.mark.peer("kube")
LEASE_API = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
LEASE_S = 4.0
RETRY_S = LEASE_S * 2 / 15  # the operator's retry period for a lease of LEASE_S
SHARDS = 8
WRITES = ("create", "update", "patch", "delete")
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived", "ResponseStarted"],
    "rules": [
        {"level": "Metadata", "verbs": list(WRITES), "resources": [
            {"group": "", "resources": ["secrets", "events"]},
            {"group": "external-secrets.io", "resources": [
                "externalsecrets", "externalsecrets/status", "secretstores", "secretstores/status",
                "clustersecretstores/status"]}]},
        {"level": "None"},
    ],
}


def shard_of(namespace: str, shards: int = SHARDS) -> int:
    """The split the flag documents, written here: sha256 of the namespace, first 8 bytes, mod N."""
    return int.from_bytes(hashlib.sha256(namespace.encode()).digest()[:8], "big") % shards


@pytest.fixture(scope="module")
def audited() -> Iterator[tuple[KubeCluster, Path]]:
    absent = missing_binaries()
    if absent:
        pytest.skip(f"real kube-apiserver peer missing ({', '.join(absent)})")
    folder = scratch_dir("secrets-kit-shards-audit-")
    policy, audit_log = folder / "policy.json", folder / "audit.log"
    policy.write_text(json.dumps(AUDIT_POLICY))
    try:
        cluster = start_cluster(extra_args=(f"--audit-policy-file={policy}", f"--audit-log-path={audit_log}"))
        try:
            install_eso_crds(cluster)
            yield cluster, audit_log
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def shard_leases(cluster: KubeCluster, ns: str) -> dict[int, str]:
    """Shard number → holderIdentity ("" when released) of the shard Leases in `ns`."""
    items = cluster.request("GET", LEASE_API.format(ns=ns) + "?labelSelector=secrets-kit.io/external-shards%3Dshard")
    out = {}
    for item in items.get("items") or []:
        name = item["metadata"]["name"]
        if name.endswith(f"-of-{SHARDS}"):
            out[int(name.split("-")[-3])] = str(item["spec"].get("holderIdentity") or "")
    return out


# ------------------------------------------------------------------------------------ the balancing


def test_sharders_split_fairly_never_overlap_and_take_over(audited: tuple[KubeCluster, Path]) -> None:
    cluster, _ = audited
    lease_ns = unique("shards-bal")
    cluster.ensure_namespace(lease_ns)
    # with exactly the Role operator/deploy/shards grants, in the Leases' namespace
    from secrets_kit.k8s.manifests import load_documents

    deploy = Path(__file__).resolve().parents[2] / "operator" / "deploy" / "shards" / "rbac.yaml"
    role = next(d for d in load_documents(deploy.read_bytes(), source=str(deploy)) if d["kind"] == "Role")
    user = cluster.create_service_account(lease_ns, "sharder", list(role["rules"]))
    asyncio.run(_balancing(user.kubeconfig, lease_ns))


async def _balancing(kubeconfig: Path, lease_ns: str) -> None:
    from secrets_kit_operator.external.kube import ExternalKube
    from secrets_kit_operator.external.shards import Sharder
    from secrets_kit_operator.kube import Kube, load_credentials

    configuration, _ = await load_credentials(str(kubeconfig))
    kube = Kube(configuration)
    n, lease = 6, 3.0
    sharders = [Sharder(ExternalKube(kube), lease_ns, n, lease=lease, identity=f"member-{i}") for i in range(3)]
    stops = [asyncio.Event() for _ in sharders]
    tasks: list[asyncio.Task[None] | None] = [None] * 3
    overlaps: list[tuple[int, list[str]]] = []

    async def watch_overlap() -> None:  # the safety property, sampled on the one clock they share
        while True:
            for shard in range(n):
                holders = [s.identity for s in sharders if s.holds(shard)]
                if len(holders) > 1:
                    overlaps.append((shard, holders))
            await asyncio.sleep(0.02)

    async def until(what: str, check: Any, timeout: float) -> float:
        started = time.monotonic()
        while not check():
            if time.monotonic() - started > timeout:
                counts = [len(s.held()) for s in sharders]
                raise AssertionError(f"timed out waiting for {what}; held {counts}")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def start(i: int) -> None:
        tasks[i] = asyncio.get_running_loop().create_task(sharders[i].run(stops[i]))

    def counts() -> list[int]:
        return [len(s.held()) for s in sharders]

    watcher = asyncio.get_running_loop().create_task(watch_overlap())
    try:
        start(0)
        await until("one member holding every shard", lambda: counts()[0] == n, 10)
        start(1)
        await until("a 3/3 split", lambda: counts()[:2] == [3, 3], 15)
        start(2)
        await until("a 2/2/2 split", lambda: counts() == [2, 2, 2], 15)
        assert sorted(i for s in sharders for i in s.held()) == list(range(n))  # disjoint and covering
        await asyncio.sleep(3 * sharders[0].retry)
        assert counts() == [2, 2, 2], "a stable split stays put"

        # a crash: member 2 stops renewing and hands nothing over
        async def no_release() -> None:
            return None

        sharders[2].release_all = no_release  # type: ignore[method-assign]
        dead = set(sharders[2].held())
        task = tasks[2]
        assert task is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        took = await until("the crashed member's shards taken", lambda: sorted(
            sharders[0].held() + sharders[1].held()) == list(range(n)), lease + 6 * sharders[0].retry + 3)
        assert took <= lease + 3 * sharders[0].retry + 1.5, took  # one lease period, plus retries
        assert counts()[:2] == [3, 3] and dead <= set(sharders[0].held() + sharders[1].held())

        # a clean stop: member 1 hands its shards over, member 0 takes them well within one lease period
        stops[1].set()
        task = tasks[1]
        assert task is not None
        await task
        handed = await until("member 1's shards handed over", lambda: counts()[0] == n, lease + 3)
        print(f"crash takeover {took:.1f}s, clean hand-over {handed:.1f}s (lease {lease:g}s)")
        assert handed < lease, handed

        # a replica with another --shards (a rollout changing N): nobody holds anything until it is gone
        other = Sharder(ExternalKube(kube), lease_ns, 4, lease=lease, identity="member-other-n")
        other_stop = asyncio.Event()
        other_task = asyncio.get_running_loop().create_task(other.run(other_stop))
        await until("both splits standing down", lambda: counts()[0] == 0, lease + 3)
        await asyncio.sleep(3 * other.retry)
        assert other.held() == [] and counts()[0] == 0
        other_stop.set()
        await other_task
        await until("member 0 back to every shard", lambda: counts()[0] == n, lease + 3)
        assert overlaps == [], overlaps[:5]
    finally:
        watcher.cancel()
        for i, task in enumerate(tasks):
            if task is not None and not task.done():
                stops[i].set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
        await kube.close()


def test_a_partitioned_replica_stops_before_its_leases_can_expire(audited: tuple[KubeCluster, Path]) -> None:
    """A replica whose API calls all fail (cut off, still running) stops holding at the renew deadline; the
    other takes the shards only after the lease period, never while the first still believes it holds."""
    cluster, _ = audited
    lease_ns = unique("shards-cut")
    cluster.ensure_namespace(lease_ns)

    async def main() -> None:
        from secrets_kit_operator.external.kube import ExternalKube
        from secrets_kit_operator.external.shards import Sharder
        from secrets_kit_operator.kube import Kube, load_credentials

        class CutOff(ExternalKube):  # fault injection in front of the real API server
            cut = False

            async def request(self, method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
                if self.cut:
                    raise OSError("network unreachable (test)")
                return await super().request(method, path, body, **kw)

        configuration, _ = await load_credentials(str(cluster.kubeconfig))
        kube = Kube(configuration)
        link = CutOff(kube)
        n, lease = 4, 3.0
        a = Sharder(link, lease_ns, n, lease=lease, identity="cut-a")
        b = Sharder(ExternalKube(kube), lease_ns, n, lease=lease, identity="cut-b")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(a.run(stop)), loop.create_task(b.run(stop))]
        both: list[int] = []
        a_stopped = b_took = 0.0
        try:
            deadline = time.monotonic() + 20
            while sorted([len(a.held()), len(b.held())]) != [2, 2]:
                assert time.monotonic() < deadline, (a.held(), b.held())
                await asyncio.sleep(0.05)
            cut_at = time.monotonic()
            link.cut = True
            while len(b.held()) < n:
                assert time.monotonic() - cut_at < lease + 10, (a.held(), b.held())
                both += [s for s in range(n) if a.holds(s) and b.holds(s)]
                if not a.held() and not a_stopped:
                    a_stopped = time.monotonic() - cut_at
                await asyncio.sleep(0.02)
            b_took = time.monotonic() - cut_at
        finally:
            link.cut = False
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await kube.close()
        print(f"partitioned replica stopped after {a_stopped:.1f}s; the other took over after {b_took:.1f}s")
        assert both == []
        assert 0 < a_stopped <= a.renew_deadline + a.retry + 0.5, a_stopped
        assert b_took >= lease - a.retry, b_took  # not before the lease could have expired
        assert b_took > a_stopped

    asyncio.run(main())


def test_a_replica_that_lost_the_shard_writes_nothing(audited: tuple[KubeCluster, Path]) -> None:
    """The write guard a worker sets for its object: refused writes never reach the API server; reads,
    TokenRequests and the Leases themselves are not the object's and pass."""
    cluster, _ = audited
    ns = unique("shards-guard")
    cluster.ensure_namespace(ns)

    async def main() -> None:
        from secrets_kit_operator.external.kube import WRITE_GUARD, ExternalKube, NotOwner
        from secrets_kit_operator.kube import Kube, load_credentials

        configuration, _ = await load_credentials(str(cluster.kubeconfig))
        kube = Kube(configuration)
        client = ExternalKube(kube)
        held = True
        token = WRITE_GUARD.set(lambda: held)
        try:
            body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kept"}, "data": {}}
            await client.create_secret(ns, body, "externalsecrets.external-secrets.io/kept")
            held = False
            with pytest.raises(NotOwner):
                await client.create_secret(ns, {**body, "metadata": {"name": "refused"}}, "m")
            with pytest.raises(NotOwner):
                await client.delete_secret(ns, "kept")
            with pytest.raises(NotOwner):
                await client.post_event(ns, {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"}})
            assert await client.get_secret(ns, "kept") is not None  # reads pass
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
                     "spec": {"holderIdentity": "x"}}
            await client.request("POST", LEASE_API.format(ns=ns), lease, kind="Lease")  # not guarded
        finally:
            WRITE_GUARD.reset(token)
            await kube.close()

    asyncio.run(main())
    assert get_secret(cluster, ns, "kept") is not None and get_secret(cluster, ns, "refused") is None
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/events")["items"] == []


# ------------------------------------------------------------------------------------ two processes


def namespaces_one_per_shard(prefix: str) -> list[str]:
    """One namespace for each shard, so each of two balanced replicas owns exactly four."""
    found: dict[int, str] = {}
    counter = 0
    while len(found) < SHARDS:
        name = f"{prefix}-{counter}"
        found.setdefault(shard_of(name), name)
        counter += 1
    return [found[i] for i in range(SHARDS)]


def replica(cluster: KubeCluster, index: int, lease_ns: str, kubeconfig: Path) -> Ours:
    port = free_port()
    args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
            f"--shards={SHARDS}", f"--shard-lease-duration={LEASE_S:g}s", "--kubeconfig", str(kubeconfig),
            f"--metrics-addr=127.0.0.1:{port}", "--log-format=json"]
    ours = Ours(cluster, args, port, scratch_dir(f"secrets-kit-shard{index}-") / "operator.log")
    ours.proc = start_process(args, ours.log_file, env={**_env(), "POD_NAMESPACE": lease_ns})
    return ours


def identity_of(ours: Ours) -> str:
    for line in ours.log_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("msg") == "sharding":
                return str(record["identity"])
    return ""


def shards_held(ours: Ours) -> float:
    for line in ours.metrics().splitlines():
        if line.startswith("secrets_kit_external_shards_held "):
            return float(line.split()[1])
    return -1.0


def audit_writes(audit_log: Path, namespaces: set[str], users: set[str]) -> list[dict[str, Any]]:
    out = []
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        ref = event.get("objectRef") or {}
        if event.get("stage") == "ResponseComplete" and event.get("verb") in WRITES \
                and ref.get("namespace") in namespaces and event["user"]["username"] in users:
            out.append(event)
    return out


def all_ready(cluster: KubeCluster, namespaces: list[str], per_ns: int) -> bool:
    for ns in namespaces:
        items = cluster.request("GET", f"{ES_API}/namespaces/{ns}/externalsecrets")["items"]
        if len(items) != per_ns or any((ready_of(es) or {}).get("status") != "True" for es in items):
            return False
    return True


def test_two_replicas_split_the_namespaces_and_one_takes_over_when_the_other_is_killed(
        audited: tuple[KubeCluster, Path]) -> None:
    cluster, audit_log = audited
    lease_ns, sa_ns = unique("shards-lease"), unique("shards-sa")
    cluster.ensure_namespace(lease_ns)
    users = [cluster.create_service_account(sa_ns, f"replica-{i}", cluster_roles=("cluster-admin",))
             for i in range(2)]
    namespaces = namespaces_one_per_shard(unique("shards"))
    for ns in namespaces:
        cluster.ensure_namespace(ns)
    replicas = [replica(cluster, i, lease_ns, users[i].kubeconfig) for i in range(2)]
    try:
        for one in replicas:
            wait_for("a replica ready", one.ready, 90, one.log_text)
        ids = [wait_for("its identity logged", lambda r=one: identity_of(r), 30, one.log_text) for one in replicas]
        wait_for("a 4/4 split of the shard Leases", lambda: sorted(
            list(shard_leases(cluster, lease_ns).values()).count(i) for i in ids) == [4, 4], 30,
            replicas[1].log_text)
        holders = shard_leases(cluster, lease_ns)
        assert set(holders) == set(range(SHARDS)) and set(holders.values()) == set(ids)  # disjoint, covering
        wait_for("the metric", lambda: [shards_held(r) for r in replicas] == [4.0, 4.0], 15)

        # one ExternalSecret per namespace reads through a ClusterSecretStore, whose shard is by name: half
        # of them wait (flood gate) for the other replica's validation of it
        per_ns, shared = 5, unique("shared")
        create(cluster, fake_store("", shared, {"/shared": "s"}, kind="ClusterSecretStore"))
        for ns in namespaces:
            create(cluster, fake_store(ns, "fake", {"/a": f"a-{ns}", "/b": f"b-{ns}"}))
            for k in range(per_ns - 1):
                create(cluster, external_secret(ns, f"es-{k}", "fake", {"a": "/a"}))
            create(cluster, external_secret(ns, f"es-{per_ns - 1}", shared, {"s": "/shared"},
                                            kind="ClusterSecretStore"))
        wait_for("all 40 ExternalSecrets Ready", lambda: all_ready(cluster, namespaces, per_ns), 90,
                 replicas[0].log_text)

        # the API server's record: every namespace written by exactly one replica, the holder of its shard
        usernames = {u.username: i for i, u in enumerate(users)}
        writes = audit_writes(audit_log, set(namespaces), set(usernames))
        writers: dict[str, set[int]] = {ns: set() for ns in namespaces}
        for event in writes:
            writers[event["objectRef"]["namespace"]].add(usernames[event["user"]["username"]])
        expected = {ns: {ids.index(holders[shard_of(ns)])} for ns in namespaces}
        assert writers == expected, (writers, expected)
        assert sorted(len([ns for ns in namespaces if writers[ns] == {i}]) for i in (0, 1)) == [4, 4]
        store_writers = set()
        for line in audit_log.read_text().splitlines():
            event = json.loads(line)
            if (event.get("objectRef") or {}).get("name") == shared and event.get("stage") == "ResponseComplete" \
                    and event["user"]["username"] in usernames:
                store_writers.add(usernames[event["user"]["username"]])
        assert store_writers == {ids.index(holders[shard_of(shared)])}, store_writers
        secrets_written = {(e["objectRef"]["namespace"]) for e in writes if e["objectRef"]["resource"] == "secrets"}
        assert secrets_written == set(namespaces)

        # kill -9 replica 0; a change in one of its namespaces right after
        theirs = [ns for ns in namespaces if writers[ns] == {0}]
        killed_at = time.monotonic()
        assert replicas[0].proc is not None
        replicas[0].proc.kill()
        replicas[0].proc.wait()
        replicas[0].proc = None
        ns = theirs[0]
        cluster.request("PATCH", f"{ES_API}/namespaces/{ns}/externalsecrets/es-0",
                        {"spec": {"data": [{"secretKey": "a", "remoteRef": {"key": "/a"}},
                                           {"secretKey": "b", "remoteRef": {"key": "/b"}}]}},
                        content_type="application/merge-patch+json")
        create(cluster, external_secret(theirs[1], "after-kill", "fake", {"b": "/b"}))
        wait_for("every shard held by the survivor", lambda: list(shard_leases(cluster, lease_ns).values())
                 == [ids[1]] * SHARDS, LEASE_S * 3 + 10, replicas[1].log_text)
        took = time.monotonic() - killed_at
        print(f"writers per namespace {writers}; takeover after kill -9: {took:.1f}s")
        assert took <= LEASE_S + 3 * RETRY_S + 1.5, f"takeover took {took:.1f}s"
        wait_for("the change synced by the survivor", lambda: "b" in ((get_secret(cluster, ns, "es-0") or {})
                                                                      .get("data") or {}), 30, replicas[1].log_text)
        wait_for("the new ExternalSecret Ready", lambda: (ready_of(cluster.request(
            "GET", f"{ES_API}/namespaces/{theirs[1]}/externalsecrets/after-kill")) or {}).get("status") == "True",
            30, replicas[1].log_text)
        assert shards_held(replicas[1]) == SHARDS

        # never two at once: in each of the dead replica's namespaces its writes all precede the survivor's
        writes = audit_writes(audit_log, set(theirs), set(usernames))
        for space in theirs:
            mine = [e for e in writes if e["objectRef"]["namespace"] == space]
            last_dead = max(e["stageTimestamp"] for e in mine if usernames[e["user"]["username"]] == 0)
            survivor = [e["requestReceivedTimestamp"] for e in mine if usernames[e["user"]["username"]] == 1]
            assert all(stamp > last_dead for stamp in survivor), space
        # taking a shard over re-reads nothing that is not due: the survivor wrote only for the two changes
        touched = {(e["objectRef"]["namespace"], e["objectRef"]["resource"], e["objectRef"].get("name", ""))
                   for e in writes if usernames[e["user"]["username"]] == 1}
        assert touched and all(name.split(".")[0] in ("es-0", "after-kill") for _, _, name in touched), touched
        assert {(space, resource) for space, resource, _ in touched} >= {
            (ns, "secrets"), (ns, "externalsecrets"), (theirs[1], "secrets"), (theirs[1], "externalsecrets")}

        # a rolling restart: a new replica joins (4/4 again), then the old one stops (SIGTERM) and hands its
        # shards over at once instead of letting them expire
        replicas[0] = replica(cluster, 2, lease_ns, users[0].kubeconfig)
        wait_for("the new replica ready", replicas[0].ready, 90, replicas[0].log_text)
        ids[0] = wait_for("its identity", lambda: identity_of(replicas[0]), 30, replicas[0].log_text)
        wait_for("a 4/4 split again", lambda: sorted(list(shard_leases(cluster, lease_ns).values()).count(i)
                                                     for i in ids) == [4, 4], 30, replicas[0].log_text)
        stopping = time.monotonic()
        replicas[1].stop()
        wait_for("every shard held by the new replica", lambda: list(shard_leases(cluster, lease_ns).values())
                 == [ids[0]] * SHARDS, LEASE_S * 3, replicas[0].log_text)
        handed = time.monotonic() - stopping
        print(f"hand-over on SIGTERM: {handed:.1f}s")
        assert handed < LEASE_S, f"hand-over took {handed:.1f}s: the Leases expired instead of being released"
        members = cluster.request("GET", LEASE_API.format(ns=lease_ns)
                                  + "?labelSelector=secrets-kit.io/external-shards%3Dmember")["items"]
        assert [m["spec"]["holderIdentity"] for m in members if m["spec"].get("holderIdentity") == ids[1]] == []
    finally:
        for one in replicas:
            one.stop()
