"""The render step: load -> build (kustomize / helm) -> hooks -> emit, for Argo CD and kustomize/Flux.

    from secrets_kit.render import RenderOptions, render
    result = render(RenderOptions(app=Path("deploy/prod")))
    print(result.text(), end="")

See `pipeline` (the stages), `hooks/` (SOPS decryption, placeholders, SealedSecret
validation), `reseal` (zero-plaintext mode), `krm` (the KRM function front end) and
`config` (settings from flags, Argo CD's environment and `.secrets-kit.yaml`).
"""

from .model import Hook, Manifest, RenderContext, ResourceId
from .pipeline import RenderOptions, RenderResult, SealTarget, render

__all__ = ["Hook", "Manifest", "RenderContext", "RenderOptions", "RenderResult", "ResourceId", "SealTarget",
           "render"]
