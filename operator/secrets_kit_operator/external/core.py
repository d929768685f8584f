"""The seam to the pure sync engine (`secrets_kit.externalsecrets`): every call the runtime makes into
eso-core / eso-stores / eso-template goes through here, so the runtime reads as one thing and the
engine's exact signatures are adapted in one place.

Also the few ESO facts the runtime itself needs (condition bookkeeping as ESO's
SetExternalSecretCondition, the store references an ExternalSecret names, ESO's fixed messages).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

READY = "Ready"
MSG_GET_DATA = "could not get secret data from provider"
MSG_UPDATE = "could not update secret"
MSG_UPDATE_IMMUTABLE = "could not update secret, target is immutable"
MSG_DELETE = "could not delete secret"
MSG_DELETE_ORPHANED = "could not delete orphaned secrets"
ERR_STORE_NOT_READY = '{kind} "{name}" is not ready'
ERR_GET_STORE = 'could not get {kind} "{name}", {plural}.external-secrets.io "{name}" not found'
ERR_CLUSTER_STORE_MISMATCH = 'using cluster store "{name}" is not allowed from namespace "{namespace}": denied by spec.condition'
ERR_UNMANAGED_STORE = "can not reference unmanaged store"


def stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(status: dict[str, Any], kind: str, value: str, reason: str, message: str,
                  now: dt.datetime) -> dict[str, Any]:
    """ESO's SetExternalSecretCondition / store SetExternalSecretCondition: an identical condition is
    kept as it is; the same status keeps its lastTransitionTime; the condition moves to the end."""
    out = dict(status)
    conditions = [dict(c) for c in out.get("conditions") or []]
    current = next((c for c in conditions if c.get("type") == kind), None)
    if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
            value, reason, message):
        return out
    new = {"type": kind, "status": value, "reason": reason, "message": message,
           "lastTransitionTime": stamp(now)}
    if current is not None and current.get("status") == value and current.get("lastTransitionTime"):
        new["lastTransitionTime"] = current["lastTransitionTime"]
    out["conditions"] = [c for c in conditions if c.get("type") != kind] + [new]
    return out


def ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == READY:
            return dict(condition)
    return None


def is_ready(obj: dict[str, Any]) -> bool:
    condition = ready_condition(obj)
    return condition is not None and condition.get("status") == "True"


def store_refs(es: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (kind, name) store an ExternalSecret reads through: spec.secretStoreRef, data[].sourceRef.storeRef,
    dataFrom[].sourceRef.storeRef (ESO's shouldSkipUnmanagedStore list)."""
    spec = es.get("spec") or {}
    refs: list[tuple[str, str]] = []

    def add(ref: Any) -> None:
        if isinstance(ref, dict) and ref.get("name"):
            pair = (str(ref.get("kind") or "SecretStore"), str(ref["name"]))
            if pair not in refs:
                refs.append(pair)

    add(spec.get("secretStoreRef"))
    for item in list(spec.get("data") or []) + list(spec.get("dataFrom") or []):
        source = (item or {}).get("sourceRef") or {}
        add(source.get("storeRef"))
    return refs


def target_name(es: dict[str, Any]) -> str:
    return str(((es.get("spec") or {}).get("target") or {}).get("name") or es["metadata"]["name"])


def creation_policy(es: dict[str, Any]) -> str:
    return str(((es.get("spec") or {}).get("target") or {}).get("creationPolicy") or "Owner")


def template_from(es: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of each ConfigMap/Secret `spec.target.template.templateFrom[]` names (read in the ES's
    own namespace only)."""
    template = (((es.get("spec") or {}).get("target") or {}).get("template")) or {}
    out: list[tuple[str, str]] = []
    for item in template.get("templateFrom") or []:
        for field, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
            ref = (item or {}).get(field)
            if isinstance(ref, dict) and ref.get("name") and (kind, ref["name"]) not in out:
                out.append((kind, str(ref["name"])))
    return out


def status_of(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def failed_status(es: dict[str, Any], message: str, now: dt.datetime) -> dict[str, Any]:
    """ESO's markAsFailed: Ready=False, SecretSyncedError, the fixed message (the error goes to the event)."""
    return set_condition(status_of(es), READY, "False", "SecretSyncedError", message, now)


def same_status(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return (a or {}) == (b or {})
