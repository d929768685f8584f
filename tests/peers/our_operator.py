"""Our operator (`secrets-kit operator run`) as a subprocess on the kube-apiserver peer, shaped like
the Bitnami controller peer (tests.peers.sealed_controller) so tests drive both the same way.

It runs out of cluster with a kubeconfig (which Bitnami's controller cannot), listens on a
non-loopback address, and is exposed through the API server's service proxy with the same
Service + Pod + Endpoints mechanism (`SealedController.expose`).
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.peers.cache import log
from tests.peers.kube import KubeCluster, free_port, start_process, wait_until_ready
from tests.peers.sealed_controller import (
    KEY_LABEL,
    SealedController,
    external_ipv4,
    free_port_on,
    register_crd,
)


def secrets_kit_binary() -> str:
    """The `secrets-kit` of the running interpreter's environment (a worktree's venv)."""
    beside = Path(sys.executable).parent / "secrets-kit"
    return str(beside) if beside.exists() else (shutil.which("secrets-kit") or "secrets-kit")


@dataclass
class OurController(SealedController):
    """A running `secrets-kit operator run`; the Bitnami peer's helpers (keys, waits, expose) apply."""

    metrics_port: int = 0
    args: tuple[str, ...] = ()

    def newest_cert(self) -> bytes:
        """The certificate ours must seal with: of the *active* key Secrets, the one whose certificate
        starts last (`--key-order-priority CertNotBefore`). Worked out here from the Secrets with
        cryptography, not with the core's rule; key Secrets whose certificate does not parse are passed
        over (Bitnami's fixture orders by creation, which is the same for keys the controller made)."""
        from cryptography import x509

        best: tuple[Any, bytes] | None = None
        for item in self.key_secrets():
            if (item["metadata"].get("labels") or {}).get(KEY_LABEL) != "active":
                continue
            pem = base64.b64decode((item.get("data") or {}).get("tls.crt", ""))
            try:
                start = x509.load_pem_x509_certificate(pem).not_valid_before_utc
            except ValueError:
                continue
            if best is None or start > best[0]:
                best = (start, pem)
        assert best is not None, "no active key Secret with a readable certificate"
        return best[1]

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as resp:
            return str(resp.read().decode())

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop (SIGTERM) and start again with the same flags and log file."""
        assert self.proc is not None
        from tests.peers.kube import stop_child

        stop_child(self.proc)
        self.proc = start_process(list(self.args), self.log_file, env=_env())
        wait_until_ready(self.ready, "secrets-kit operator", self.proc, self.log_file, timeout=timeout)

    def stop_process(self) -> int | None:
        """SIGTERM and wait; the exit code (the scratch folder and log stay)."""
        if self.proc is None:
            return None
        from tests.peers.kube import stop_child

        stop_child(self.proc)
        code = self.proc.returncode
        self.proc = None
        return code


def _env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "SECRETS_KIT_OPERATOR_PROFILE")
    return {k: v for k, v in os.environ.items() if k in keep}


def start_operator(cluster: KubeCluster, *, namespace: str = "kube-system",
                   name: str = "sealed-secrets-controller", watch: tuple[str, ...] | None = None,
                   extra: tuple[str, ...] = (), expose: bool = True, kubeconfig: Path | None = None,
                   timeout: float = 90.0) -> OurController:
    """Start ours with keys in `namespace`, watching only `watch` (plus `namespace`) when given, else
    every namespace; return once /readyz answers (and, with expose, the service proxy reaches it)."""
    address = external_ipv4()
    if address is None:
        raise RuntimeError("no non-loopback IPv4 address: the API server's service proxy refuses loopback")
    register_crd(cluster)
    cluster.ensure_namespace(namespace)
    for ns in watch or ():
        cluster.ensure_namespace(ns)
    from tests.peers.kube import scratch_dir

    workdir = scratch_dir("secrets-kit-operator-")
    port, metrics_port = free_port_on(address), free_port()
    args = [secrets_kit_binary(), "operator", "run", "--kubeconfig", str(kubeconfig or cluster.kubeconfig),
            "--namespace", namespace, f"--listen-addr={address}:{port}",
            f"--listen-metrics-addr=127.0.0.1:{metrics_port}", "--log-format=json"]
    if watch is not None:
        args += ["--all-namespaces=false", f"--additional-namespaces={','.join(watch)}"]
    args += list(extra)
    log_file = workdir / "operator.log"
    ours = OurController(cluster=cluster, namespace=namespace, name=name, address=address, port=port,
                         log_file=log_file, workdir=workdir, metrics_port=metrics_port, args=tuple(args))
    started = time.monotonic()
    ours.proc = start_process(args, log_file, env=_env())
    try:
        wait_until_ready(ours.ready, "secrets-kit operator", ours.proc, log_file, timeout=timeout)
        if expose:
            ours.expose(namespace, name)
    except BaseException:
        ours.stop()
        raise
    log(f"secrets-kit operator ready in {time.monotonic() - started:.1f}s at {ours.url}")
    return ours
