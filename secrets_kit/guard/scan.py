"""One pre-commit check from start to end: what to read, the findings, and where the fixes will be pasted.

Two modes, as the hook is called:
- named files (the pre-commit framework, or by hand): checked as they are on disk, inside a
  Git repository or not; a missing file is an error;
- no files (a plain Git hook): the staged files, as staged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from . import git
from .checks import Finding, check_files
from .fixes import Place


@dataclass(frozen=True)
class Scan:
    findings: list[Finding]
    place: Place  # where the hook ran: the fixes are built for it


def _root(cwd: Path, named: bool) -> tuple[Path, bool]:
    """(repository root, inside Git); outside Git the current folder stands in, for named files only."""
    try:
        return git.repo_root(cwd), True
    except InputError:
        if not named:
            raise InputError("not inside a Git repository", where=str(cwd),
                             hint="run it in a repository, or pass the files to check") from None
        return cwd, False


def _named(files: Sequence[Path], root: Path, cwd: Path) -> tuple[list[str], list[str]]:
    """(paths to check, .sops.yaml files on their way up to the root), relative to `root` where inside it."""
    paths: list[str] = []
    configs: set[str] = set()
    top = root.resolve()
    for file in files:
        absolute = (cwd / file).resolve()
        if not absolute.is_file():
            raise InputError("no such file", where=str(file),
                             hint="pass files that exist (the hook checks them as they are on disk)")
        inside = absolute == top or top in absolute.parents
        paths.append(absolute.relative_to(top).as_posix() if inside else absolute.as_posix())
        folder = absolute.parent
        while inside:  # a .sops.yaml on the way up also says what must be encrypted
            if (folder / ".sops.yaml").is_file():
                configs.add((folder / ".sops.yaml").relative_to(top).as_posix())
            if folder == top:
                break
            folder = folder.parent
    return paths, sorted(configs)


def scan(files: Sequence[Path], cwd: Path) -> Scan:
    """Check `files` as on disk, or (none given) the staged files of the repository around `cwd`."""
    root, in_git = _root(cwd, bool(files))
    if files:
        paths, configs = _named(files, root, cwd)
        reader = git.worktree_reader(root)
        if in_git:
            configs = sorted({*configs, *git.tracked_sops_configs(root)})
    else:
        paths, configs = git.staged_paths(root), git.tracked_sops_configs(root)
        reader = git.index_reader(root)
    findings = check_files(paths, reader, configs)
    indexed = frozenset(git.indexed_paths(root)) if in_git and findings else frozenset()
    return Scan(findings, Place(root=root, cwd=cwd, indexed=indexed))
