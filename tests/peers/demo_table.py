"""The local cluster demo's table: objects and Secrets (as the API server returns them) -> rows.

Pure: no I/O, no values. A row names the object (kind, namespace, name), its state (the Synced
condition of a SealedSecret, the Ready condition of an ExternalSecret or store: status and reason)
and the Secret it produced: the target Secret, counted only when the object owns it (its
ownerReference carries the object's uid), with its key names. A value never reaches a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

# The condition each kind reports its state in (Bitnami's controller: Synced; ESO: Ready).
CONDITION = {"ClusterSecretStore": "Ready", "SecretStore": "Ready", "SealedSecret": "Synced",
             "ExternalSecret": "Ready"}
ORDER = {kind: i for i, kind in enumerate(CONDITION)}
MAKES_SECRET = ("SealedSecret", "ExternalSecret")


@dataclass(frozen=True)
class Row:
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    condition: str  # Synced | Ready
    status: str  # True | False | Unknown (no condition yet)
    reason: str
    secret: str  # the Secret it produced ("" when none)
    keys: tuple[str, ...]  # that Secret's key names, sorted

    @property
    def ready(self) -> bool:
        return self.status == "True"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "keys": list(self.keys), "ready": self.ready}


def target_name(obj: Mapping[str, Any]) -> str:
    """The Secret an object writes: a SealedSecret's own name; an ExternalSecret's target.name, else its name."""
    name = str(obj["metadata"]["name"])
    if obj.get("kind") == "ExternalSecret":
        return str(((obj.get("spec") or {}).get("target") or {}).get("name") or name)
    return name


def _condition(obj: Mapping[str, Any], wanted: str) -> Mapping[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == wanted:
            return dict(condition)
    return {}


def _owned_by(secret: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
    uid = obj["metadata"].get("uid")
    return bool(uid) and any(ref.get("uid") == uid for ref in secret["metadata"].get("ownerReferences") or [])


def rows(objects: Iterable[Mapping[str, Any]], secrets: Iterable[Mapping[str, Any]]) -> list[Row]:
    """One row per object, stores first, then SealedSecrets, then ExternalSecrets (by namespace, name)."""
    by_name = {(s["metadata"].get("namespace", ""), s["metadata"]["name"]): s for s in secrets}
    out: list[Row] = []
    for obj in objects:
        kind, meta = str(obj["kind"]), obj["metadata"]
        namespace = str(meta.get("namespace") or "")
        wanted = CONDITION.get(kind, "Ready")
        condition = _condition(obj, wanted)
        secret_name, keys = "", ()
        if kind in MAKES_SECRET:
            secret = by_name.get((namespace, target_name(obj)))
            if secret is not None and _owned_by(secret, obj):
                secret_name = str(secret["metadata"]["name"])
                keys = tuple(sorted((secret.get("data") or {}).keys()))
        out.append(Row(kind=kind, namespace=namespace, name=str(meta["name"]), condition=wanted,
                       status=str(condition.get("status") or "Unknown"), reason=str(condition.get("reason") or ""),
                       secret=secret_name, keys=keys))
    return sorted(out, key=lambda r: (ORDER.get(r.kind, len(ORDER)), r.namespace, r.name))


def table(rows_: Iterable[Row]) -> str:
    """Aligned text columns, one line per row."""
    header = ("KIND", "NAMESPACE", "NAME", "STATE", "REASON", "SECRET", "KEYS")
    lines = [header] + [
        (r.kind, r.namespace or "-", r.name, f"{r.condition}={r.status}", r.reason or "-", r.secret or "-",
         ",".join(r.keys) or "-")
        for r in rows_
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines) + "\n"
