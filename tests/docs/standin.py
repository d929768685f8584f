"""A kubelet stand-in for the runbook tests: the controllers' Deployments decide which peer runs.

The kube-apiserver peer has no controller-manager and no kubelet, so a Deployment is only an object.
The runbooks stop, start and restart controllers the way a reader does on a real cluster
(`kubectl scale deployment ... --replicas=0`, `kubectl rollout restart ...`); after every block the
test calls `Workloads.follow()`, which makes the real processes match: a Deployment scaled to 0 stops
its process, scaled up starts it (and waits until it is ready), a changed pod template restarts it.

The Deployments, one per controller (docs/README.md lists them for readers):
    kube-system/sealed-secrets-controller   Bitnami's sealed-secrets controller v0.36.6 (keys in kube-system)
    kube-system/secrets-kit                 ours, the SealedSecret controller (same keys, same Service)
    kube-system/secrets-kit-external        ours, the ExternalSecret controller (every namespace)
    external-secrets/external-secrets       ESO v0.16.2's core controller (the namespace in its --namespace)
Whichever sealed controller runs is behind the Service kube-system/sealed-secrets-controller, where
kubeseal and `secrets-kit` look for it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.peers.kube import (
    KubeAPIError,
    KubeCluster,
    free_port,
    scratch_dir,
    start_process,
    stop_child,
    wait_until_ready,
)
from tests.peers.our_operator import _env, secrets_kit_binary, start_operator

KEYS_NS = "kube-system"
SERVICE = "sealed-secrets-controller"
IMAGES = {
    "sealed-secrets-controller": "docker.io/bitnami/sealed-secrets-controller:0.36.6",
    "secrets-kit": "ghcr.io/example/secrets-kit:latest",
    "secrets-kit-external": "ghcr.io/example/secrets-kit:latest",
    "external-secrets": "ghcr.io/external-secrets/external-secrets:v0.16.2",
}


class Running(Protocol):
    def stop(self) -> None: ...


@dataclass
class OursExternal:
    """`secrets-kit operator run --external-secrets --no-sealed-secrets`, every namespace."""

    cluster: KubeCluster
    workdir: Path = field(default_factory=lambda: scratch_dir("secrets-kit-runbook-external-"))
    port: int = field(default_factory=free_port)
    proc: Any = None

    def ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)

    def start(self) -> OursExternal:
        args = [secrets_kit_binary(), "operator", "run", "--external-secrets", "--no-sealed-secrets",
                "--kubeconfig", str(self.cluster.kubeconfig), f"--metrics-addr=127.0.0.1:{self.port}",
                "--log-format=json"]
        log = self.workdir / "operator.log"
        self.proc = start_process(args, log, env=_env())
        wait_until_ready(self.ready, "secrets-kit operator --external-secrets", self.proc, log, timeout=90)
        return self

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as resp:
            return str(resp.read().decode())

    def stop(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def _unroute(cluster: KubeCluster) -> None:
    """Remove the Service, Pod and Endpoints that route kube-system/sealed-secrets-controller to the
    sealed controller that ran before (the next one exposes itself the same way)."""
    for path in (f"services/{SERVICE}", f"endpoints/{SERVICE}", f"pods/{SERVICE}-peer?gracePeriodSeconds=0"):
        with contextlib.suppress(KubeAPIError):
            cluster.request("DELETE", f"/api/v1/namespaces/{KEYS_NS}/{path}")


def start_bitnami(cluster: KubeCluster, deployment: dict[str, Any]) -> Running:
    from tests.peers.sealed_controller import start_controller

    _unroute(cluster)
    return start_controller(cluster, namespace=KEYS_NS, name=SERVICE)


def start_ours_sealed(cluster: KubeCluster, deployment: dict[str, Any]) -> Running:
    _unroute(cluster)
    return start_operator(cluster, namespace=KEYS_NS, name=SERVICE, extra=("--key-renew-period=0",))


def start_ours_external(cluster: KubeCluster, deployment: dict[str, Any]) -> Running:
    return OursExternal(cluster).start()


def start_eso(cluster: KubeCluster, deployment: dict[str, Any]) -> Running:
    from tests.peers.eso import start_eso as run_eso

    args = deployment["spec"]["template"]["spec"]["containers"][0].get("args") or []
    namespace = next(a.split("=", 1)[1] for a in args if a.startswith("--namespace="))
    return run_eso(cluster, namespace)


STARTERS: dict[str, tuple[str, Callable[[KubeCluster, dict[str, Any]], Running]]] = {
    "sealed-secrets-controller": (KEYS_NS, start_bitnami),
    "secrets-kit": (KEYS_NS, start_ours_sealed),
    "secrets-kit-external": (KEYS_NS, start_ours_external),
    "external-secrets": ("external-secrets", start_eso),
}


def deployment(namespace: str, name: str, replicas: int, args: list[str] | None = None) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    container: dict[str, Any] = {"name": "controller", "image": IMAGES[name]}
    if args:
        container["args"] = args
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


@dataclass
class Workloads:
    cluster: KubeCluster
    running: dict[str, tuple[str, Running]] = field(default_factory=dict)  # name -> (template, process)

    def install(self, name: str, replicas: int, args: list[str] | None = None) -> None:
        """Create (or scale) the controller's Deployment, then follow it."""
        namespace = STARTERS[name][0]
        self.cluster.ensure_namespace(namespace)
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        try:
            self.cluster.request("POST", path, deployment(namespace, name, replicas, args))
        except KubeAPIError as err:
            if err.status != 409:
                raise
            self.cluster.request("PATCH", f"{path}/{name}", {"spec": {"replicas": replicas}},
                                 content_type="application/merge-patch+json")
        self.follow()

    def process(self, name: str) -> Running | None:
        entry = self.running.get(name)
        return entry[1] if entry else None

    def follow(self) -> None:
        """Make the processes match the Deployments: stops first (two sealed controllers never run
        at once unless the Deployments say so), then starts and restarts."""
        wanted: dict[str, str] = {}
        for name, (namespace, _) in STARTERS.items():
            try:
                dep = self.cluster.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
            except KubeAPIError as err:
                if err.status != 404:
                    raise
                continue
            if int(dep["spec"].get("replicas", 1)) > 0:
                wanted[name] = json.dumps(dep["spec"]["template"], sort_keys=True)
        for name in list(self.running):
            if self.running[name][0] != wanted.get(name):
                self.running.pop(name)[1].stop()
        for name, template in wanted.items():
            if name not in self.running:
                namespace, start = STARTERS[name]
                dep = self.cluster.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
                self.running[name] = (template, start(self.cluster, dep))

    def stop(self) -> None:
        for _, proc in self.running.values():
            with contextlib.suppress(OSError, urllib.error.URLError):
                proc.stop()
        self.running.clear()
