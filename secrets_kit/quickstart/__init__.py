"""The quickstart: the whole toolkit run once on the bundled examples/ repository.

A package above the features it composes: one steps module per feature (`sealed_steps`,
`sops_steps`, `render_steps`), the local keys they share (`keys`), and the run (`run`).
No feature module imports it.
"""

from .model import QuickstartContext, Step, StepResult
from .run import STEPS, next_steps, run_quickstart

__all__ = ["STEPS", "QuickstartContext", "Step", "StepResult", "next_steps", "run_quickstart"]
