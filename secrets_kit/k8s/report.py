"""Facts about Kubernetes objects for reports (`operator describe`): a condition, the latest Warning
events (folded, newest first) and a Secret's controller ownerReference — names and texts only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def condition_view(cond: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if cond is None:
        return None
    return {k: cond.get(k) for k in ("type", "status", "reason", "message", "lastTransitionTime") if k in cond}


def event_time(event: Mapping[str, Any]) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
               or _meta(event).get("creationTimestamp") or "")


def event_view(event: Mapping[str, Any]) -> dict[str, Any]:
    source = _map(event.get("source")).get("component") or event.get("reportingComponent") or ""
    return {"type": event.get("type"), "reason": event.get("reason"), "message": event.get("message"),
            "count": event.get("count") or 1, "lastTimestamp": event_time(event), "source": source}


def warnings(events: Sequence[Mapping[str, Any]], limit: int = 3) -> list[dict[str, Any]]:
    """The latest Warning events, newest first; repeats of one (reason, message) folded into one, counted."""
    found = sorted((e for e in events if e.get("type") == "Warning"), key=event_time, reverse=True)
    folded: dict[tuple[Any, Any], dict[str, Any]] = {}
    for event in found:
        key = (event.get("reason"), event.get("message"))
        if key in folded:
            folded[key]["count"] += event.get("count") or 1
        else:
            folded[key] = event_view(event)
    return list(folded.values())[:limit]


def owner_view(secret: Mapping[str, Any], kind: str, uid: str, name: str) -> dict[str, Any] | None:
    """The Secret's controller ownerReference, and whether it is the object described (kind + uid)."""
    for ref in _meta(secret).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller"):
            this = ref.get("kind") == kind and (ref.get("uid") == uid if uid and ref.get("uid") else
                                                 ref.get("name") == name)
            return {"apiVersion": ref.get("apiVersion"), "kind": ref.get("kind"), "name": ref.get("name"),
                    "uid": ref.get("uid"), "isThis": bool(this)}
    return None
