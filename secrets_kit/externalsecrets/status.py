"""ExternalSecret status, conditions and events, as ESO v0.16.2 writes them
(pkg/controllers/externalsecret/util.go, externalsecret_controller.go).

- `set_condition`: ESO's SetExternalSecretCondition — an identical condition (status, reason, message) is
  kept as it is; a changed reason or message with the same status keeps `lastTransitionTime`; the new
  condition goes last, after the other types.
- `mark_done`: Ready=True with a reason, `refreshTime` = the reconcile's start, `syncedResourceVersion`.
- `mark_failed`: Ready=False `SecretSyncedError` with a fixed message, and a Warning `UpdateFailed` event
  carrying the error text (which never holds a value).
Times are RFC 3339 UTC with whole seconds, as metav1.Time serialises them.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .hashing import synced_resource_version

READY, DELETED = "Ready", "Deleted"
SECRET_SYNCED, SECRET_SYNCED_ERROR = "SecretSynced", "SecretSyncedError"
SECRET_DELETED, SECRET_MISSING = "SecretDeleted", "SecretMissing"

MSG_SYNCED = "secret synced"
MSG_SYNCED_RETAIN = "secret retained due to DeletionPolicy=Retain"
MSG_DELETED = "secret deleted due to DeletionPolicy=Delete"
MSG_MISSING = "secret will not be created due to CreationPolicy=Merge"
MSG_ERROR_GET_SECRET_DATA = "could not get secret data from provider"
MSG_ERROR_DELETE_SECRET = "could not delete secret"
MSG_ERROR_DELETE_ORPHANED = "could not delete orphaned secrets"
MSG_ERROR_UPDATE_SECRET = "could not update secret"
MSG_ERROR_UPDATE_IMMUTABLE = "could not update secret, target is immutable"
MSG_ERROR_BECOME_OWNER = "failed to take ownership of target secret"
MSG_ERROR_IS_OWNED = "target is owned by another ExternalSecret"

REASON_UPDATE_FAILED = "UpdateFailed"
REASON_CREATED, REASON_UPDATED, REASON_DELETED = "Created", "Updated", "Deleted"
REASON_MISSING_PROVIDER_SECRET = "MissingProviderSecret"
EVENT_CREATED = "secret created"
EVENT_UPDATED = "secret updated"
EVENT_DELETED = "secret deleted due to DeletionPolicy=Delete"
EVENT_DELETED_ORPHANED = "secret deleted because it was orphaned"


@dataclass(frozen=True)
class Event:
    type: str  # "Normal" | "Warning"
    reason: str
    message: str


def format_time(when: dt.datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> dt.datetime | None:
    if not text or not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _conditions(status: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = status.get("conditions")
    return [dict(c) for c in items if isinstance(c, Mapping)] if isinstance(items, list) else []


def get_condition(status: Mapping[str, Any] | None, ctype: str = READY) -> dict[str, Any] | None:
    for cond in _conditions(status or {}):
        if cond.get("type") == ctype:
            return cond
    return None


def new_status(existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """ESO's ExternalSecretStatus as it would decode `existing` (unknown fields dropped)."""
    old = existing if isinstance(existing, Mapping) else {}
    out: dict[str, Any] = {}
    for key in ("refreshTime", "syncedResourceVersion"):
        if old.get(key) not in (None, ""):
            out[key] = copy.deepcopy(old[key])
    if _binding_name(old):  # an unset binding is {} or {"name": ""}: both mean none
        out["binding"] = {"name": _binding_name(old)}
    conds = _conditions(old)
    if conds:
        out["conditions"] = conds
    return out


def set_condition(status: dict[str, Any], ctype: str, cstatus: str, reason: str, message: str,
                  now: dt.datetime) -> None:
    current = get_condition(status, ctype)
    if current is not None and current.get("status") == cstatus and (current.get("reason") or "") == reason \
            and (current.get("message") or "") == message:
        return
    cond: dict[str, Any] = {"type": ctype, "status": cstatus}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    cond["lastTransitionTime"] = format_time(now)
    if current is not None and current.get("status") == cstatus and current.get("lastTransitionTime"):
        cond["lastTransitionTime"] = current["lastTransitionTime"]
    status["conditions"] = [c for c in _conditions(status) if c.get("type") != ctype] + [cond]


def mark_done(status: dict[str, Any], es_meta: Mapping[str, Any], reason: str, message: str,
              now: dt.datetime) -> None:
    set_condition(status, READY, "True", reason, message, now)
    status["refreshTime"] = format_time(now)
    status["syncedResourceVersion"] = synced_resource_version(es_meta)


def mark_failed(status: dict[str, Any], message: str, error_text: str, now: dt.datetime) -> Event:
    set_condition(status, READY, "False", SECRET_SYNCED_ERROR, message, now)
    return Event("Warning", REASON_UPDATE_FAILED, error_text)


def set_binding(status: dict[str, Any], secret_name: str) -> None:
    status["binding"] = {"name": secret_name}


def eso_json(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status as ESO stores it: `refreshTime` is null until the first sync (metav1.Time is never omitted,
    and the CRD marks it nullable); `binding` is `{"name": ""}` until a Secret is bound (Go writes `{}`, the
    CRD defaults `binding.name` to ""); conditions and syncedResourceVersion are omitted when empty."""
    out = new_status(status)
    out.setdefault("refreshTime", None)
    out["binding"] = {"name": str(_binding_name(out))}
    return out


def _binding_name(status: Mapping[str, Any]) -> str:
    binding = status.get("binding")
    return str(binding.get("name") or "") if isinstance(binding, Mapping) else ""


def status_equal(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Semantic equality of two statuses (missing and empty fields are equal)."""
    return new_status(a) == new_status(b)


def semantic(value: Any) -> Any:
    """Go's equality.Semantic form: nil and empty maps/lists are equal (compare `semantic(a) == semantic(b)`)."""
    if isinstance(value, Mapping):
        out = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value
