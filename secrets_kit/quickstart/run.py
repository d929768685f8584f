"""The quickstart's order of steps, and the run itself.

Each step is a plain function from a `QuickstartContext` to a `StepResult`, kept in the
steps module of the feature it shows; this package sits above the features and composes
them. No cluster, no cloud: keys are generated into the work folder.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .model import QuickstartContext, Step, StepResult
from .render_steps import STEPS as RENDER_STEPS
from .sealed_steps import seal_examples, sealing_keys
from .sops_steps import sops_encrypt_examples


def inventory(ctx: QuickstartContext) -> StepResult:
    """Count what the example repository holds, by kind."""
    kinds: dict[str, int] = {}
    for path in sorted(ctx.examples.rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".json", ".env", ".ini"):
            kinds[path.suffix] = kinds.get(path.suffix, 0) + 1
    total = sum(kinds.values())
    ctx.facts["example_files"] = total
    summary = ", ".join(f"{n} {ext}" for ext, n in sorted(kinds.items())) or "no manifest files"
    return StepResult("inventory", f"{total} files in {ctx.examples} ({summary})")


# The render steps stay last: they build the example GitOps repository from the keys made above.
STEPS: list[Step] = [inventory, sealing_keys, seal_examples, sops_encrypt_examples, *RENDER_STEPS]


def run_quickstart(examples: Path, workdir: Path, steps: list[Step] | None = None) -> list[StepResult]:
    if not examples.is_dir():
        raise InputError("example repository not found", where=str(examples),
                         hint="run from the secrets-kit checkout or pass --examples DIR")
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = QuickstartContext(examples=examples.resolve(), workdir=workdir.resolve())
    return [step(ctx) for step in (steps if steps is not None else STEPS)]


def next_steps(workdir: Path) -> str:
    """The closing line: where the output is and what to try next (paths as the user gave them)."""
    w = workdir.as_posix().rstrip("/")
    return (f"Output in {w}/ (keys/, sealed/, sops/, gitops/, rendered/). Next: the README's \"Using it\", "
            f"starting with: secrets-kit unseal --keys-dir {w}/keys {w}/sealed/demo-secret.yaml")
