"""Render hooks: each one is a function `(manifests, context) -> manifests`.

- `sops.decrypt`: SOPS-encrypted resources and secretGenerator files (Flux's detection);
- `placeholders.resolver_hook(...)`: argocd-vault-plugin placeholders through a provider;
- `sealed.validator(...)`: SealedSecret checks (well-formed, scope, destination cert).
"""
