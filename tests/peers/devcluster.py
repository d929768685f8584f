"""Start the test peers for use by hand: a real kube-apiserver + etcd, optionally a Vault dev server.

    python -m tests.peers.devcluster up [--vault]   # prints `export KUBECONFIG=...` (and VAULT_ADDR/TOKEN)
    python -m tests.peers.devcluster status
    python -m tests.peers.devcluster down

The processes run detached; their state (pids, folders, credentials) is kept in
<peer cache>/devcluster.json until `down`. Data lives on tmpfs and is gone after `down`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tests.peers.cache import cache_dir
from tests.peers.kube import KubeCluster, build_kube, start_cluster, stop_pid


def state_file() -> Path:
    return cache_dir() / "devcluster.json"


def up(with_vault: bool) -> int:
    if state_file().exists():
        print(f"already up (state in {state_file()}); run `down` first", file=sys.stderr)
        return 1
    build_kube()
    cluster = start_cluster()
    state: dict[str, Any] = {"kube": cluster.to_json()}
    exports = {"KUBECONFIG": str(cluster.kubeconfig)}
    try:
        if with_vault:
            from tests.peers.vault import build_vault, configure, configure_kubernetes_auth, start_vault

            build_vault()
            server = start_vault()
            state["vault"] = {"pid": server.pid, "workdir": str(server.workdir), "url": server.url}
            configure_kubernetes_auth(configure(server), cluster)
            exports |= {"VAULT_ADDR": server.url, "VAULT_TOKEN": server.root_token, "BAO_ADDR": server.url,
                        "BAO_TOKEN": server.root_token}
    finally:
        state_file().write_text(json.dumps(state, indent=2))
        state_file().chmod(0o600)
    print(f"# kube-apiserver {cluster.version} at {cluster.url}; logs in {cluster.workdir}", file=sys.stderr)
    for key, value in exports.items():
        print(f"export {key}={value}")
    return 0


def down() -> int:
    if not state_file().exists():
        print("not up", file=sys.stderr)
        return 0
    state = json.loads(state_file().read_text())
    if "vault" in state:
        import shutil

        stop_pid(state["vault"]["pid"])
        shutil.rmtree(state["vault"]["workdir"], ignore_errors=True)
    KubeCluster.from_json(state["kube"]).stop()
    state_file().unlink()
    print("stopped", file=sys.stderr)
    return 0


def status() -> int:
    if not state_file().exists():
        print("not up")
        return 1
    cluster = KubeCluster.from_json(json.loads(state_file().read_text())["kube"])
    print(cluster.request("GET", "/readyz?verbose").get("text", ""))
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.devcluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--vault", action="store_true", help="also start a configured Vault dev server")
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args.vault)
    return down() if args.command == "down" else status()


if __name__ == "__main__":
    sys.exit(main())
