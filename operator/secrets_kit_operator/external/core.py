"""The few ESO facts the runtime itself needs: the store references an ExternalSecret names, its target,
and the fixed messages of the checks the runtime makes before the engine runs. Conditions and times are
the core's (`secrets_kit.externalsecrets.status`), so stores and ExternalSecrets share one rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from secrets_kit.externalsecrets import status

READY = status.READY
MSG_GET_DATA = status.MSG_ERROR_GET_SECRET_DATA
ERR_STORE_NOT_READY = '{kind} "{name}" is not ready'
ERR_GET_STORE = 'could not get {kind} "{name}", {plural}.external-secrets.io "{name}" not found'
ERR_CLUSTER_STORE_MISMATCH = 'using cluster store "{name}" is not allowed from namespace "{namespace}": denied by spec.condition'
ERR_UNMANAGED_STORE = "can not reference unmanaged store"


def stamp(now: dt.datetime) -> str:
    return status.format_time(now)


def set_condition(current: dict[str, Any], kind: str, value: str, reason: str, message: str,
                  now: dt.datetime) -> dict[str, Any]:
    """ESO's SetExternalSecretCondition on a copy of `current` (the core's rule)."""
    out = dict(current)
    out["conditions"] = [dict(c) for c in out.get("conditions") or []]
    status.set_condition(out, kind, value, reason, message, now)
    return out


def ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    return status.get_condition(obj.get("status") or {}, READY)


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
