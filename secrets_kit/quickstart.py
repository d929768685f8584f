"""The quickstart: the whole toolkit run once on the bundled examples/ repo.

Each step is a plain function from a `QuickstartContext` to a `StepResult`; features
add their step to `STEPS`. No cluster, no cloud: keys are generated into the
work folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError


@dataclass
class QuickstartContext:
    examples: Path  # the example GitOps repository (read only)
    workdir: Path  # keys and outputs are written here
    facts: dict[str, object] = field(default_factory=dict)  # shared between steps


@dataclass
class StepResult:
    step: str
    outcome: str  # one line: what was produced
    outputs: list[str] = field(default_factory=list)  # paths, relative to workdir when inside it


Step = Callable[[QuickstartContext], StepResult]


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


STEPS: list[Step] = [inventory]


def _sealed_steps() -> list[Step]:
    from .sealed.quickstart_steps import seal_examples, sealing_keys

    return [sealing_keys, seal_examples]


STEPS += _sealed_steps()


def _sops_steps() -> list[Step]:
    from .sops.quickstart_steps import sops_encrypt_examples

    return [sops_encrypt_examples]


STEPS += _sops_steps()


def _render_steps() -> list[Step]:
    # Keep last: builds the example GitOps repo from the keys the steps above made, then renders it.
    from .render.quickstart_steps import STEPS as render_steps

    return render_steps


STEPS += _render_steps()


def run_quickstart(examples: Path, workdir: Path, steps: list[Step] | None = None) -> list[StepResult]:
    if not examples.is_dir():
        raise InputError("example repository not found", where=str(examples),
                         hint="run from the secrets-kit checkout or pass --examples DIR")
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = QuickstartContext(examples=examples.resolve(), workdir=workdir.resolve())
    return [step(ctx) for step in (steps if steps is not None else STEPS)]
