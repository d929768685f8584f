"""Optional dependencies: import a cloud library, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingExtraError

# extra -> what it enables, for the message
FEATURES = {
    "aws": "AWS (KMS, Secrets Manager, Parameter Store)",
    "gcp": "Google Cloud (KMS, Secret Manager)",
    "vault": "HashiCorp Vault / OpenBao",
    "operator": "the in-cluster operator",
}


def require(module: str, extra: str) -> ModuleType:
    """`import module`, or MissingExtraError naming `pip install 'secrets-kit[extra]'`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # The library or one of its own dependencies is absent: installing the extra adds both.
        # (Other ImportErrors, e.g. a broken build, show as they are.)
        raise MissingExtraError(FEATURES.get(extra, extra), extra, exc.name or module) from None
