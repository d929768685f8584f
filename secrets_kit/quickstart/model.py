"""What every quickstart step takes and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class QuickstartContext:
    examples: Path  # the example GitOps repository (read only)
    workdir: Path  # keys and outputs are written here
    facts: dict[str, object] = field(default_factory=dict)  # shared between steps

    def rel(self, path: object) -> str:
        """`path` relative to the work folder when inside it (for messages and outputs)."""
        try:
            return str(Path(str(path)).relative_to(self.workdir))
        except ValueError:
            return str(path)


@dataclass
class StepResult:
    step: str
    outcome: str  # one line: what was produced
    outputs: list[str] = field(default_factory=list)  # paths, relative to workdir when inside it


Step = Callable[[QuickstartContext], StepResult]
