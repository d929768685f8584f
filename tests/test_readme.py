"""The README's "Using it" section runs as written, so it cannot go stale.

Convention: every ```` ```sh ```` block between "## Using it" and the next "## " heading is
run, in order, with bash from the root of a scratch copy of the repository, after the
quickstart (the README's first command without its `pip install`, which the test venv has
done already). Each block runs in a fresh shell (errexit, nounset, pipefail; aliases
expanded as in an interactive shell), so a block may not depend on another block's
`export`, `alias` or `cd`: pasted in order into one terminal, they work too.
The ```` ```sh ```` blocks of `examples/README.md` run after them, the same way.
Blocks that need something a scratch copy cannot have, such as a live cluster, get another
info string on their fence, e.g. ```` ```sh cluster ````: the runner skips them (the
operator's section uses it). Any other fence (```` ```yaml ````, ```` ``` ````) is text.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUN_FENCE = "```sh"


def using_it_blocks(readme: str) -> list[str]:
    """The runnable blocks of the "Using it" section, in order."""
    return sh_blocks(readme.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0])


def sh_blocks(section: str) -> list[str]:
    """The ```sh blocks of a text, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    fenced = False
    for line in section.splitlines():
        if not fenced and line.startswith("```"):
            fenced = True
            current = [] if line.rstrip() == RUN_FENCE else None
        elif fenced and line.rstrip() == "```":
            fenced = False
            if current is not None:
                blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    assert not fenced, "unclosed code fence"
    return blocks


def test_the_extractor_runs_sh_blocks_and_skips_cluster_ones() -> None:
    text = ("# t\n## Using it\n```sh\necho one\n```\n```sh cluster\nkubectl get pods\n```\n"
            "```yaml\na: b\n```\n```sh\necho two\n```\n## Tests\n```sh\necho later\n```\n")
    assert using_it_blocks(text) == ["echo one\n", "echo two\n"]


def _scratch_copy(target: Path) -> None:
    """The repository as a clone has it: tracked and new (not ignored) files, a Git repository."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())
            (target / name).chmod(source.stat().st_mode & 0o777)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)


def _env(home: Path) -> dict[str, str]:
    """A new user's shell: the venv's secrets-kit on PATH, an empty home, no secrets-kit or sops settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOPS_", "SECRETS_KIT_", "ARGOCD_", "PARAM_", "KUBECONFIG", "VAULT_", "XDG_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    return env


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file outside quickstart-out/ and .git/, with its content."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] not in ("quickstart-out", ".git")}


@pytest.mark.slow
def test_every_using_it_block_runs_in_order(tmp_path: Path) -> None:
    blocks = using_it_blocks((REPO / "README.md").read_text())
    assert len(blocks) >= 5, "the README's Using it section lost its command blocks"
    blocks += sh_blocks((REPO / "examples" / "README.md").read_text())  # also run from the repository root
    work = tmp_path / "repo"
    work.mkdir()
    _scratch_copy(work)
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home)
    quickstart = subprocess.run(["secrets-kit", "quickstart"], cwd=work, env=env, capture_output=True, text=True,
                                timeout=300, check=False)
    assert quickstart.returncode == 0, quickstart.stderr
    assert quickstart.stdout.rstrip().splitlines()[-1].startswith("Output in quickstart-out/")
    before = _snapshot(work)
    outputs = []
    for number, block in enumerate(blocks, 1):
        script = tmp_path / f"block{number}.sh"
        script.write_text(block)
        done = subprocess.run(["bash", "-e", "-u", "-o", "pipefail", "-O", "expand_aliases", str(script)], cwd=work,
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"README block {number} failed (exit {done.returncode}):\n{block}\n{done.stderr}"
        for bad in ("Traceback", "internal error", "command not found"):
            assert bad not in done.stdout + done.stderr, f"block {number}:\n{done.stderr}"
        outputs.append(done.stdout + done.stderr)
    # The blocks did what their comments say, not just exit 0.
    every = "".join(outputs)
    assert "refused (exit 1)" in every and "accepted" in every  # the hook walk-through
    prod = (work / "quickstart-out" / "prod.yaml").read_text()
    assert "kind: SealedSecret" in prod and "kind: Secret\n" not in prod
    assert (work / "quickstart-out" / "app" / "demo-secret.sealed.yaml").is_file()
    assert "fake-prod-db-password-0000" not in prod  # the input value never reaches rendered output
    for key in (work / "quickstart-out" / "keys").iterdir():  # private keys stay private, certificates may not
        assert key.suffix == ".crt" or key.stat().st_mode & 0o077 == 0, key
    assert not (home / ".config").exists(), "a README block wrote into the user's home"
    assert _snapshot(work) == before, "a README block changed a file outside quickstart-out/"
