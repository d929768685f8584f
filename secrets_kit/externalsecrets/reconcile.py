"""One ExternalSecret reconciled: what the cluster holds → what to write. Pure: no I/O, no clock.

The rules are ESO v0.16.2's `Reconciler.Reconcile` (pkg/controllers/externalsecret/externalsecret_controller.go),
its mutation function and `applyTemplate`:
- `needs_refresh` is `shouldRefresh(es) || !isSecretValid(secret)`: refreshPolicy CreatedOnce refreshes only
  while never synced; OnChange when `syncedResourceVersion` differs from `<generation>-<hash(labels,
  annotations)>`; Periodic (also unset) never again after a sync with refreshInterval 0, else when the
  resource version differs, refreshTime is unset or in the future, or refreshTime + interval has passed.
  The Secret is valid when it exists, has `reconcile.external-secrets.io/managed=true` and its data-hash
  annotation matches its data. `next_at` is getRequeueResult's deadline.
- `plan`: a fetch error → Ready=False `SecretSyncedError` "could not get secret data from provider", the
  Secret untouched, a retry with backoff. No data → deletionPolicy Delete deletes the Secret (creationPolicy
  Owner only), Retain keeps it ("secret retained due to DeletionPolicy=Retain"), Merge carries on. The
  Secret is then built from the existing one (or a new one): another ExternalSecret's controller reference
  is refused; Owner sets the controller ownerReference (any other controller is refused) and the
  `created-by` label; other policies drop our ownerReference and that label; keys, labels and annotations
  this ExternalSecret wrote before (managedFields of `externalsecrets.external-secrets.io/<name>`) are
  removed; then the ES's labels/annotations (no template) or the template's metadata; data cleared unless
  creationPolicy Merge; provider data (no template, mergePolicy Merge, or no data/templateFrom); the
  rendered template; `immutable`; `managed=true`; the data-hash. Merge never creates (Ready=True
  `SecretMissing`), None never writes. An unchanged Secret is not written; an immutable Secret gets
  metadata changes only, and a data change is "could not update secret, target is immutable".
- the status is ESO's: conditions via SetExternalSecretCondition, refreshTime = `now`, syncedResourceVersion,
  binding. ESO rewrites refreshTime on every refresh, so a refresh always changes the status (compare
  `Plan.status_changed`); everything else is compared semantically, like equality.Semantic.DeepEqual.
Owner's clean-up of Secrets left behind by a renamed target (`deleteOrphanedSecrets`) needs a list: the plan
says what to list and keep (`cleanup_orphans`); the runtime does it before the write.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigError, SecretsKitError
from .fetch import Fetched, FetchError
from .hashing import created_by, object_hash, synced_resource_version
from .managed_fields import managed_keys
from .spec import GROUP, ExternalSecret, parse_external_secret
from .status import (
    EVENT_CREATED,
    EVENT_DELETED,
    EVENT_UPDATED,
    MSG_DELETED,
    MSG_ERROR_BECOME_OWNER,
    MSG_ERROR_DELETE_ORPHANED,
    MSG_ERROR_DELETE_SECRET,
    MSG_ERROR_GET_SECRET_DATA,
    MSG_ERROR_IS_OWNED,
    MSG_ERROR_UPDATE_IMMUTABLE,
    MSG_ERROR_UPDATE_SECRET,
    MSG_MISSING,
    MSG_SYNCED,
    MSG_SYNCED_RETAIN,
    REASON_CREATED,
    REASON_DELETED,
    REASON_UPDATED,
    SECRET_DELETED,
    SECRET_MISSING,
    SECRET_SYNCED,
    SECRET_SYNCED_ERROR,
    Event,
    eso_json,
    get_condition,
    mark_done,
    mark_failed,
    new_status,
    parse_time,
    semantic,
    set_binding,
    status_equal,
)

LABEL_MANAGED = "reconcile.external-secrets.io/managed"
LABEL_MANAGED_VALUE = "true"
LABEL_OWNER = "reconcile.external-secrets.io/created-by"
ANNOTATION_DATA_HASH = "reconcile.external-secrets.io/data-hash"
ES_API_VERSION = f"{GROUP}/v1"
ES_GROUP_KIND = f"ExternalSecret.{GROUP}"

SecretAction = Literal["create", "update", "delete"]


# ------------------------------------------------------------------------------------ refresh


@dataclass(frozen=True)
class Refresh:
    due: bool
    next_at: dt.datetime | None  # when the next refresh is due (None: never, unless something changes)
    why: str
    # due only because refreshInterval elapsed (the Secret valid, the spec unchanged): a refresh that may
    # wait a little, unlike a first sync, a change or a broken Secret
    routine: bool = False
    interval: dt.timedelta = dt.timedelta(0)


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, Mapping) else {}


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _map(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


INTERVAL_ELAPSED = "refresh interval elapsed"


def should_refresh(es: ExternalSecret, status: Mapping[str, Any], now: dt.datetime) -> tuple[bool, str]:
    """ESO's shouldRefresh."""
    synced = status.get("syncedResourceVersion") or ""
    refreshed = parse_time(status.get("refreshTime"))
    current = synced_resource_version(_meta(es.obj))
    if es.refresh_policy == "CreatedOnce":
        if not synced or refreshed is None:
            return True, "never synced (refreshPolicy CreatedOnce)"
        return False, "synced once (refreshPolicy CreatedOnce)"
    if es.refresh_policy == "OnChange":
        if not synced or refreshed is None:
            return True, "never synced (refreshPolicy OnChange)"
        if synced != current:
            return True, "ExternalSecret changed (refreshPolicy OnChange)"
        return False, "unchanged (refreshPolicy OnChange)"
    if es.refresh_interval_ns <= 0 and synced:
        return False, "synced once (refreshInterval 0)"
    if synced != current:
        return True, "ExternalSecret changed"
    if refreshed is None:
        return True, "never refreshed"
    if refreshed > now:
        return True, "refreshTime is in the future"
    if refreshed + dt.timedelta(microseconds=es.refresh_interval_ns / 1000) < now:
        return True, INTERVAL_ELAPSED
    return False, "refresh not due"


def secret_valid(secret: Mapping[str, Any] | None) -> tuple[bool, str]:
    """ESO's isSecretValid."""
    if not secret or (not _meta(secret).get("uid") and not _meta(secret).get("name")):
        return False, "Secret missing"
    meta = _meta(secret)
    if _map(meta.get("labels")).get(LABEL_MANAGED) != LABEL_MANAGED_VALUE:
        return False, "Secret lacks the managed label"
    if _map(meta.get("annotations")).get(ANNOTATION_DATA_HASH) != object_hash(decode_data(secret)):
        return False, "Secret data-hash mismatch"
    return True, "Secret valid"


def next_refresh(es: ExternalSecret, refresh_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """getRequeueResult as a deadline: None when refreshInterval <= 0; `now` for an immediate requeue."""
    if es.refresh_interval_ns <= 0:
        return None
    interval = dt.timedelta(microseconds=es.refresh_interval_ns / 1000)
    if refresh_time is None:
        return now + interval
    since = now - refresh_time
    if since < dt.timedelta(0):
        return now
    if since < interval:
        return refresh_time + interval
    return now


def needs_refresh(es_obj: Mapping[str, Any], secret_obj: Mapping[str, Any] | None, now: dt.datetime) -> Refresh:
    """Whether a reconcile must read the provider now, and when the next one is due."""
    if _meta(es_obj).get("deletionTimestamp"):
        return Refresh(False, None, "ExternalSecret is being deleted")
    try:
        es = parse_external_secret(es_obj, webhook_checks=False)
    except ConfigError:
        return Refresh(True, None, "ExternalSecret spec is invalid")
    status = _status(es_obj)
    due, why = should_refresh(es, status, now)
    valid, vwhy = secret_valid(secret_obj)
    refreshed = parse_time(status.get("refreshTime"))
    if not due and valid:
        return Refresh(False, next_refresh(es, refreshed, now), why)
    routine = valid and why == INTERVAL_ELAPSED
    return Refresh(True, None, why if due else vwhy, routine,
                   dt.timedelta(microseconds=es.refresh_interval_ns / 1000))


def requeue_seconds(es: ExternalSecret, refresh_time: dt.datetime | None, now: dt.datetime) -> float | None:
    when = next_refresh(es, refresh_time, now)
    return None if when is None else max(0.0, (when - now).total_seconds())


# ------------------------------------------------------------------------------------ Secret data helpers


def decode_data(secret: Mapping[str, Any] | None) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in _map((secret or {}).get("data")).items():
        if isinstance(value, (bytes, bytearray)):
            out[key] = bytes(value)
            continue
        try:
            out[key] = base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            out[key] = b""  # not what the API server returns; counts as changed data
    return out


def encode_data(data: Mapping[str, bytes]) -> dict[str, str]:
    return {key: base64.b64encode(value).decode("ascii") for key, value in data.items()}


def semantically_equal(a: Any, b: Any) -> bool:
    return bool(semantic(a) == semantic(b))


def _controller_ref(secret: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in _meta(secret).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def _group_kind(ref: Mapping[str, Any]) -> str:
    api_version = str(ref.get("apiVersion") or "")
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    return f"{ref.get('kind')}.{group}" if group else str(ref.get("kind"))


def _same_object(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _group_kind(a) == _group_kind(b) and a.get("name") == b.get("name")


# ------------------------------------------------------------------------------------ the plan


@dataclass
class Plan:
    """What to do; the runtime does it (cleanup_orphans first, then the Secret write, then the status,
    then the events). If a write fails, use `write_failed(...)` for the status and event instead."""

    secret_action: SecretAction | None
    secret: dict[str, Any] | None  # create: the body to POST; update: the full object to PUT; delete: the existing
    status: dict[str, Any]  # the full new .status
    status_changed: bool  # False: skip the status write
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None  # seconds until the next refresh; None: none scheduled
    retry: bool = False  # ESO returned an error: retry with backoff
    cleanup_orphans: dict[str, Any] | None = None  # {"namespace", "labels": {created-by: ...}, "keep": name}
    ready: bool = False
    reason: str = ""


class _Refused(Exception):
    def __init__(self, message: str, text: str, retry: bool) -> None:
        super().__init__(text)
        self.message = message
        self.text = text
        self.retry = retry


Render = Callable[..., Any]


def _default_render() -> Render:
    render: Render = importlib.import_module(".template", __package__).render  # the template module
    return render


def _err_text(err: BaseException) -> str:
    """An error's text for an event: ESO's wrapped message (a FetchError's `where` is the ExternalSecret the
    event is about, so it is left out); a foreign exception by its type only (its text could hold anything)."""
    if isinstance(err, FetchError):
        return err.message
    return str(err) if isinstance(err, SecretsKitError) else type(err).__name__


def _managed_key_sets(secret: Mapping[str, Any], es_name: str) -> tuple[set[str], set[str], set[str]]:
    keys = managed_keys(secret, es_name)
    return keys.data, keys.labels, keys.annotations


def _apply_template(es: ExternalSecret, existing: Mapping[str, Any] | None, work: dict[str, Any],
                    data_map: Mapping[str, bytes], sources: Mapping[Any, Any], render: Render | None) -> None:
    """applyTemplate on the working Secret {data, labels, annotations, type} (our old keys already removed).

    Without a template this is done here; with one, `template.render` does all of
    applyTemplate (it removes our old keys from `existing` itself) and its result replaces the working
    data, labels, annotations and type."""
    tpl = es.target.template
    if tpl is None:
        work["labels"].update(es.labels)
        work["annotations"].update(es.annotations)
        if es.target.creation_policy != "Merge":
            work["data"] = {}
        work["data"].update(data_map)
        return
    rendered = (render or _default_render())(
        tpl, data_map, sources, es_name=es.name, es_labels=dict(es.labels), es_annotations=dict(es.annotations),
        existing=existing, creation_policy=es.target.creation_policy)
    work["data"] = {k: v.encode("utf-8") if isinstance(v, str) else bytes(v) for k, v in rendered.data.items()}
    work["labels"] = dict(rendered.labels)
    work["annotations"] = dict(rendered.annotations)
    if rendered.type:
        work["type"] = rendered.type


def desired_secret(es: ExternalSecret, existing: Mapping[str, Any] | None, data_map: Mapping[str, bytes],
                   sources: Mapping[Any, Any], render: Render | None = None) -> dict[str, Any]:
    """ESO's mutationFunc applied to a copy of `existing` (or to a new Secret); raises _Refused."""
    creating = existing is None
    secret: dict[str, Any] = copy.deepcopy(dict(existing)) if existing is not None else {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": es.secret_name, "namespace": es.namespace},
    }
    meta = secret.setdefault("metadata", {})
    wrap = "" if creating else f"unable to mutate secret {es.secret_name}: "
    current = _controller_ref(secret)
    owner_is_es = current is not None and _group_kind(current) == ES_GROUP_KIND
    owner_is_this = owner_is_es and current is not None and current.get("name") == es.name
    if owner_is_es and not owner_is_this and current is not None:
        raise _Refused(MSG_ERROR_IS_OWNED,
                       f"{wrap}secret is owned by another ExternalSecret: {current.get('name')}", False)
    ref = {"apiVersion": ES_API_VERSION, "kind": "ExternalSecret", "name": es.name, "uid": es.uid,
           "controller": True, "blockOwnerDeletion": True}
    refs = [dict(r) for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping)]
    if es.target.creation_policy == "Owner":
        if current is not None and not _same_object(current, ref):
            raise _Refused(MSG_ERROR_BECOME_OWNER,
                           f"{wrap}could not set controller reference on secret: Object {es.namespace}/"
                           f"{es.secret_name} is already owned by another {current.get('kind')} controller "
                           f"{current.get('name')}", False)
        for i, r in enumerate(refs):
            if _same_object(r, ref):
                refs[i] = ref
                break
        else:
            refs.append(ref)
    elif owner_is_this:
        refs = [r for r in refs if not _same_object(r, ref)]
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)

    data_keys, label_keys, annotation_keys = _managed_key_sets(secret, es.name) if not creating else (set(), set(),
                                                                                                         set())
    data = {k: v for k, v in decode_data(secret).items() if k not in data_keys}
    labels = {k: v for k, v in _map(meta.get("labels")).items() if k not in label_keys}
    annotations = {k: v for k, v in _map(meta.get("annotations")).items() if k not in annotation_keys}
    work: dict[str, Any] = {"data": data, "labels": labels, "annotations": annotations, "type": secret.get("type")}
    try:
        _apply_template(es, existing, work, data_map, sources, render)
    except Exception as err:
        raise _Refused(MSG_ERROR_UPDATE_SECRET, f"{wrap}could not apply template: {_err_text(err)}", True) from None
    if es.target.immutable:
        secret["immutable"] = True
    if es.target.creation_policy == "Owner":
        work["labels"][LABEL_OWNER] = created_by(es.namespace, es.name)
    else:
        work["labels"].pop(LABEL_OWNER, None)
    work["labels"][LABEL_MANAGED] = LABEL_MANAGED_VALUE
    work["annotations"][ANNOTATION_DATA_HASH] = object_hash(work["data"])
    meta["labels"] = work["labels"]
    meta["annotations"] = work["annotations"]
    secret["data"] = encode_data(work["data"])
    if work.get("type"):
        secret["type"] = work["type"]
    return secret


def _finish(es: ExternalSecret, old_status: Mapping[str, Any], status: dict[str, Any], now: dt.datetime,
            **kw: Any) -> Plan:
    ready = get_condition(status)
    plan = Plan(status=eso_json(status), status_changed=not status_equal(old_status, status), **kw)
    plan.ready = bool(ready and ready.get("status") == "True")
    plan.reason = str(ready.get("reason") or "") if ready else ""
    return plan


def plan(es_obj: Mapping[str, Any], existing_secret: Mapping[str, Any] | None,
         fetched_or_error: Fetched | BaseException, template_sources: Mapping[Any, Any] | None,
         now: dt.datetime, *, render: Render | None = None) -> Plan:
    """The plan for one refresh of `es_obj`, given the Secret named by its target (None if absent), the
    result of `fetch` (or the error it raised) and the templateFrom ConfigMaps/Secrets."""
    old_status = _status(es_obj)
    status = new_status(old_status)
    try:
        # ESO's controller outcome, not its admission webhook's: there is no webhook in front of us
        es = parse_external_secret(es_obj, webhook_checks=False)
    except ConfigError as err:
        event = mark_failed(status, str(err), str(err), now)
        return _finish_raw(old_status, status, events=[event])
    if isinstance(fetched_or_error, BaseException):
        event = mark_failed(status, MSG_ERROR_GET_SECRET_DATA, _err_text(fetched_or_error), now)
        return _finish(es, old_status, status, now, secret_action=None, secret=None, events=[event], retry=True)
    events: list[Event] = list(fetched_or_error.events)
    data_map = fetched_or_error.data
    meta = _meta(es_obj)
    creation, deletion = es.target.creation_policy, es.target.deletion_policy

    def done(reason: str, message: str, **kw: Any) -> Plan:
        mark_done(status, meta, reason, message, now)
        return _finish(es, old_status, status, now, events=events,
                       requeue_after=requeue_seconds(es, now, now), **kw)

    def failed(message: str, text: str, retry: bool, **kw: Any) -> Plan:
        events.append(mark_failed(status, message, text, now))
        return _finish(es, old_status, status, now, events=events, retry=retry, **kw)

    if not data_map:
        if deletion == "Delete":
            if creation != "Owner":
                # ESO's controller outcome and texts (its admission webhook would refuse such an ES outright)
                return failed(MSG_ERROR_DELETE_SECRET, f"unable to delete secret {es.secret_name}: "
                              f"creationPolicy={creation} is not Owner", False, secret_action=None, secret=None)
            if existing_secret is not None:
                events.append(Event("Normal", REASON_DELETED, EVENT_DELETED))
                return done(SECRET_DELETED, MSG_DELETED, secret_action="delete", secret=dict(existing_secret))
            return done(SECRET_DELETED, MSG_DELETED, secret_action=None, secret=None)
        if deletion == "Retain":
            return done(SECRET_SYNCED, MSG_SYNCED_RETAIN, secret_action=None, secret=None)

    if creation == "None":
        return done(SECRET_SYNCED, MSG_SYNCED, secret_action=None, secret=None)
    if creation == "Merge" and existing_secret is None:
        return done(SECRET_MISSING, MSG_MISSING, secret_action=None, secret=None)
    cleanup = ({"namespace": es.namespace, "labels": {LABEL_OWNER: created_by(es.namespace, es.name)},
                "keep": es.secret_name} if creation == "Owner" else None)
    if existing_secret is not None:
        set_binding(status, es.secret_name)
    try:
        desired = desired_secret(es, existing_secret, data_map, template_sources or {}, render)
    except _Refused as refused:
        return failed(refused.message, refused.text, refused.retry, secret_action=None, secret=None,
                      cleanup_orphans=cleanup)
    if existing_secret is None:
        set_binding(status, es.secret_name)
        events.append(Event("Normal", REASON_CREATED, EVENT_CREATED))
        return done(SECRET_SYNCED, MSG_SYNCED, secret_action="create", secret=_create_body(desired),
                    cleanup_orphans=cleanup)
    if semantically_equal(existing_secret, desired):
        return done(SECRET_SYNCED, MSG_SYNCED, secret_action=None, secret=None, cleanup_orphans=cleanup)
    if existing_secret.get("immutable") is True:
        old_meta, new_meta = _meta(existing_secret), _meta(desired)
        text = f"unable to update secret {es.secret_name}: secret is immutable"
        if not semantically_equal(old_meta, new_meta):
            metadata_only = copy.deepcopy(dict(existing_secret))
            metadata_only["metadata"] = copy.deepcopy(dict(new_meta))
            if semantically_equal(metadata_only, desired):
                events.append(Event("Normal", REASON_UPDATED, EVENT_UPDATED))
                return done(SECRET_SYNCED, MSG_SYNCED, secret_action="update", secret=metadata_only,
                            cleanup_orphans=cleanup)
            return failed(MSG_ERROR_UPDATE_IMMUTABLE, text, False, secret_action="update", secret=metadata_only,
                          cleanup_orphans=cleanup)
        return failed(MSG_ERROR_UPDATE_IMMUTABLE, text, False, secret_action=None, secret=None,
                      cleanup_orphans=cleanup)
    events.append(Event("Normal", REASON_UPDATED, EVENT_UPDATED))
    return done(SECRET_SYNCED, MSG_SYNCED, secret_action="update", secret=desired, cleanup_orphans=cleanup)


def _finish_raw(old_status: Mapping[str, Any], status: dict[str, Any], events: list[Event]) -> Plan:
    ready = get_condition(status)
    return Plan(secret_action=None, secret=None, status=eso_json(status),
                status_changed=not status_equal(old_status, status), events=events, ready=False, reason=str((ready or {}).get("reason") or ""))


def _create_body(secret: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in secret["metadata"].items() if v not in (None, {}, [])}
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": secret.get("data") or {}}
    if secret.get("type"):
        body["type"] = secret["type"]
    if secret.get("immutable"):
        body["immutable"] = True
    return body


def write_failed(es_obj: Mapping[str, Any], error_text: str, now: dt.datetime, *,
                 action: str = "update") -> Plan:
    """The status and event after the runtime's write failed (`action`: create, update, delete or
    cleanup_orphans). `error_text` is the API's reason (it names fields, never values). Retry with backoff."""
    old_status = _status(es_obj)
    status = new_status(old_status)
    message = {"delete": MSG_ERROR_DELETE_SECRET, "cleanup_orphans": MSG_ERROR_DELETE_ORPHANED}.get(
        action, MSG_ERROR_UPDATE_SECRET)
    if action == "update":
        spec = _map(es_obj.get("spec"))
        set_binding(status, str(_map(spec.get("target")).get("name") or _meta(es_obj).get("name") or ""))
    event = mark_failed(status, message, error_text, now)
    return Plan(secret_action=None, secret=None, status=eso_json(status),
                status_changed=not status_equal(old_status, status), events=[event], retry=True, ready=False, reason=SECRET_SYNCED_ERROR)
