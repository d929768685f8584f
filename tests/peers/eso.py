"""The real External Secrets Operator (ESO) controller as a test peer, run against the kube-apiserver peer.

Build: `go install` refuses github.com/external-secrets/external-secrets (its go.mod has a `replace`
for Masterminds/sprig), so the pinned release is downloaded into the Go module cache
(`go mod download -json`), its folder copied to a writable scratch place and built there with
`go build -trimpath -o <cache>/bin/external-secrets .`. A stamp file (<cache>/bin/.external-secrets.version)
records the release that produced the binary, as `cache.go_install` does, so a changed pin rebuilds.
The cold build is long (≈13 min on 2 cores); a heartbeat is printed while it runs.

CRDs: the release's own `config/crds/bases/*.yaml`, read from the Go module cache at test time and
created on the cluster (never copied into this repository).

Run: the root command only (the core controller: no `webhook`, no `certcontroller` subcommand),
out of cluster with the admin kubeconfig in KUBECONFIG (controller-runtime's `ctrl.GetConfigOrDie`;
the cobra root command does not register a `--kubeconfig` flag), `--namespace NS` so that it
watches one namespace only, and the metrics listener on a loopback port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers import versions
from tests.peers.cache import bin_dir, cache_dir, find_binary, log
from tests.peers.kube import (
    KubeAPIError,
    KubeCluster,
    free_port,
    log_tail,
    scratch_dir,
    start_process,
    stop_child,
    wait_until_ready,
)

MODULE = "github.com/external-secrets/external-secrets"
BINARY = "external-secrets"
INSTALL_HINT = "run `python -m tests.peers.install eso`"
CRD_DIR = "config/crds/bases"
ES_API = "/apis/external-secrets.io/v1"
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
HEARTBEAT_SECONDS = 60.0


# --------------------------------------------------------------------------------------------- build


def _go_env() -> dict[str, str]:
    return {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}


def module_dir(version: str = versions.ESO) -> Path:
    """The pinned release's source tree in the Go module cache (downloaded on first use)."""
    if shutil.which("go") is None:
        raise RuntimeError(f"no `go` on PATH to locate {MODULE}@{version}: {INSTALL_HINT}")
    done = subprocess.run(["go", "mod", "download", "-json", f"{MODULE}@{version}"], check=True,
                          capture_output=True, text=True, env={**_go_env(), "GOFLAGS": "-mod=mod"},
                          cwd=tempfile.gettempdir())
    return Path(json.loads(done.stdout)["Dir"])


def _stamp(version: str) -> str:
    return f"{MODULE}@{version}"


def build_eso(version: str = versions.ESO) -> Path:
    """Build the ESO controller into the cache's bin folder as `external-secrets` (once per pin)."""
    target = bin_dir() / BINARY
    stamp_file = bin_dir() / f".{BINARY}.version"
    if target.exists() and stamp_file.exists() and stamp_file.read_text() == _stamp(version):
        log(f"{BINARY}: cached ({_stamp(version)})")
        return target
    if shutil.which("go") is None:
        raise RuntimeError(f"cannot build {BINARY}: no `go` on PATH")
    source = module_dir(version)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f".{BINARY}-build-", dir=cache_dir()) as scratch:
        work = Path(scratch) / "src"
        shutil.copytree(source, work, symlinks=True)
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=True)
        partial = bin_dir() / f".{BINARY}.partial"
        log(f"{BINARY}: building {_stamp(version)} in {work} (go build; about 15 min cold on 2 busy cores) ...")
        proc = subprocess.Popen(["go", "build", "-trimpath", "-o", str(partial), "."], cwd=work, env=_go_env())
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                log(f"{BINARY}: still building ({time.monotonic() - started:.0f}s so far)")

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        try:
            code = proc.wait()
        finally:
            done.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"go build of {_stamp(version)} failed with exit code {code}")
        partial.replace(target)
    stamp_file.write_text(_stamp(version))
    log(f"{BINARY}: built in {time.monotonic() - started:.0f}s")
    return target


def missing() -> str | None:
    """Why the ESO peer cannot run here, or None."""
    binary = bin_dir() / BINARY
    stamp_file = bin_dir() / f".{BINARY}.version"
    if not binary.exists():
        return f"ESO controller {versions.ESO} not built: {INSTALL_HINT}"
    if not stamp_file.exists() or stamp_file.read_text() != _stamp(versions.ESO):
        return f"ESO controller in the cache is not {versions.ESO}: {INSTALL_HINT}"
    return None


# ---------------------------------------------------------------------------------------------- CRDs


def upstream_crds(version: str = versions.ESO) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition the pinned release ships (external-secrets.io and generators)."""
    from secrets_kit.k8s.manifests import load_documents

    folder = module_dir(version) / CRD_DIR
    crds: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in load_documents(path.read_bytes(), source=str(path)):
            if doc.get("kind") == "CustomResourceDefinition":
                crds.append(dict(doc))
    if not crds:
        raise RuntimeError(f"no CRDs found under {folder}")
    return crds


def register_crds(cluster: KubeCluster, timeout: float = 60.0) -> list[str]:
    """Create the release's CRDs (those absent) and wait until all are Established and served.

    Our own external-secrets.io CRDs (operator/deploy/crds/external-secrets) define the same
    names: on one cluster there is one definition, and the differential tests use ESO's."""
    names = []
    for crd in upstream_crds():
        names.append(crd["metadata"]["name"])
        try:
            cluster.request("POST", CRD_API, crd)
        except KubeAPIError as err:
            if err.status != 409:
                raise
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in sorted(pending):
            current = cluster.request("GET", f"{CRD_API}/{name}")
            conditions = (current.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                pending.discard(name)
        if pending:
            time.sleep(0.2)
    if pending:
        raise RuntimeError(f"ESO CRDs not established after {timeout:.0f}s: {', '.join(sorted(pending))}")
    # discovery can lag the condition a little
    while time.monotonic() < deadline:
        with contextlib.suppress(KubeAPIError):
            cluster.request("GET", f"{ES_API}/externalsecrets")
            cluster.request("GET", f"{ES_API}/secretstores")
            return names
        time.sleep(0.2)
    raise RuntimeError("ESO CRDs established but external-secrets.io/v1 not served")


# --------------------------------------------------------------------------------------------- model


@dataclass
class EsoController:
    """A running ESO core controller that watches one namespace."""

    cluster: KubeCluster
    namespace: str
    metrics_port: int
    log_file: Path
    workdir: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # added to its environment (e.g. AWS_*_ENDPOINT)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # -- reading ------------------------------------------------------------------------------------

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    def ready(self) -> bool:
        """The metrics listener answers and the ExternalSecret controller has started its workers."""
        self.metrics_text()
        return any('"Starting workers"' in line and '"externalsecret"' in line
                   for line in self.log_text().splitlines())

    def external_secret(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.cluster.request("GET", f"{ES_API}/namespaces/{namespace or self.namespace}/externalsecrets/{name}")

    def wait_for_ready_condition(self, name: str, namespace: str | None = None,
                                 timeout: float = 30.0) -> dict[str, Any]:
        """The ExternalSecret once its Ready condition is written for its current generation."""
        deadline = time.monotonic() + timeout
        while True:
            es = self.external_secret(name, namespace)
            if settled(es):
                return es
            if time.monotonic() > deadline:
                raise RuntimeError(f"ExternalSecret {namespace or self.namespace}/{name}: not settled after "
                                   f"{timeout:.0f}s (status {es.get('status')}); log:\n{log_tail(self.log_file)}")
            time.sleep(0.1)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.proc = start_process(list(self.args), self.log_file, env={**_env(self.cluster), **self.env})
        try:
            wait_until_ready(self.ready_since_start(), "ESO controller", self.proc, self.log_file, timeout=timeout)
        except BaseException:
            self.stop_process()
            raise

    def ready_since_start(self) -> Any:
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0

        def check() -> bool:
            self.metrics_text()
            with self.log_file.open("rb") as fh:
                fh.seek(offset)
                text = fh.read().decode(errors="replace")
            return any('"Starting workers"' in line and '"externalsecret"' in line for line in text.splitlines())

        return check

    def stop_process(self) -> int | None:
        """SIGTERM and wait (scratch folder and log stay); the exit code."""
        if self.proc is None:
            return None
        stop_child(self.proc)
        code = self.proc.returncode
        self.proc = None
        return code

    def restart(self, timeout: float = 60.0) -> None:
        self.stop_process()
        self.start(timeout)

    def stop(self) -> None:
        self.stop_process()
        shutil.rmtree(self.workdir, ignore_errors=True)


def settled(es: dict[str, Any]) -> bool:
    """ESO has written a Ready condition after seeing the ExternalSecret's current generation: a
    success sets refreshTime and syncedResourceVersion `<generation>-<hash>`; a failure leaves them
    as they were, so a Ready=False condition alone counts."""
    status = es.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    if not ready:
        return False
    generation = es["metadata"].get("generation")
    if ready[0].get("status") == "True":
        synced = str(status.get("syncedResourceVersion") or "")
        return bool(status.get("refreshTime")) and synced.split("-", 1)[0] == str(generation)
    return True


def _env(cluster: KubeCluster) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "KUBECONFIG": str(cluster.kubeconfig)}


def eso_command(binary: Path, namespace: str, metrics_port: int, extra_args: tuple[str, ...] = ()) -> list[str]:
    """The ESO core controller's command line: one namespace, loopback metrics, quick test-friendly
    logging; `extra_args` last, so they override (e.g. `--concurrent=4`)."""
    return [str(binary), f"--namespace={namespace}", f"--metrics-addr=127.0.0.1:{metrics_port}",
            "--loglevel=info", "--zap-time-encoding=iso8601",
            "--enable-cluster-external-secret-reconciler=false",
            "--enable-push-secret-reconciler=false", "--enable-cluster-push-secret-reconciler=false",
            *extra_args]


def start_eso(cluster: KubeCluster, namespace: str, *, extra_args: tuple[str, ...] = (),
              timeout: float = 60.0, crds: bool = True, env: dict[str, str] | None = None) -> EsoController:
    """Start ESO watching `namespace` only (created if absent); return once its ExternalSecret
    controller runs. `env` is added to its environment: its AWS provider honours
    AWS_SECRETSMANAGER_ENDPOINT, AWS_SSM_ENDPOINT and AWS_STS_ENDPOINT (pkg/provider/aws/auth/resolver.go).
    The caller calls .stop()."""
    reason = missing()
    binary = find_binary(BINARY)
    if reason or binary is None:
        raise RuntimeError(reason or INSTALL_HINT)
    if crds:
        register_crds(cluster)
    cluster.ensure_namespace(namespace)
    workdir = scratch_dir("secrets-kit-eso-")
    workdir.chmod(0o700)
    port = free_port()
    eso = EsoController(cluster=cluster, namespace=namespace, metrics_port=port,
                        log_file=workdir / "eso.log", workdir=workdir,
                        args=tuple(eso_command(binary, namespace, port, extra_args)), env=dict(env or {}))
    started = time.monotonic()
    try:
        eso.start(timeout)
    except BaseException:
        eso.stop()
        raise
    log(f"ESO {versions.ESO} ready in {time.monotonic() - started:.1f}s, watching {namespace}")
    return eso
