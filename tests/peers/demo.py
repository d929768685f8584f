"""`make demo`: the example GitOps repository on a local cluster, synced by our operator.

    python -m tests.peers.demo [-o table|json] [--keep] [--timeout SECONDS]
    python -m tests.peers.demo down            # after --keep: stop what the demo left running

It starts the test peers (kube-apiserver + etcd, OpenBao, moto, drongo for GCP Secret Manager),
installs our CRDs (operator/deploy/), runs `secrets-kit operator run --external-secrets` (both
controllers, out of cluster with the kubeconfig), seeds the values the example ExternalSecrets read
into OpenBao, moto and drongo, fills in examples/gitops as the quickstart does but sealed with the
cluster's certificate (fetched from the running operator), renders each deploy/<env> (zero plaintext:
every Secret re-sealed; dev's placeholders resolved from fake-store.yaml), applies the ClusterSecretStores,
SealedSecrets and ExternalSecrets, waits until they settle, and prints one row per object: its state and
the Secret it produced (key names, never values). Progress goes to stderr, the table (or JSON) to stdout.

The example stores point at real clouds; for the peers the demo changes two fields, and says so:
the Vault store's `server` (OpenBao's address) and the GCP store's workload identity (dropped: drongo
takes no credentials, and no Google token service runs here). The AWS store is applied as written: its
web identity (the ServiceAccount's IRSA annotation, a TokenRequest, sts:AssumeRoleWithWebIdentity) is
served by the kube-apiserver and moto.

Parts: demo_peers.py starts and seeds the peers, demo_manifests.py builds what is applied, demo_table.py
turns objects and Secrets into rows (pure).

Exit codes: 0 every object Ready/Synced; 3 some object did not settle within --timeout (the table says
which; with --keep the cluster stays up to look at it); 4 a peer is missing (the message names the command
that provides it); 2 bad command line, or a demo is already up (`down` first); 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.peers import demo_table
from tests.peers.cache import cache_dir
from tests.peers.demo_manifests import apply_all, cluster_stores, object_path, rendered_objects
from tests.peers.demo_peers import (
    Started,
    install_crds,
    missing_peers,
    prepare_cluster,
    say,
    seed,
    start_operator,
    start_peers,
    stop_together,
)
from tests.peers.kube import KubeCluster, scratch_dir, stop_pid

EXIT_NOT_SETTLED, EXIT_PEER_MISSING = 3, 4


def default_state() -> Path:
    return cache_dir() / "demo.json"


# ----------------------------------------------------------------------------------------- settle


def current(cluster: KubeCluster, docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The applied objects as the cluster has them now, and the Secrets of their namespaces."""
    objects = [{"kind": d["kind"], **cluster.request("GET", object_path(d))} for d in docs]
    namespaces = sorted({d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")})
    found: list[dict[str, Any]] = []
    for ns in namespaces:
        found += cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets").get("items", [])
    return objects, found


def settle(cluster: KubeCluster, docs: list[dict[str, Any]], timeout: float) -> tuple[list[demo_table.Row], bool]:
    """Poll until every object is Ready/Synced and each SealedSecret/ExternalSecret owns its Secret, or
    the timeout passes; a progress line on stderr when the count changes (and every 5 s)."""
    t0 = time.monotonic()
    last: tuple[int, float] = (-1, 0.0)
    while True:
        rows = demo_table.rows(*current(cluster, docs))
        done = [r for r in rows if r.ready and (r.secret or r.kind not in demo_table.MAKES_SECRET)]
        now = time.monotonic() - t0
        if len(done) == len(rows):
            say(f"all {len(rows)} objects settled in {now:.1f}s")
            return rows, True
        if len(done) != last[0] or now - last[1] >= 5:
            waiting = next(r for r in rows if r not in done)
            say(f"{len(done)}/{len(rows)} settled after {now:.0f}s; waiting for {waiting.kind} "
                f"{waiting.namespace + '/' if waiting.namespace else ''}{waiting.name} "
                f"({waiting.condition}={waiting.status}{' ' + waiting.reason if waiting.reason else ''})")
            last = (len(done), now)
        if now > timeout:
            say(f"not settled after {timeout:.0f}s: {len(rows) - len(done)} of {len(rows)} objects")
            return rows, False
        time.sleep(0.5)


# -------------------------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    missing = missing_peers()
    if missing:
        for line in missing:
            say(f"missing: {line}")
        return EXIT_PEER_MISSING
    state: Path = args.state
    if state.exists():
        say(f"a demo is already up (state in {state}); run `python -m tests.peers.demo down` first")
        return 2
    t0 = time.monotonic()
    started = Started()
    workdir = scratch_dir("secrets-kit-demo-")
    kept = False
    try:
        setup, gcp, moto_url = start_peers(started)
        assert started.cluster is not None
        cluster = started.cluster
        install_crds(cluster)
        prepare_cluster(cluster, setup)
        seed(setup, gcp, moto_url)
        ours = start_operator(started, cluster, moto_url, gcp.endpoint)
        docs = cluster_stores(setup.server.url) + rendered_objects(workdir, ours.served_cert())
        apply_all(cluster, docs)
        rows, settled = settle(cluster, docs, args.timeout)
        started.exports = {"KUBECONFIG": str(cluster.kubeconfig), **started.exports}
        report: dict[str, Any] = {"settled": settled, "seconds": round(time.monotonic() - t0, 1),
                                  "objects": [r.to_json() for r in rows], "kept": bool(args.keep)}
        if args.keep:
            started.processes.append({"what": "demo work folder", "pid": 0, "workdir": str(workdir)})
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps(started.to_json(), indent=2))
            state.chmod(0o600)
            kept = True
            report["exports"] = started.exports
            report["down"] = down_command(state)
        if args.output == "json":
            print(json.dumps(report, indent=2))
        else:
            print(demo_table.table(rows), end="")
            if kept:
                print("\n" + "\n".join(f"export {k}={v}" for k, v in started.exports.items()))
        if kept:
            say("left running; with the exports above try `kubectl get sealedsecrets,externalsecrets -A` or "
                "`kubeseal --fetch-cert`")
            say(f"stop it with: {down_command(state)}  (or `make demo-down`)")
        return 0 if settled else EXIT_NOT_SETTLED
    finally:
        if not kept:
            say("stopping everything the demo started")
            started.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def down_command(state: Path) -> str:
    extra = "" if state == default_state() else f" --state {state}"
    return f"python -m tests.peers.demo down{extra}"


def down(state: Path) -> int:
    if not state.exists():
        say(f"no demo is up (no {state})")
        return 0
    data = json.loads(state.read_text())

    def stopper(proc: dict[str, Any]) -> Callable[[], None]:
        def stop() -> None:
            if proc.get("pid"):
                stop_pid(int(proc["pid"]))
            shutil.rmtree(proc["workdir"], ignore_errors=True)

        return stop

    stop_together([stopper(proc) for proc in data.get("processes", [])])
    KubeCluster.from_json(data["kube"]).stop()
    state.unlink()
    say("stopped")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, `kill`) stops the peers as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["run", "down"], default="run",
                        help="run the demo (default), or stop one left up by --keep")
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table", help="stdout format")
    parser.add_argument("--keep", action="store_true",
                        help="leave the cluster and peers running; prints the KUBECONFIG export")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for objects to settle")
    parser.add_argument("--state", type=Path, default=None,
                        help="where --keep records what runs (default: <peer cache>/demo.json)")
    args = parser.parse_args(argv)
    args.state = args.state or default_state()
    if args.command == "down":
        return down(args.state)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
