"""The Git side of the pre-commit guard: the repository, its hooks folder, staged and tracked files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..errors import InputError
from .checks import Reader


def _git(args: list[str], cwd: Path) -> bytes:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise InputError(f"git {args[0]} failed: {done.stderr.decode('utf-8', 'replace').strip()}", where=str(cwd))
    return done.stdout


def repo_root(cwd: Path) -> Path:
    return Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip())


def hooks_dir(root: Path) -> Path:
    """The repository's Git hooks folder (core.hooksPath or .git/hooks), absolute."""
    path = Path(_git(["rev-parse", "--git-path", "hooks"], root).decode().strip())
    return path if path.is_absolute() else root / path


def staged_paths(root: Path) -> list[str]:
    out = _git(["diff", "--cached", "--name-only", "--diff-filter=ACMR", "-z"], root)
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def indexed_paths(root: Path) -> list[str]:
    """Every path in the index: tracked or staged."""
    out = _git(["ls-files", "-z", "--cached"], root)
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def tracked_sops_configs(root: Path) -> list[str]:
    out = _git(["ls-files", "-z", "--cached", "--", ".sops.yaml", "*/.sops.yaml"], root)
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def index_reader(root: Path) -> Reader:
    """Content as staged (what the commit will hold), else None."""
    def read(path: str) -> bytes | None:
        done = subprocess.run(["git", "show", f":{path}"], cwd=root, capture_output=True, check=False)
        return done.stdout if done.returncode == 0 else None

    return read


def worktree_reader(root: Path) -> Reader:
    def read(path: str) -> bytes | None:
        target = root / path
        try:
            return target.read_bytes() if target.is_file() else None
        except OSError:
            return None

    return read
