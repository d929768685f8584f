"""Which data, label and annotation keys of a Secret an ExternalSecret wrote: its field manager's entry in
`metadata.managedFields` (ESO's getManagedFieldKeys). Both the template merge and the no-template path read it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .hashing import field_manager


@dataclass
class ManagedKeys:
    data: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    annotations: set[str] = field(default_factory=set)


def _keys(node: Any) -> set[str]:
    if not isinstance(node, Mapping):
        return set()
    return {k.removeprefix("f:") for k in node if k != "."}


def managed_keys(secret: Mapping[str, Any] | None, es_name: str) -> ManagedKeys:
    """The keys the ExternalSecret `es_name` wrote; entries of other managers, and malformed ones, are skipped
    (objects read from a cluster, or slimmed by the informer, are any Mapping)."""
    keys = ManagedKeys()
    manager = field_manager(es_name)
    meta = (secret or {}).get("metadata")
    for entry in (meta.get("managedFields") if isinstance(meta, Mapping) else None) or []:
        if not isinstance(entry, Mapping) or entry.get("manager") != manager:
            continue
        fields = entry.get("fieldsV1") or {}
        if isinstance(fields, str):  # the API's JSON form, as some clients hand it over
            fields = json.loads(fields)
        if not isinstance(fields, Mapping):
            continue
        keys.data |= _keys(fields.get("f:data"))
        owned_meta = fields.get("f:metadata")
        if isinstance(owned_meta, Mapping):
            keys.labels |= _keys(owned_meta.get("f:labels"))
            keys.annotations |= _keys(owned_meta.get("f:annotations"))
    return keys
