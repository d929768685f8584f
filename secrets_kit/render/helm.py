"""helm: `helm template` a local chart, with SOPS-encrypted values files decrypted in memory.

All values files (plain and decrypted) are merged here with Helm's own rule for several
`-f` files (nested maps merge, anything else is replaced; later files win) and handed to
helm as one document on stdin (`-f -`), so no decrypted values file is ever written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, RenderError
from ..k8s.manifests import load_documents
from . import sops_bridge
from .paths import relative, resolve_in_root
from .proc import require, run_tool
from .redact import Redactor
from .sopsfiles import format_for_name, has_sops_marker

RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?\Z")


def is_chart(folder: Path) -> bool:
    return (folder / "Chart.yaml").is_file()


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's mergeMaps for `-f a -f b`: maps merge recursively, other values are replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_values(out[key], value)
        else:
            out[key] = value
    return out


def _collect_leaves(value: Any, redactor: Redactor) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _collect_leaves(item, redactor)
    elif isinstance(value, list):
        for item in value:
            _collect_leaves(item, redactor)
    elif isinstance(value, str):
        redactor.add(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        redactor.add(str(value))  # a numeric PIN or port-like secret: helm's errors may quote it too


def read_values(root: Path, chart: Path, refs: list[str], redactor: Redactor) -> tuple[dict[str, Any], int]:
    """The merged values of `refs` (relative to the chart), and how many were SOPS-encrypted."""
    merged: dict[str, Any] = {}
    encrypted = 0
    for ref in refs:
        path = resolve_in_root(root, chart, ref, what="helm values file", where=relative(root, chart))
        label = relative(root, path)
        try:
            data = path.read_bytes()
        except OSError as ex:
            raise RenderError(f"cannot read values file: {ex.strerror}", where=label) from None
        if has_sops_marker(data):
            fmt = format_for_name(path.name, default="yaml")
            data = sops_bridge.decrypt_bytes(data, fmt if fmt in ("yaml", "json") else "yaml", source=label)
            encrypted += 1
            docs = load_documents(data, source=label)
            for doc in docs:
                _collect_leaves(doc, redactor)
        else:
            docs = load_documents(data, source=label)
        if len(docs) > 1:
            raise InputError("a values file must hold one YAML document", where=label)
        merged = merge_values(merged, docs[0] if docs else {})
    return merged, encrypted


def template(root: Path, chart: Path, *, release: str, namespace: str | None, values_files: list[str],
             kube_version: str | None, api_versions: list[str], redactor: Redactor) -> tuple[bytes, int]:
    """`helm template` output and the number of decrypted values files."""
    if not RELEASE_NAME.match(release):
        raise InputError(f"invalid helm release name {release!r}", where=relative(root, chart),
                         hint="lower-case letters, digits and '-', at most 53 characters")
    helm = require("helm", env_var="SECRETS_KIT_HELM", what="render a Helm chart")
    # `--flag=value` everywhere: a value can never be taken for another flag.
    argv = [helm, "template", release, str(chart), "--include-crds"]
    if namespace:
        argv.append(f"--namespace={namespace}")
    if kube_version:
        argv.append(f"--kube-version={kube_version}")
    for api in api_versions:
        argv.append(f"--api-versions={api}")
    stdin = None
    encrypted = 0
    if values_files:
        values, encrypted = read_values(root, chart, values_files, redactor)
        argv.append("--values=-")
        stdin = json.dumps(values).encode("utf-8")
    out = run_tool(argv, cwd=chart, redactor=redactor, what="helm template", where=relative(root, chart),
                   stdin=stdin)
    return out, encrypted
