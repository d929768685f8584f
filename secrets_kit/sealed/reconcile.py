"""One SealedSecret reconciled: what the cluster holds -> what to write. Pure: no I/O, no clock.

The rules are upstream's `Controller.unseal` and `updateSealedSecretStatus`
(`pkg/controller/controller.go`, v0.36.6):
- the Secret gets the SealedSecret's name and namespace, the template's metadata, type, immutable
  and data, and one ownerReference to the SealedSecret unless the template asks
  `sealedsecrets.bitnami.com/skip-set-owner-references: "true"`;
- an existing Secret is touched only if this SealedSecret controls it or it says `managed` or
  `patch`; otherwise Synced=False and a Warning `ErrUpdateFailed` (also right after creating one
  without an ownerReference and without `managed`, as upstream checks the Secret it just created);
- `patch` merges data, labels and annotations into the existing Secret and takes ownership only
  with `managed` too; otherwise data, labels, annotations and ownerReferences are replaced; the type
  is always set; `immutable` is set on create only;
- nothing is written when the result equals what is there (empty and missing maps and lists are
  equal, as with `apiequality.Semantic`).
Beyond upstream (each is in the table of deliberate differences):
- a missing Secret type counts as `Opaque` (the API server's default), so an untyped template does
  not cause an Update on every reconcile;
- an immutable Secret whose data would change is not sent an Update that must fail;
- the status is also rewritten when its message changes (upstream leaves a stale message while
  Synced stays False, which GitOps tools show: argo-cd #5991), and the failure message says why;
- events only when something changed: a write, or a new status.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import SecretsKitError
from ..k8s.secrets import ordered_meta, string_map
from .controller_keys import format_time
from .crypto import Keyring
from .diagnose import explain
from .model import unseal
from .scopes import MANAGED_ANNOTATION, PATCH_ANNOTATION

SYNCED = "Synced"
UNSEALED, ERR_UNSEAL_FAILED, ERR_UPDATE_FAILED = "Unsealed", "ErrUnsealFailed", "ErrUpdateFailed"
UNSEALED_MESSAGE = "SealedSecret unsealed successfully"
IMMUTABLE_MESSAGE = ("Error updating {key}: the target Secret is immutable. Once a Secret is marked as immutable, "
                     "it is not possible to revert this change nor to mutate the contents of the data field. "
                     "You can only delete and recreate the Secret.")
# Template metadata the API server owns: kept out of the Secret we create.
_SERVER_META = ("uid", "resourceVersion", "selfLink", "creationTimestamp", "deletionTimestamp",
                "deletionGracePeriodSeconds", "generation", "managedFields")
_MAX_MESSAGE = 2000

Action = Literal["none", "create", "update"]


@dataclass(frozen=True)
class ReconcileOptions:
    update_status: bool = True  # --update-status
    accept_v1_data: bool = True  # --accept-deprecated-v1-data


@dataclass(frozen=True)
class Event:
    type: str  # "Normal" | "Warning"
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    """What to do; the runtime does it. The event is for after the write succeeded (if it fails,
    call `write_failed` and use its plan instead)."""

    action: Action
    secret: dict[str, Any] | None  # body to POST (create) or PUT (update: carries the resourceVersion)
    status: dict[str, Any] | None  # the new .status for the status subresource; None: leave it
    event: Event | None  # None when nothing changed
    error_reason: str | None  # unseal_errors_total reason: unseal | update | unmanaged (status/fetch: runtime)
    synced: bool  # for condition_info


def reconcile(sealed: Mapping[str, Any], existing: Mapping[str, Any] | None, keyring: Keyring, *,
              now: dt.datetime, options: ReconcileOptions = ReconcileOptions()) -> Plan:
    """The plan for `sealed`, given the Secret of the same name (None if there is none)."""
    try:
        desired = desired_secret(sealed, keyring, options)
    except SecretsKitError as err:
        message = explain(sealed, keyring, err)
        return _failure(sealed, ERR_UNSEAL_FAILED, f"Failed to unseal: {message}", message, "unseal", now, options)
    if existing is None:
        if not _ours(desired, sealed):
            # skip-set-owner-references without `managed`: upstream creates the Secret, then finds it
            # is not one it manages, and says so (now and on every later attempt). So do we: no flapping.
            plan = _unmanaged(sealed, desired, now, options)
            return Plan("create", desired, plan.status, plan.event, plan.error_reason, False)
        return _success(sealed, "create", desired, now, options)
    meta = _meta(existing)
    annotations = _map(meta.get("annotations"))
    managed = annotations.get(MANAGED_ANNOTATION) == "true"
    patch = annotations.get(PATCH_ANNOTATION) == "true"
    if not _ours(existing, sealed):
        return _unmanaged(sealed, existing, now, options)
    updated = merged_secret(existing, desired, patch=patch, managed=managed)
    if semantically_equal(existing, updated):
        return _success(sealed, "none", None, now, options)
    if existing.get("immutable") is True and _map(existing.get("data")) != _map(updated.get("data")):
        text = IMMUTABLE_MESSAGE.format(key=_key(sealed))
        return _failure(sealed, ERR_UPDATE_FAILED, text, text, "update", now, options)
    return _success(sealed, "update", updated, now, options)


def _ours(secret: Mapping[str, Any], sealed: Mapping[str, Any]) -> bool:
    """May this SealedSecret write `secret`: it controls it, or it says `managed` or `patch`."""
    annotations = _map(_meta(secret).get("annotations"))
    return (controlled_by(secret, sealed) or annotations.get(MANAGED_ANNOTATION) == "true"
            or annotations.get(PATCH_ANNOTATION) == "true")


def _unmanaged(sealed: Mapping[str, Any], secret: Mapping[str, Any], now: dt.datetime,
               options: ReconcileOptions) -> Plan:
    text = f'Resource "{_meta(secret).get("name")}" already exists and is not managed by SealedSecret'
    return _failure(sealed, ERR_UPDATE_FAILED, text, f"failed update: {text}", "unmanaged", now, options)


def write_failed(sealed: Mapping[str, Any], message: str, *, now: dt.datetime, immutable: bool = False,
                 options: ReconcileOptions = ReconcileOptions()) -> Plan:
    """The plan after the API server refused the create or update: Synced=False, `ErrUpdateFailed`.

    `message` is the API's reason text (it names fields, never Secret values); `immutable` when it is
    the "field is immutable when `immutable` is set" refusal, which retrying cannot fix.
    """
    text = IMMUTABLE_MESSAGE.format(key=_key(sealed)) if immutable else sanitise(message)
    plan = _failure(sealed, ERR_UPDATE_FAILED, text, text, "update", now, options)
    # A refused write is always news, even if the status already says the same.
    return Plan(plan.action, None, plan.status, Event("Warning", ERR_UPDATE_FAILED, text), "update", False)


def is_immutable_error(message: str) -> bool:
    """Upstream's test for the API's refusal to change an immutable Secret."""
    return message.rstrip().endswith("field is immutable when `immutable` is set")


def sanitise(message: str) -> str:
    """One line of bounded length (the API's text goes into a status and an event)."""
    text = re.sub(r"\s+", " ", message).strip()
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 1] + "…"


# ----------------------------------------------------------------------------------- the Secret


def desired_secret(sealed: Mapping[str, Any], keyring: Keyring,
                   options: ReconcileOptions = ReconcileOptions()) -> dict[str, Any]:
    """The Secret `sealed` unseals to (one RSA decryption per item); SecretsKitError if it does not."""
    _check_template_metadata(sealed)
    unsealed = unseal(dict(sealed), keyring, where=_key(sealed), accept_v1_data=options.accept_v1_data,
                      owner_reference=True)
    secret = unsealed.secret
    meta = dict(secret["metadata"])
    for key in _SERVER_META:
        meta.pop(key, None)
    for key in ("labels", "annotations"):  # unquoted YAML numbers in the template become text
        if meta.get(key) is not None:
            meta[key] = string_map(meta[key], f"spec.template.metadata.{key}", _key(sealed))
        if not meta.get(key):
            meta.pop(key, None)
    secret["metadata"] = ordered_meta(meta)
    return secret


def _check_template_metadata(sealed: Mapping[str, Any]) -> None:
    """Template labels and annotations are maps (the CRD says so; an object stored without that schema
    must still get a clear status, not an exception)."""
    spec = sealed.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    tmeta = template.get("metadata") if isinstance(template, Mapping) else None
    if isinstance(tmeta, Mapping):
        for key in ("labels", "annotations"):
            string_map(tmeta.get(key), f"spec.template.metadata.{key}", _key(sealed))


def controlled_by(secret: Mapping[str, Any], sealed: Mapping[str, Any]) -> bool:
    """metav1.IsControlledBy: the Secret's controller reference has the SealedSecret's uid."""
    uid = _meta(sealed).get("uid")
    for ref in _list(_meta(secret).get("ownerReferences")):
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return bool(uid) and ref.get("uid") == uid
    return False


def merged_secret(existing: Mapping[str, Any], desired: Mapping[str, Any], *, patch: bool,
                  managed: bool) -> dict[str, Any]:
    """The existing Secret with the desired one applied, upstream's way."""
    out = copy.deepcopy(dict(existing))
    meta = out.setdefault("metadata", {})
    want = _meta(desired)
    if patch:
        _set(out, "data", {**_map(existing.get("data")), **_map(desired.get("data"))})
        _set(meta, "labels", {**_map(meta.get("labels")), **_map(want.get("labels"))})
        _set(meta, "annotations", {**_map(meta.get("annotations")), **_map(want.get("annotations"))})
        if managed:
            _set(meta, "ownerReferences", _list(want.get("ownerReferences")))
    else:
        _set(out, "data", _map(desired.get("data")))
        for key in ("labels", "annotations"):
            _set(meta, key, _map(want.get(key)))
        _set(meta, "ownerReferences", _list(want.get("ownerReferences")))
    want_type = desired.get("type") or "Opaque"  # the API server's default for a missing type
    if want_type != (existing.get("type") or "Opaque"):
        out["type"] = want_type
    return out


def semantically_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal in every field the controller writes; missing and empty count the same."""
    ma, mb = _meta(a), _meta(b)
    return (_map(a.get("data")) == _map(b.get("data"))
            and _map(ma.get("labels")) == _map(mb.get("labels"))
            and _map(ma.get("annotations")) == _map(mb.get("annotations"))
            and _list(ma.get("ownerReferences")) == _list(mb.get("ownerReferences"))
            and (a.get("type") or "Opaque") == (b.get("type") or "Opaque")
            and bool(a.get("immutable")) == bool(b.get("immutable")))


# ----------------------------------------------------------------------------------- the status


def new_status(sealed: Mapping[str, Any], *, synced: bool, message: str, now: dt.datetime) -> dict[str, Any] | None:
    """The status after this attempt, or None when it would say what it says already.

    Written when Synced flips (lastTransitionTime = now), when observedGeneration is behind, or when
    the message changes; lastUpdateTime = now on every write.
    """
    current = sealed.get("status")
    current = dict(current) if isinstance(current, Mapping) else {}
    conditions = [dict(c) for c in _list(current.get("conditions")) if isinstance(c, Mapping)]
    index = next((i for i, c in enumerate(conditions) if c.get("type") == SYNCED), None)
    old = conditions[index] if index is not None else {}
    state = "True" if synced else "False"
    generation = _meta(sealed).get("generation") or 0
    flipped = old.get("status") != state
    if not flipped and current.get("observedGeneration", 0) == generation and (old.get("message") or "") == message:
        return None
    stamp = format_time(now)
    cond: dict[str, Any] = {"type": SYNCED, "status": state, "lastUpdateTime": stamp,
                            "lastTransitionTime": stamp if flipped else (old.get("lastTransitionTime") or stamp)}
    if old.get("reason"):
        cond["reason"] = old["reason"]
    if message:
        cond["message"] = message
    if index is None:
        conditions.append(cond)
    else:
        conditions[index] = cond
    status: dict[str, Any] = {k: v for k, v in current.items() if k not in ("observedGeneration", "conditions")}
    if generation:
        status["observedGeneration"] = generation
    status["conditions"] = conditions
    return status


# ---------------------------------------------------------------------------------------- plans


def _success(sealed: Mapping[str, Any], action: Action, secret: dict[str, Any] | None, now: dt.datetime,
             options: ReconcileOptions) -> Plan:
    status = new_status(sealed, synced=True, message="", now=now) if options.update_status else None
    changed = action != "none" or status is not None
    event = Event("Normal", UNSEALED, UNSEALED_MESSAGE) if changed else None
    return Plan(action, secret, status, event, None, True)


def _failure(sealed: Mapping[str, Any], reason: str, event_text: str, status_text: str, error_reason: str,
             now: dt.datetime, options: ReconcileOptions) -> Plan:
    status = new_status(sealed, synced=False, message=status_text, now=now) if options.update_status else None
    news = status is not None or not options.update_status
    event = Event("Warning", reason, event_text) if news else None
    return Plan("none", None, status, event, error_reason, False)


def _key(sealed: Mapping[str, Any]) -> str:
    meta = _meta(sealed)
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _meta(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = doc.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _map(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _set(target: dict[str, Any], key: str, value: dict[str, Any] | list[Any]) -> None:
    if value:
        target[key] = value
    else:
        target.pop(key, None)
