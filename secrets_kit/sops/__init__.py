"""SOPS-format file encryption, compatible with getsops/sops.

formats (stores) -> tree -> cipher -> key sources; every format goes through the same tree.

The entry points for other parts of secrets-kit (the CLI, render hooks) are:

    from secrets_kit.sops import decrypt_bytes, encrypt_bytes, EncryptOptions, store_for, format_for_path
    plain = decrypt_bytes(data, store_for("yaml"))

Names are imported on first use so `import secrets_kit.sops` stays cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "EncryptOptions": "ops", "SopsFile": "ops", "decrypt_bytes": "ops", "encrypt_bytes": "ops",
    "set_bytes": "ops", "unset_bytes": "ops", "rotate_bytes": "ops", "update_keys_bytes": "ops",
    "file_status": "ops", "store_for": "stores", "format_for_path": "stores", "looks_encrypted": "detect",
    "detect_format": "detect",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
