"""The sops YAML store, split by role: see `store.py` for how the modules fit together."""

from .store import YamlStore

__all__ = ["YamlStore"]
