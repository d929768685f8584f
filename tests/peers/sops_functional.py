"""getsops/sops's own functional tests, built once into the peer cache.

They are the Rust crate `functional-tests/` inside the sops Go module (downloaded into Go's
module cache by the `sops` peer's `go install`). cargo builds the crate's test binary with its
dependencies from crates.io; the binary runs `./sops` from its working folder, reads
`.sops.yaml` and `res/` from there, and uses the PGP keys of the module's
`pgp/sops_functional_tests_key.asc` through GnuPG. Nothing of the crate is kept in this
repository: the test copies what it needs from the module cache into a scratch folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from . import versions
from .cache import cache_dir, log


def sops_module_dir() -> Path:
    """The sops module's source in Go's module cache (read-only files)."""
    try:
        root = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        root = ""
    base = Path(root) if root else Path.home() / "go" / "pkg" / "mod"
    return base / "github.com" / "getsops" / "sops" / f"v3@{versions.SOPS}"


def _build_dir() -> Path:
    return cache_dir() / f"sops-functional-tests-{versions.SOPS}"


def cached_test_binary() -> Path | None:
    """The built test binary, if the cache holds one for the pinned sops version."""
    stamp = _build_dir() / ".binary"
    if stamp.is_file():
        binary = Path(stamp.read_text().strip())
        if binary.is_file():
            return binary
    return None


def build_sops_functional_tests() -> Path:
    """`cargo test --no-run` of the crate (a copy in the cache, so the module cache stays read-only)."""
    found = cached_test_binary()
    if found is not None:
        log(f"sops-functional-tests: cached ({versions.SOPS}, {found})")
        return found
    crate = sops_module_dir() / "functional-tests"
    if not crate.is_dir():
        raise RuntimeError(f"no {crate}: build the sops peer first (`python -m tests.peers.install sops`)")
    if shutil.which("cargo") is None:
        raise RuntimeError("cannot build sops's functional tests: no `cargo` on PATH")
    build = _build_dir()
    copy = build / "crate"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(crate, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    log(f"sops-functional-tests: building the Rust crate of sops {versions.SOPS} with cargo "
        "(crates from crates.io; about 1-3 minutes the first time) ...")
    started = time.monotonic()
    env = {**os.environ, "CARGO_TARGET_DIR": str(build / "target")}
    done = subprocess.run(["cargo", "test", "--no-run", "--locked", "--message-format=json"], cwd=copy, env=env,
                          stdout=subprocess.PIPE, text=True, check=True)
    binaries = []
    for line in done.stdout.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        if message.get("reason") == "compiler-artifact" and message.get("profile", {}).get("test") \
                and message.get("executable"):
            binaries.append(message["executable"])
    if len(binaries) != 1:
        raise RuntimeError(f"expected one test binary from cargo, got {binaries}")
    (build / ".binary").write_text(binaries[0])
    log(f"sops-functional-tests: built in {time.monotonic() - started:.0f}s")
    return Path(binaries[0])
