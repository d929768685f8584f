"""kustomize: find the SOPS files a kustomization uses (the way Flux walks it), then build it.

The walk follows local `resources`/`bases`/`components` folders, and reads the file
references of `secretGenerator` (`envs`, `env`, `files`), `configMapGenerator` and the
patch fields. Remote targets are left to kustomize. Every path must stay inside the
repository root.

The build runs on the repository as committed: encrypted files stay encrypted on disk,
and the hooks decrypt the built output in memory (see sopsindex.py). A decrypted copy of the tree on tmpfs would also work, but it would put plaintext
in a file that any process of the same user can read while the build runs; decrypting
after the build writes no plaintext anywhere (deploy/README.md, "Decrypting kustomize's
secretGenerator files"). The cost: generator name hashes are computed over the encrypted
content (they still change whenever the file changes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RenderError
from ..k8s.manifests import load_documents
from .paths import is_remote, relative, resolve_in_root
from .proc import require, run_tool
from .redact import Redactor
from .sopsfiles import has_sops_marker

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def find_kustomization(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class SopsRef:
    path: Path
    role: str  # "resource", "env", "file"
    label: str  # path relative to the root, for messages


def _list(kustomization: dict[str, Any], field: str, where: str) -> list[Any]:
    value = kustomization.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RenderError(f"{field} must be a list", where=where)
    return value


def _generator_files(entry: Any, where: str) -> Iterator[tuple[str, str]]:
    """(role, path) of a generator entry's file sources."""
    if not isinstance(entry, dict):
        raise RenderError("a generator entry must be a mapping", where=where)
    for field in ("envs", "env"):
        values = entry.get(field)
        for value in ([values] if isinstance(values, str) else values or []):
            yield "env", str(value)
    for value in entry.get("files") or []:
        text = str(value)
        yield "file", text.split("=", 1)[1] if "=" in text else text


def walk(root: Path, folder: Path) -> list[SopsRef]:
    """Every SOPS-encrypted local file the kustomization in `folder` (and its local bases) uses."""
    found: dict[Path, SopsRef] = {}
    seen: set[Path] = set()

    def visit(directory: Path) -> None:
        if directory in seen:
            return
        seen.add(directory)
        kfile = find_kustomization(directory)
        if kfile is None:
            return
        where = relative(root, kfile)
        docs = load_documents(kfile.read_bytes(), source=where)
        kustomization = docs[0] if docs else {}

        def resolve(ref: str, what: str) -> Path:
            return resolve_in_root(root, directory, ref, what=what, where=where)

        def check(path: Path, role: str) -> None:
            if path.is_file() and has_sops_marker(path.read_bytes()):
                found.setdefault(path, SopsRef(path, role, relative(root, path)))

        for field in ("resources", "bases", "components"):
            for ref in _list(kustomization, field, where):
                if not isinstance(ref, str) or is_remote(ref):
                    continue
                target = resolve(ref, field)
                if target.is_dir():
                    visit(target)
                else:
                    check(target, "resource")
        for entry in _list(kustomization, "secretGenerator", where):
            for role, ref in _generator_files(entry, where):
                check(resolve(ref, f"secretGenerator {role}"), role)
        for entry in _list(kustomization, "configMapGenerator", where):
            for role, ref in _generator_files(entry, where):
                path = resolve(ref, f"configMapGenerator {role}")
                if path.is_file() and has_sops_marker(path.read_bytes()):
                    raise RenderError("a SOPS-encrypted file feeds a configMapGenerator", where=relative(root, path),
                                      hint="decrypted values belong in a Secret: use a secretGenerator")
        for field in ("patches", "patchesStrategicMerge", "patchesJson6902"):
            for entry in _list(kustomization, field, where):
                ref = entry.get("path") if isinstance(entry, dict) else entry
                if not isinstance(ref, str) or "\n" in ref:
                    continue  # an inline patch
                path = resolve(ref, field)
                if path.is_file() and has_sops_marker(path.read_bytes()):
                    raise RenderError("SOPS-encrypted patches are not supported by the render step",
                                      where=relative(root, path),
                                      hint="encrypt the Secret resource itself, or a secretGenerator file")

    visit(folder.resolve())
    return sorted(found.values(), key=lambda ref: ref.label)


def build(folder: Path, *, redactor: Redactor, where: str) -> bytes:
    """`kubectl kustomize DIR` (or a standalone `kustomize build DIR` named by SECRETS_KIT_KUSTOMIZE).

    No plugins, no exec functions, no helm inflation: kustomize's defaults, which refuse
    files outside the kustomization root.
    """
    standalone = os.environ.get("SECRETS_KIT_KUSTOMIZE")
    if standalone:
        argv = [standalone, "build", str(folder)]
    else:
        argv = [require("kubectl", env_var="SECRETS_KIT_KUBECTL", what="build a kustomization"),
                "kustomize", str(folder)]
    return run_tool(argv, cwd=folder, redactor=redactor, what="kustomize build", where=where)
