"""Format stores: bytes <-> the sops tree, one module per format.

Format choice follows sops: `.yaml`/`.yml` -> yaml, `.json` -> json, `.env` -> dotenv,
`.ini` -> ini, anything else -> binary; an explicit type wins when it is one of these.
"""

from __future__ import annotations

from pathlib import PurePath

from .base import Document, MetadataNotFound, Store

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")

__all__ = ["FORMATS", "Document", "MetadataNotFound", "Store", "format_for_path", "store_for"]


def format_for_path(path: str | PurePath | None) -> str:
    name = str(path) if path else ""
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    for suffix, fmt in ((".json", "json"), (".env", "dotenv"), (".ini", "ini")):
        if name.endswith(suffix):
            return fmt
    return "binary"


def resolve_format(path: str | PurePath | None, explicit: str | None) -> str:
    if explicit and explicit in FORMATS:
        return explicit
    return format_for_path(path)


def store_for(fmt: str, indent: int | None = None) -> Store:
    if fmt == "yaml":
        from .yaml_store import YamlStore

        return YamlStore(indent)
    if fmt == "json":
        from .json_store import JsonStore

        return JsonStore(indent)
    if fmt == "dotenv":
        from .dotenv_store import DotenvStore

        return DotenvStore(indent)
    if fmt == "ini":
        from .ini_store import IniStore

        return IniStore(indent)
    from .json_store import BinaryStore

    return BinaryStore(indent)
