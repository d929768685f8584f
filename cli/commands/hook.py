"""`secrets-kit hook`: Git hooks that keep plaintext secrets out of commits."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path, PurePosixPath

import click

# The installed hook runs the interpreter that installed it, so it works when the venv is not
# on PATH (GUI Git clients, other shells); if that interpreter is gone it says what to do.
HOOK_SCRIPT = """#!/bin/sh
# Installed by `secrets-kit hook install`: refuse plaintext Secrets before commit.
python={python}
if [ -x "$python" ]; then
  exec "$python" -m secrets_kit_cli hook pre-commit "$@"
fi
if command -v secrets-kit >/dev/null 2>&1; then
  exec secrets-kit hook pre-commit "$@"
fi
echo "secrets-kit pre-commit hook: $python no longer exists and secrets-kit is not on PATH." >&2
echo "Install secrets-kit again, then run 'secrets-kit hook install --force' in this repository." >&2
exit 1
"""


@click.group()
def hook() -> None:
    """Git hooks: refuse plaintext Secrets before commit."""


@hook.command("pre-commit")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def pre_commit(files: tuple[Path, ...]) -> None:
    """Refuse plaintext Secrets and files .sops.yaml says must be encrypted.

    With FILES (how the pre-commit framework calls it), those files are checked as they
    are on disk, inside a Git repository or not. Without, the staged files are checked as
    staged (a plain Git hook). Exits 1 and lists each finding with the commands that fix
    it, built from the repository's own settings (.sops.yaml rules, cluster registry, keys).
    """
    from secrets_kit.guard import checks, fixes
    from secrets_kit.guard.scan import scan

    result = scan(files, Path.cwd())
    if not result.findings:
        return
    place = result.place
    by_file: dict[str, list[checks.Finding]] = {}
    for finding in result.findings:
        by_file.setdefault(finding.path, []).append(finding)
    click.echo(f"secrets-kit: refusing to commit plaintext secrets in {len(by_file)} file(s):", err=True)
    for path, found in by_file.items():  # one entry per file; a fix two findings share is printed once
        whats = "; ".join(dict.fromkeys(f.what for f in found))
        click.echo(f"  {place.shown(place.root / PurePosixPath(path))}: {whats}", err=True)
        lines = [str(line) for f in found for line in fixes.lines_for(f, place)]
        for line in dict.fromkeys(lines):
            click.echo(f"    {line}", err=True)
    click.echo("  (a Secret meant to stay in plaintext, e.g. a test fixture, can be annotated "
               f"{checks.ALLOW_ANNOTATION}: \"true\")", err=True)
    sys.exit(1)


@hook.command("install")
@click.option("--force", is_flag=True, help="Replace an existing pre-commit hook.")
def install(force: bool) -> None:
    """Install the check as this repository's .git/hooks/pre-commit.

    The hook runs this Python interpreter, so it works even when the virtualenv is not on
    PATH when Git runs it.
    """
    from secrets_kit.errors import InputError
    from secrets_kit.files import write_atomic
    from secrets_kit.guard import git

    root = git.repo_root(Path.cwd())
    target = git.hooks_dir(root) / "pre-commit"
    if target.exists() and not force:
        raise InputError("a pre-commit hook already exists", where=str(target),
                         hint="use --force to replace it, or add `secrets-kit hook pre-commit` to it")
    write_atomic(target, HOOK_SCRIPT.format(python=shlex.quote(sys.executable)), mode=0o755)
    click.echo(f"installed {target} (runs {sys.executable})")
