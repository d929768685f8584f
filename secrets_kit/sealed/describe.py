"""Why a SealedSecret is or is not synced, from what the cluster holds (pure; `operator describe`).

Inputs: the SealedSecret, the Secret of the same name (None: absent), its events, the controller's key
Secrets when the caller may read them (None: not readable), and now. With the keys, each item is tried
(diagnose.item_openers): which key opens it and under which scope, so "no key could decrypt" becomes
"sealed for another cluster" or "sealed strict for another name". The report holds names, fingerprints,
conditions, event texts and key names of the Secret, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..k8s.report import condition_view, owner_view, warnings
from .controller_keys import decryption_keyring, load_key_secrets, newest_key
from .crypto import NO_KEY
from .diagnose import binding_of, item_openers

MANAGED = "sealedsecrets.bitnami.com/managed"
PATCH = "sealedsecrets.bitnami.com/patch"
SKIP_OWNER = "sealedsecrets.bitnami.com/skip-set-owner-references"


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _synced(sealed: Mapping[str, Any]) -> dict[str, Any] | None:
    for cond in _map(sealed.get("status")).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Synced":
            return dict(cond)
    return None


def _reason(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _keys(sealed: Mapping[str, Any], key_secrets: Sequence[Mapping[str, Any]] | None,
          controller_namespace: str, try_keys: bool) -> dict[str, Any]:
    if key_secrets is None:
        return {"readable": False, "controllerNamespace": controller_namespace, "available": [], "newest": None,
                "items": {}, "problems": []}
    load = load_key_secrets(key_secrets)
    ring = decryption_keyring(load.keys)
    newest = newest_key(load.keys)
    return {
        "readable": True, "controllerNamespace": controller_namespace,
        "available": [{"name": k.secret_name, "fingerprint": k.fingerprint, "state": k.state} for k in load.keys],
        "newest": newest.fingerprint if newest else None,
        "items": item_openers(sealed, ring) if load.keys and try_keys else {},
        "problems": [p.reason for p in load.problems],
    }


def _secret(sealed: Mapping[str, Any], secret: Mapping[str, Any] | None) -> dict[str, Any]:
    meta = _meta(sealed)
    name = str(meta.get("name") or "")
    if secret is None:
        return {"name": name, "exists": False}
    annotations = _map(_meta(secret).get("annotations"))
    return {"name": name, "exists": True, "type": secret.get("type") or "Opaque",
            "keys": sorted(_map(secret.get("data"))), "immutable": bool(secret.get("immutable")),
            "owner": owner_view(secret, "SealedSecret", str(meta.get("uid") or ""), name),
            "managedAnnotation": annotations.get(MANAGED) == "true",
            "patchAnnotation": annotations.get(PATCH) == "true"}


def _unseal_reason(message: str, keys: dict[str, Any], own: str) -> dict[str, str]:
    items = keys["items"]
    wrong_scope = [i for i, row in items.items() if row["key"] and not row["matchesOwn"]]
    unopened = [i for i, row in items.items() if row["problem"] and "keys opens" in row["problem"]]
    malformed = [i for i, row in items.items() if row["problem"] and "keys opens" not in row["problem"]]
    if malformed:
        return _reason("malformed", "items not sealed data: " + ", ".join(
            f'{i} ({items[i]["problem"]})' for i in malformed))
    if wrong_scope:
        row = items[wrong_scope[0]]
        return _reason("wrong-scope", f"{', '.join(wrong_scope)}: sealed {row['binding']} (key {row['key']}), "
                                      f"but this SealedSecret is {own}: seal it again for its name and namespace, "
                                      "or fix its scope annotation")
    if unopened:
        return _reason("unknown-key", f"{', '.join(unopened)}: none of the controller's "
                                      f"{len(keys['available'])} keys opens it: sealed with another cluster's key "
                                      "or a key the controller no longer has")
    if NO_KEY in message or "could not decrypt" in message:
        code = "unknown-key" if "none of the" in message else "unseal-failed"
        return _reason(code, message)
    if "base64" in message or "too short" in message or "not a string" in message:
        return _reason("malformed", message)
    return _reason("unseal-failed", message)


def describe_sealed_secret(sealed: Mapping[str, Any], secret: Mapping[str, Any] | None,
                           events: Sequence[Mapping[str, Any]], key_secrets: Sequence[Mapping[str, Any]] | None, *,
                           controller_namespace: str, try_keys: bool | None = None) -> dict[str, Any]:
    """The report for one SealedSecret; `synced` is False with `reasons`. `try_keys`: try each item with
    the keys (an RSA operation per key and item; default: only when it is not Synced)."""
    meta = _meta(sealed)
    name = str(meta.get("name") or "")
    cond = _synced(sealed)
    if try_keys is None:
        try_keys = cond is None or cond.get("status") != "True"
    keys = _keys(sealed, key_secrets, controller_namespace, try_keys)
    info = _secret(sealed, secret)
    warns = warnings(events)
    reasons: list[dict[str, str]] = []
    notes: list[str] = []
    message = str((cond or {}).get("message") or "")
    latest = str(warns[0]["message"]) if warns else ""
    owner = info.get("owner")
    foreign = info["exists"] and not (owner and owner["isThis"]) and not info["managedAnnotation"] \
        and not info["patchAnnotation"]
    if cond is None:
        reasons.append(_reason("never-synced", "no Synced condition: no controller has unsealed it yet (is one "
                                               "running and watching this namespace? --update-status=false "
                                               "writes none)"))
    elif cond.get("status") != "True":
        if "already exists and is not managed" in message + latest or (foreign and "failed update" in message):
            reasons.append(_reason("secret-not-owned", f'Secret "{name}" exists and is not managed by this '
                                                       "SealedSecret: delete it, or annotate it "
                                                       f'{MANAGED}: "true" to let the controller take it over'))
        elif "immutable" in message + latest:
            reasons.append(_reason("secret-immutable", f'Secret "{name}" is immutable and its data would change: '
                                                       "delete it (it is re-created) or drop template.immutable"))
        else:
            reasons.append(_unseal_reason(message or latest, keys, binding_of(sealed).describe()))
    else:
        if not info["exists"]:
            reasons.append(_reason("secret-missing", f'Secret "{name}" does not exist: the controller re-creates it '
                                                     "(unless it runs with --skip-recreate)"))
        elif foreign:
            skip = _map(_map(_map(sealed.get("spec")).get("template")).get("metadata")).get("annotations")
            if _map(skip).get(SKIP_OWNER) != "true":
                notes.append(f'Secret "{name}" has no ownerReference to this SealedSecret')
    generation = meta.get("generation")
    observed = _map(sealed.get("status")).get("observedGeneration")
    if cond is not None and generation is not None and observed is not None and observed != generation:
        notes.append(f"spec changed since the last unseal (generation {generation}, observed {observed})")
    if keys["readable"] and not keys["available"]:
        notes.append(f"no usable key Secrets in {controller_namespace}: is the controller's namespace right?")
    elif not keys["readable"]:
        notes.append(f"the key Secrets in {controller_namespace} are not readable: which key opens each item "
                     "is not known (give --controller-namespace, or RBAC to read them)")
    return {
        "kind": "SealedSecret", "namespace": meta.get("namespace"), "name": name,
        "synced": not reasons, "reasons": reasons, "notes": notes, "condition": condition_view(cond),
        "scope": binding_of(sealed).describe(),
        "lastError": (message or latest or None) if cond is None or cond.get("status") != "True" else None,
        "warnings": warns, "keys": keys, "secret": info,
    }
