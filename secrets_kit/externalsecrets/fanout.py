"""ClusterExternalSecret → one ExternalSecret per selected namespace, and the CES status
(ESO v0.16.2 pkg/controllers/clusterexternalsecret, utils.GetTargetNamespaces).

- namespaces: `spec.namespaces` (deprecated; by name, i.e. the `kubernetes.io/metadata.name` label), the
  deprecated `spec.namespaceSelector`, and every `spec.namespaceSelectors[]`, ORed, each namespace once.
- the ExternalSecret is named `spec.externalSecretName` or the CES's name; its labels and annotations are
  exactly `spec.externalSecretMetadata`'s, its spec the CES's `externalSecretSpec`, and it has the CES as its
  controller ownerReference (`external-secrets.io/v1`, controller and blockOwnerDeletion true).
- an ExternalSecret of that name not controlled by this CES is left alone and its namespace fails with
  "external secret already exists in namespace"; namespaces no longer selected, and every provisioned
  namespace when the ExternalSecret name changed, lose the ExternalSecret (only one this CES controls).
- status: externalSecretName, provisionedNamespaces (sorted), failedNamespaces (sorted, {namespace, reason}),
  a Ready condition (True, or False "one or more namespaces failed"); requeue after `spec.refreshTime` (1h).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .spec import GROUP, parse_go_duration
from .status import semantic

CES_KIND = "ClusterExternalSecret"
ES_API_VERSION = f"{GROUP}/v1"
METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
MSG_NAMESPACES_FAILED = "one or more namespaces failed"
MSG_ALREADY_EXISTS = "external secret already exists in namespace"
DEFAULT_REQUEUE = 3600.0


def _map(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _where(ces: Mapping[str, Any]) -> str:
    return f"ClusterExternalSecret {_map(ces.get('metadata')).get('name') or ''}"


# ------------------------------------------------------------------------------------ label selectors


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str], *, where: str = "") -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels); a nil selector matches nothing, {} everything."""
    if selector is None:
        return False
    for key, value in _map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for i, raw in enumerate(selector.get("matchExpressions") or []):
        expr = _map(raw)
        key, op, values = str(expr.get("key")), expr.get("operator"), list(expr.get("values") or [])
        if op == "In":
            if not values:
                raise ConfigError("for 'in', 'notin' operators, values set can't be empty",
                                  where=f"{where}: matchExpressions[{i}]")
            if labels.get(key) not in values:
                return False
        elif op == "NotIn":
            if not values:
                raise ConfigError("for 'in', 'notin' operators, values set can't be empty",
                                  where=f"{where}: matchExpressions[{i}]")
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:
            raise ConfigError(f"{op!r} is not a valid label selector operator", where=f"{where}: matchExpressions[{i}]")
    return True


def _ns_labels(ns: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    meta = _map(ns.get("metadata"))
    name = str(meta.get("name") or "")
    labels = {str(k): str(v) for k, v in _map(meta.get("labels")).items()}
    labels.setdefault(METADATA_NAME_LABEL, name)  # the API server sets it on every namespace
    return name, labels


def selectors(ces: Mapping[str, Any]) -> list[Mapping[str, Any] | None]:
    spec = _map(ces.get("spec"))
    out: list[Mapping[str, Any] | None] = [{"matchLabels": {METADATA_NAME_LABEL: n}}
                                           for n in spec.get("namespaces") or []]
    if spec.get("namespaceSelector") is not None:
        out.append(_map(spec["namespaceSelector"]))
    for sel in spec.get("namespaceSelectors") or []:
        out.append(_map(sel) if sel is not None else None)
    return out


def select_namespaces(ces: Mapping[str, Any], namespaces: Iterable[Mapping[str, Any]]) -> list[str]:
    """The target namespaces, in ESO's order (selector by selector, each list sorted by name), once each."""
    items = sorted((_ns_labels(ns) for ns in namespaces), key=lambda t: t[0])
    seen: list[str] = []
    for i, sel in enumerate(selectors(ces)):
        for name, labels in items:
            if name not in seen and selector_matches(sel, labels, where=f"{_where(ces)}: selector {i}"):
                seen.append(name)
    return seen


def namespace_selected(ces: Mapping[str, Any], namespace: Mapping[str, Any]) -> bool:
    """Does a namespace event concern this CES (ESO's findObjectsForNamespace)."""
    _name, labels = _ns_labels(namespace)
    for sel in selectors(ces):
        try:
            if selector_matches(sel, labels):
                return True
        except ConfigError:
            continue
    return False


# ------------------------------------------------------------------------------------ the ExternalSecrets


def external_secret_name(ces: Mapping[str, Any]) -> str:
    return str(_map(ces.get("spec")).get("externalSecretName") or _map(ces.get("metadata")).get("name") or "")


def owner_reference(ces: Mapping[str, Any]) -> dict[str, Any]:
    meta = _map(ces.get("metadata"))
    return {"apiVersion": ES_API_VERSION, "kind": CES_KIND, "name": meta.get("name"), "uid": meta.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def owned_by(es: Mapping[str, Any] | None, ces_name: str) -> bool:
    """isExternalSecretOwnedBy: the ES's controller reference is a ClusterExternalSecret of that name."""
    for ref in _map(_map(es).get("metadata")).get("ownerReferences") or []:
        ref = _map(ref)
        if ref.get("controller") is True:
            api = str(ref.get("apiVersion") or "")
            return (api.split("/", 1)[0] == GROUP and ref.get("kind") == CES_KIND and ref.get("name") == ces_name)
    return False


def external_secret_for(ces: Mapping[str, Any], namespace: str,
                        existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """CreateOrUpdate's mutated object: the existing ES (or a new one) with the CES's metadata and spec."""
    spec = _map(ces.get("spec"))
    meta_src = _map(spec.get("externalSecretMetadata"))
    body: dict[str, Any] = copy.deepcopy(dict(existing)) if existing is not None else {
        "apiVersion": ES_API_VERSION, "kind": "ExternalSecret",
        "metadata": {"name": external_secret_name(ces), "namespace": namespace}}
    meta = body.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        if meta_src.get(key):
            meta[key] = dict(meta_src[key])
        else:
            meta.pop(key, None)
    body["spec"] = copy.deepcopy(_map(spec.get("externalSecretSpec")))
    ref = owner_reference(ces)
    refs = [dict(r) for r in meta.get("ownerReferences") or [] if isinstance(r, Mapping)]
    for i, r in enumerate(refs):
        if r.get("kind") == CES_KIND and str(r.get("apiVersion", "")).split("/", 1)[0] == GROUP \
                and r.get("name") == ref["name"]:
            refs[i] = ref
            break
    else:
        refs.append(ref)
    meta["ownerReferences"] = refs
    return body



# ------------------------------------------------------------------------------------ the plan


@dataclass
class FanoutPlan:
    creates: list[dict[str, Any]] = field(default_factory=list)  # ExternalSecret bodies to POST
    updates: list[dict[str, Any]] = field(default_factory=list)  # full ExternalSecrets to PUT
    deletes: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name): delete if owned_by(...)
    status: dict[str, Any] = field(default_factory=dict)
    status_changed: bool = False
    requeue_after: float = DEFAULT_REQUEUE


def fanout_status(ces: Mapping[str, Any], provisioned: Iterable[str], failed: Mapping[str, str]) -> dict[str, Any]:
    """The CES status after the writes (`failed`: namespace → reason)."""
    old = _map(ces.get("status"))
    status: dict[str, Any] = {"externalSecretName": external_secret_name(ces)}
    failures = [{"namespace": ns, "reason": reason} for ns, reason in sorted(failed.items())]
    if failures:
        status["failedNamespaces"] = failures
    prov = sorted(provisioned)
    if prov:
        status["provisionedNamespaces"] = prov
    cond: dict[str, Any] = {"type": "Ready", "status": "True"} if not failures else {
        "type": "Ready", "status": "False", "message": MSG_NAMESPACES_FAILED}
    others = [dict(c) for c in old.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") != "Ready"]
    status["conditions"] = [*others, cond]
    return status


def plan_fanout(ces: Mapping[str, Any], namespaces: Iterable[Mapping[str, Any]],
                existing: Mapping[str, Mapping[str, Any] | None]) -> FanoutPlan:
    """`namespaces`: every Namespace object; `existing`: namespace → the ExternalSecret named
    `external_secret_name(ces)` there (None or absent if there is none)."""
    meta = _map(ces.get("metadata"))
    ces_name = str(meta.get("name") or "")
    spec = _map(ces.get("spec"))
    old = _map(ces.get("status"))
    out = FanoutPlan()
    if spec.get("refreshTime"):
        try:
            out.requeue_after = parse_go_duration(str(spec["refreshTime"])) / 1e9
        except ValueError as err:
            raise ConfigError(f"{err}: use a Go duration such as 1h", where=f"{_where(ces)}: spec.refreshTime") from None
    es_name = external_secret_name(ces)
    previous = list(old.get("provisionedNamespaces") or [])
    prev_name = old.get("externalSecretName") or ""
    if prev_name != es_name:
        out.deletes.extend((ns, prev_name) for ns in previous if prev_name)
    failed: dict[str, str] = {}
    try:
        targets = select_namespaces(ces, namespaces)
    except ConfigError as err:
        failed["unknown"] = f"failed to convert label selector: {err.message}"
        out.status = fanout_status(ces, [], failed)
        out.status.pop("provisionedNamespaces", None)
        if old.get("provisionedNamespaces"):
            out.status["provisionedNamespaces"] = list(old["provisionedNamespaces"])
        out.status_changed = semantic(out.status) != semantic(old)
        return out
    for ns in previous:
        if ns not in targets:
            out.deletes.append((ns, es_name))
    provisioned = []
    for ns in targets:
        current = existing.get(ns)
        if current is not None and not owned_by(current, ces_name):
            failed[ns] = MSG_ALREADY_EXISTS
            continue
        body = external_secret_for(ces, ns, current)
        if current is None:
            out.creates.append(body)
        elif semantic(body) != semantic(current):
            out.updates.append(body)
        provisioned.append(ns)
    out.status = fanout_status(ces, provisioned, failed)
    out.status_changed = semantic(out.status) != semantic(old)
    return out
