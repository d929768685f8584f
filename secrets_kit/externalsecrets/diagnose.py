"""Why an ExternalSecret is or is not synced, from what the cluster holds (pure; `operator describe`).

ESO's status says only "could not get secret data from provider": the cause is in the Warning event, the
store's Ready condition or the target Secret's metadata. This module puts them side by side and names
the first cause a person can act on. Inputs: the ExternalSecret, its stores (None: not found), the
target Secret (None: absent; its data is read only to compare ESO's data-hash), its events, and now.
The report holds names, conditions, event texts (which never hold values) and the Secret's key names,
never a value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..k8s.report import condition_view, owner_view, warnings
from .hashing import created_by, object_hash
from .reconcile import (
    ANNOTATION_DATA_HASH,
    LABEL_MANAGED,
    LABEL_MANAGED_VALUE,
    LABEL_OWNER,
    decode_data,
    next_refresh,
    should_refresh,
)
from .spec import format_go_duration, parse_external_secret
from .status import (
    MSG_ERROR_BECOME_OWNER,
    MSG_ERROR_GET_SECRET_DATA,
    MSG_ERROR_IS_OWNED,
    MSG_ERROR_UPDATE_IMMUTABLE,
    MSG_ERROR_UPDATE_SECRET,
    format_time,
    get_condition,
    parse_time,
)

FORCE_SYNC = "force-sync"
StoreKey = tuple[str, str]  # (kind, name)


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def store_view(kind: str, name: str, store: Mapping[str, Any] | None) -> dict[str, Any]:
    if store is None:
        return {"kind": kind, "name": name, "found": False, "provider": None, "controller": None, "ready": None}
    spec = _map(store.get("spec"))
    provider = sorted(_map(spec.get("provider")))
    return {"kind": kind, "name": name, "found": True, "provider": provider[0] if provider else None,
            "controller": spec.get("controller") or None,
            "ready": condition_view(get_condition(_map(store.get("status")), "Ready"))}


def _reason(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _failing(status: Mapping[str, Any]) -> bool:
    ready = get_condition(status, "Ready")
    return ready is not None and ready.get("status") != "True"


def _refresh(es_obj: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    status = _map(es_obj.get("status"))
    force = _map(_meta(es_obj).get("annotations")).get(FORCE_SYNC)
    out: dict[str, Any] = {"interval": None, "policy": None, "lastRefresh": status.get("refreshTime"),
                           "next": None, "forceSync": force, "why": None}
    try:
        es = parse_external_secret(es_obj, webhook_checks=False)
    except ConfigError as err:
        out["why"] = f"the spec does not parse: {err.message}"
        return out
    out["interval"] = format_go_duration(es.refresh_interval_ns)
    out["policy"] = es.refresh_policy or "Periodic"
    due, why = should_refresh(es, status, now)
    out["why"] = why
    refreshed = parse_time(status.get("refreshTime"))
    if es.refresh_policy == "CreatedOnce" and not due:
        out["next"] = "never (refreshPolicy CreatedOnce; a deleted or edited Secret is still re-created)"
    elif es.refresh_policy == "OnChange" and not due:
        out["next"] = "when the ExternalSecret changes (refreshPolicy OnChange)"
    elif es.refresh_interval_ns <= 0 and not due:
        out["next"] = "never (refreshInterval 0: synced once)"
    elif _failing(status):
        out["next"] = "retrying with backoff (the last attempt failed)"
    elif due:
        out["next"] = "now (due: " + why + ")"
    else:
        when = next_refresh(es, refreshed, now)
        out["next"] = format_time(when) if when is not None else "never"
    return out


def _secret(es_obj: Mapping[str, Any], secret: Mapping[str, Any] | None, target: str, policy: str) -> dict[str, Any]:
    meta = _meta(es_obj)
    ns, name, uid = str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(meta.get("uid") or "")
    if secret is None:
        return {"name": target, "exists": False, "creationPolicy": policy}
    smeta = _meta(secret)
    labels, annotations = _map(smeta.get("labels")), _map(smeta.get("annotations"))
    written = annotations.get(ANNOTATION_DATA_HASH)
    expected_by = created_by(ns, name)
    return {
        "name": target, "exists": True, "creationPolicy": policy, "type": secret.get("type") or "Opaque",
        "keys": sorted(_map(secret.get("data"))), "immutable": bool(secret.get("immutable")),
        "owner": owner_view(secret, "ExternalSecret", uid, name),
        "managed": labels.get(LABEL_MANAGED) == LABEL_MANAGED_VALUE,
        "createdBy": {"value": labels.get(LABEL_OWNER), "expected": expected_by,
                      "match": labels.get(LABEL_OWNER) == expected_by},
        # ESO's drift check: the annotation is the hash of the data as the controller last wrote it
        "dataHash": {"present": written is not None,
                     "match": written is not None and written == object_hash(decode_data(secret))},
    }


def _classify_failure(ready: Mapping[str, Any], stores: list[dict[str, Any]], warns: list[dict[str, Any]]
                      ) -> dict[str, str]:
    message = str(ready.get("message") or "")
    latest = str(warns[0]["message"]) if warns else ""
    detail = latest or message
    if message == MSG_ERROR_UPDATE_IMMUTABLE or "immutable" in latest:
        return _reason("secret-immutable", f"the target Secret is immutable and its data would change: {detail}; "
                       "delete the Secret (it is re-created) or drop target.immutable")
    if message in (MSG_ERROR_IS_OWNED, MSG_ERROR_BECOME_OWNER) or "owned by" in latest:
        return _reason("secret-owned-by-other", f"{detail}: the target Secret belongs to another owner")
    if "template" in latest.lower():  # ESO reports it as "could not update secret"
        return _reason("template-error", latest)
    if message == MSG_ERROR_UPDATE_SECRET:
        return _reason("secret-write-failed", detail)
    for store in stores:
        if not store["found"]:
            return _reason("store-not-found", f'{store["kind"]} "{store["name"]}" not found'
                           + (" in this namespace" if store["kind"] == "SecretStore" else ""))
    for store in stores:
        cond = store["ready"]
        if cond is None or cond.get("status") != "True":
            why = f'{cond.get("reason") or ""}: {cond.get("message") or ""}'.strip(": ") if cond else "no status yet"
            return _reason("store-not-ready", f'{store["kind"]} "{store["name"]}" is not Ready ({why})')
    lowered = latest.lower()
    if "not allowed from namespace" in lowered:
        return _reason("store-denied", latest)
    if "unmanaged store" in lowered:
        return _reason("store-unmanaged", latest + " (the store's spec.controller names another controller class)")
    if message == MSG_ERROR_GET_SECRET_DATA:
        return _reason("provider-error", latest or message)
    return _reason("sync-error", detail or "Ready is False")


def describe_external_secret(es_obj: Mapping[str, Any], stores: Mapping[StoreKey, Mapping[str, Any] | None],
                             secret: Mapping[str, Any] | None, events: Sequence[Mapping[str, Any]],
                             now: dt.datetime) -> dict[str, Any]:
    """The report for one ExternalSecret (see the module docstring); `synced` is False with `reasons`."""
    meta = _meta(es_obj)
    spec = _map(es_obj.get("spec"))
    target_spec = _map(spec.get("target"))
    target = str(target_spec.get("name") or meta.get("name") or "")
    policy = str(target_spec.get("creationPolicy") or "Owner")
    status = _map(es_obj.get("status"))
    ready = get_condition(status, "Ready")
    store_list = [store_view(kind, name, store) for (kind, name), store in stores.items()]
    warns = warnings(events)
    secret_info = _secret(es_obj, secret, target, policy)
    reasons: list[dict[str, str]] = []
    notes: list[str] = []
    if ready is None:
        reasons.append(_reason("never-synced", "no Ready condition: no controller has reconciled it yet (is one "
                                               "running, for this namespace and the store's controller class?)"))
        for store in store_list:
            if not store["found"]:
                reasons.append(_reason("store-not-found", f'{store["kind"]} "{store["name"]}" not found'))
    elif ready.get("status") != "True":
        reasons.append(_classify_failure(ready, store_list, warns))
    else:
        if policy == "Merge" and not secret_info["exists"]:
            reasons.append(_reason("secret-missing", f'creationPolicy Merge and Secret "{target}" does not exist: '
                                                     "nothing is written until it does"))
        elif policy in ("Owner", "Orphan", "CreateOrMerge") and not secret_info["exists"]:
            reasons.append(_reason("secret-missing", f'Secret "{target}" does not exist; the controller re-creates '
                                                     "it on its next reconcile (if it stays missing, none is running)"))
        if secret_info["exists"]:
            owner = secret_info["owner"]
            if policy == "Owner" and (owner is None or not owner["isThis"]):
                held = f'{owner["kind"]} "{owner["name"]}"' if owner else "nobody"
                reasons.append(_reason("secret-owned-by-other", f'Secret "{target}" is controlled by {held}, not '
                                                                "by this ExternalSecret"))
            if policy != "None" and not secret_info["dataHash"]["match"]:
                reasons.append(_reason("secret-drifted", f'Secret "{target}" data differs from what was synced '
                                                         "(data-hash annotation mismatch): someone else wrote it; "
                                                         "the controller rewrites it on its next reconcile"))
            if policy != "None" and not secret_info["managed"]:
                notes.append(f"Secret lacks the label {LABEL_MANAGED}=true (the controller re-adds it)")
            if policy == "Owner" and not secret_info["createdBy"]["match"]:
                notes.append(f"Secret's {LABEL_OWNER} label is not this ExternalSecret's")
    for store in store_list:
        cond = store["ready"]
        if store["found"] and (cond is None or cond.get("status") != "True") and \
                not any(r["code"] == "store-not-ready" for r in reasons):
            notes.append(f'{store["kind"]} "{store["name"]}" is not Ready: the next refresh will fail')
    generation = meta.get("generation")
    synced_version = str(status.get("syncedResourceVersion") or "")
    if synced_version and generation is not None and synced_version.split("-", 1)[0] != str(generation):
        notes.append(f"spec changed since the last sync (generation {generation}, synced "
                     f"{synced_version.split('-', 1)[0]})")
    return {
        "kind": "ExternalSecret", "namespace": meta.get("namespace"), "name": meta.get("name"),
        "synced": not reasons, "reasons": reasons, "notes": notes,
        "condition": condition_view(ready), "stores": store_list,
        "lastError": (str(warns[0]["message"]) if warns else None) if ready is None or ready.get("status") != "True"
        else None,
        "warnings": warns, "refresh": _refresh(es_obj, now), "secret": secret_info,
    }


def describe_cluster_external_secret(ces: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A ClusterExternalSecret: Ready, and the namespaces it provisioned or failed (with ESO's reason)."""
    meta = _meta(ces)
    status = _map(ces.get("status"))
    ready = get_condition(status, "Ready")
    failed = [{"namespace": f.get("namespace"), "reason": f.get("reason")}
              for f in status.get("failedNamespaces") or [] if isinstance(f, Mapping)]
    reasons = []
    if ready is None:
        reasons.append(_reason("never-synced", "no Ready condition: no controller has reconciled it yet"))
    elif ready.get("status") != "True" or failed:
        text = "; ".join(f'{f["namespace"]}: {f["reason"]}' for f in failed) or str(ready.get("message") or "")
        reasons.append(_reason("namespaces-failed", text or "Ready is False"))
    warns = warnings(events)
    return {"kind": "ClusterExternalSecret", "namespace": None, "name": meta.get("name"), "synced": not reasons,
            "reasons": reasons, "notes": [], "condition": condition_view(ready),
            "externalSecretName": status.get("externalSecretName"),
            "provisionedNamespaces": list(status.get("provisionedNamespaces") or []), "failedNamespaces": failed,
            "lastError": str(warns[0]["message"]) if warns and reasons else None, "warnings": warns}


def describe_store(store: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A SecretStore / ClusterSecretStore: its health (Ready, the provider's validation) and last errors."""
    meta = _meta(store)
    kind = str(store.get("kind") or "SecretStore")
    view = store_view(kind, str(meta.get("name") or ""), store)
    ready = view["ready"]
    reasons = []
    if ready is None:
        reasons.append(_reason("never-synced", "no Ready condition: no controller has validated it yet (is one "
                                               "running, for this namespace and the store's controller class?)"))
    elif ready.get("status") != "True":
        reasons.append(_reason("store-not-ready", f'{ready.get("reason") or "NotReady"}: {ready.get("message") or ""}'
                               .rstrip(": ")))
    warns = warnings(events)
    return {"kind": kind, "namespace": meta.get("namespace"), "name": meta.get("name"), "synced": not reasons,
            "reasons": reasons, "notes": [], "condition": ready, "provider": view["provider"],
            "controller": view["controller"],
            "lastError": str(warns[0]["message"]) if warns and reasons else None, "warnings": warns}
