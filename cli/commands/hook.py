"""`secrets-kit hook`: Git hooks that keep plaintext secrets out of commits."""

from __future__ import annotations

import sys
from pathlib import Path

import click

HOOK_SCRIPT = """#!/bin/sh
# Installed by `secrets-kit hook install`: refuse plaintext Secrets before commit.
exec secrets-kit hook pre-commit
"""


@click.group()
def hook() -> None:
    """Git hooks: refuse plaintext Secrets before commit."""


@hook.command("pre-commit")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def pre_commit(files: tuple[Path, ...]) -> None:
    """Refuse plaintext Secrets and files .sops.yaml says must be encrypted.

    With FILES (how the pre-commit framework calls it), those files are checked as they
    are on disk. Without, the staged files are checked as staged (a plain Git hook).
    Exits 1 and lists each finding with the command that fixes it.
    """
    from secrets_kit.guard import checks, git

    root = git.repo_root(Path.cwd())
    if files:
        reader = git.worktree_reader(root)
        paths = []
        for file in files:
            absolute = (Path.cwd() / file).resolve()
            try:
                paths.append(absolute.relative_to(root.resolve()).as_posix())
            except ValueError:
                continue  # outside the repository: not ours to judge
        configs = git.tracked_sops_configs(root)
        if (root / ".sops.yaml").is_file() and ".sops.yaml" not in configs:
            configs.append(".sops.yaml")
    else:
        reader = git.index_reader(root)
        paths = git.staged_paths(root)
        configs = git.tracked_sops_configs(root)
    findings = checks.check_files(paths, reader, configs)
    if not findings:
        return
    click.echo(f"secrets-kit: refusing to commit {len(findings)} plaintext secret(s):", err=True)
    for finding in findings:
        click.echo(f"  {finding}", err=True)
    click.echo("  (a Secret meant to stay in plaintext, e.g. a test fixture, can be annotated "
               f"{checks.ALLOW_ANNOTATION}: \"true\")", err=True)
    sys.exit(1)


@hook.command("install")
@click.option("--force", is_flag=True, help="Replace an existing pre-commit hook.")
def install(force: bool) -> None:
    """Install the check as this repository's .git/hooks/pre-commit."""
    from secrets_kit.errors import InputError
    from secrets_kit.files import write_atomic
    from secrets_kit.guard import git

    root = git.repo_root(Path.cwd())
    target = git.hooks_dir(root) / "pre-commit"
    if target.exists() and not force:
        raise InputError("a pre-commit hook already exists", where=str(target),
                         hint="use --force to replace it, or add `secrets-kit hook pre-commit` to it")
    write_atomic(target, HOOK_SCRIPT, mode=0o755)
    click.echo(f"installed {target}")
