"""Emit: a deterministic stream of manifests (stable order, sorted keys), or an error.

Order: kind priority (namespaces, CRDs and RBAC before the workloads that need them, the
same families kustomize's legacy order puts first), then kind, group, namespace, name.
Keys are sorted inside every object. The same input always gives byte-identical output.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from ..errors import RenderError
from ..k8s.manifests import dump_yaml
from .model import Manifest, ResourceId, resource_id

FIRST = ("Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
         "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
         "Secret", "SealedSecret", "Endpoints", "Service", "LimitRange", "PriorityClass",
         "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob",
         "PodDisruptionBudget")
LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def sort_key(doc: Manifest) -> tuple[int, ResourceId]:
    rid = resource_id(doc)
    if rid.kind in FIRST:
        rank = FIRST.index(rid.kind)
    elif rid.kind in LAST:
        rank = len(FIRST) + 1 + LAST.index(rid.kind)
    else:
        rank = len(FIRST)
    return rank, rid


def order(docs: list[Manifest]) -> list[Manifest]:
    """Sorted; two objects with the same identity are an error (one would silently win at apply)."""
    ordered = sorted(docs, key=sort_key)
    for before, after in itertools.pairwise(ordered):
        if resource_id(before) == resource_id(after):
            raise RenderError(f"duplicate resource {resource_id(after)} in the rendered output")
    return ordered


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def dump(docs: list[Manifest], fmt: str = "yaml") -> str:
    if fmt == "yaml":
        return "".join(dump_yaml(doc) for doc in docs)
    if fmt == "json":
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": [_sorted(d) for d in docs]},
                          indent=2, ensure_ascii=False) + "\n"
    raise RenderError(f"unknown output format {fmt!r}", hint="use yaml or json")
