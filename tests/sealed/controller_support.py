"""Shared by the controller-core tests: key Secrets as the API server returns them, SealedSecrets
as the API server stores them, and the Secret the API server would hold after a write.

Every key here is a generated test key (2048-bit for speed), made fresh per session.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from typing import Any

from secrets_kit.sealed import controller_keys as ck
from secrets_kit.sealed.model import seal_secret

NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
_versions = itertools.count(100)


def key_secret(*, name: str, created: dt.datetime, not_before: dt.datetime | None = None, state: str = "active",
               namespace: str = "kube-system") -> dict[str, Any]:
    """A key Secret as `kubectl get -o json` shows one the controller wrote."""
    secret = ck.new_key_secret(namespace=namespace, bits=2048, now=not_before or created)
    meta = secret["metadata"]
    meta.pop("generateName")
    meta.update(name=name, uid=f"uid-{name}", resourceVersion=str(next(_versions)),
                creationTimestamp=ck.format_time(created))
    meta["labels"][ck.KEY_LABEL] = state
    return secret


def bump(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy with a new resourceVersion, as after any write."""
    out = copy.deepcopy(doc)
    out["metadata"]["resourceVersion"] = str(next(_versions))
    return out


def stored(sealed: dict[str, Any], *, uid: str = "ss-uid-1", generation: int = 1) -> dict[str, Any]:
    """A SealedSecret as the API server returns it: uid, generation, resourceVersion."""
    out = copy.deepcopy(sealed)
    out["metadata"].update(uid=uid, generation=generation, resourceVersion=str(next(_versions)),
                           creationTimestamp="2026-05-01T00:00:00Z")
    return out


def sealed_for(key: ck.ControllerKey, items: dict[str, str], *, name: str = "app", namespace: str = "prod",
               annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None,
               secret_type: str | None = "Opaque", uid: str = "ss-uid-1") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": items}
    if secret_type:
        secret["type"] = secret_type
    return stored(seal_secret(secret, key.private_key.public_key()), uid=uid)


def created(body: dict[str, Any]) -> dict[str, Any]:
    """The Secret the API server holds after POSTing `body` (its defaults and server fields added)."""
    out = copy.deepcopy(body)
    out.setdefault("type", "Opaque")
    out["metadata"].update(uid="secret-uid", resourceVersion=str(next(_versions)),
                           creationTimestamp="2026-06-01T12:00:00Z")
    return out


def with_status(sealed: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(sealed)
    if status is not None:
        out["status"] = status
    return out
