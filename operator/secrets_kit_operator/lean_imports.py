"""Load only the parts of kubernetes_asyncio the operator uses (ApiClient, Configuration, the
kubeconfig and in-cluster loaders), not its ~700 generated model and API modules, and keep kopf
from loading the synchronous `kubernetes` client for its optional type hints.

The operator sends and receives raw JSON and never deserialises a model, so those modules would be
~60 MiB of resident memory doing nothing (bench/RESULTS.md, "where the memory goes"). Call
`install()` before kopf or kubernetes_asyncio is imported; it does nothing if either already is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path


def _package(name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def install() -> bool:
    """True when the lean packages are in place (False: already imported the ordinary way)."""
    if "kubernetes_asyncio" in sys.modules or "kopf" in sys.modules:
        return False
    spec = importlib.util.find_spec("kubernetes_asyncio")
    if spec is None or spec.origin is None:
        return False
    root = Path(spec.origin).parent
    _package("kubernetes_asyncio", root)
    client = _package("kubernetes_asyncio.client", root / "client")
    _package("kubernetes_asyncio.client.models", root / "client" / "models")  # never used: raw JSON
    config = _package("kubernetes_asyncio.config", root / "config")
    for module, name, target in (("client.configuration", "Configuration", client),
                                 ("client.api_client", "ApiClient", client),
                                 ("config.kube_config", "load_kube_config", config),
                                 ("config.incluster_config", "load_incluster_config", config)):
        setattr(target, name, getattr(importlib.import_module(f"kubernetes_asyncio.{module}"), name))
    if "kubernetes" not in sys.modules:
        sys.modules["kubernetes"] = None  # type: ignore[assignment]  # kopf then skips its sync-client types
    return True
