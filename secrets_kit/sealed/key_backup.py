"""Back up and restore the controller's key Secrets (pure: the runtime reads and writes them).

A backup is a `kind: List` of the key Secrets, shaped like
`kubectl get secret -n NS -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` but without the
fields the API server sets (uid, resourceVersion, managedFields, ...), so the file applies as it is
to another cluster. Restoring decides, per Secret, whether to create it, leave an equal one, or refuse:
a different key under the same name is never overwritten (it may open SealedSecrets the backup's key
cannot), and the same key under another name is not added twice.
Summaries name Secrets and certificate fingerprints only, never key material.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, KeyMaterialError
from ..k8s.manifests import expand_lists
from ..k8s.secrets import ordered_meta
from .controller_keys import TLS_CRT, TLS_KEY, ControllerKey, KeyLoad, format_time, load_key_secrets
from .keys import KEY_LABEL, KEY_PREFIX

# What a Secret keeps in a backup: who it is and what it holds, not its life on one API server.
_KEPT_META = ("name", "namespace", "labels", "annotations")


@dataclass(frozen=True)
class KeyInfo:
    """One key Secret as a person reads it: never the key itself."""

    name: str
    fingerprint: str
    state: str  # the sealed-secrets-key label: active, compromised, or "" for the legacy Secret
    not_before: str
    not_after: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "fingerprint": self.fingerprint, "state": self.state,
                "notBefore": self.not_before, "notAfter": self.not_after}


def key_info(key: ControllerKey) -> KeyInfo:
    from .certs import load_cert

    cert = load_cert(key.certificate_pem, key.secret_name)
    return KeyInfo(key.secret_name, key.fingerprint, key.state, format_time(cert.not_before),
                   format_time(cert.not_after))


def is_key_secret(secret: Mapping[str, Any], prefix: str = KEY_PREFIX) -> bool:
    """Labelled sealed-secrets-key (any value: a `compromised` key still opens), or the legacy `<prefix>`."""
    meta = secret.get("metadata") if isinstance(secret.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    assert isinstance(labels, Mapping)
    return KEY_LABEL in labels or meta.get("name") == prefix


def portable(secret: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
    """The Secret without server-set fields; `namespace` moves it (restore into another namespace)."""
    meta_in = secret.get("metadata") if isinstance(secret.get("metadata"), Mapping) else {}
    assert isinstance(meta_in, Mapping)
    meta = {k: meta_in[k] for k in _KEPT_META if meta_in.get(k)}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    meta.pop("annotations", None)
    if annotations:
        meta["annotations"] = annotations
    if namespace is not None:
        meta["namespace"] = namespace
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": ordered_meta(meta)}
    out["type"] = secret.get("type") or "kubernetes.io/tls"
    out["data"] = dict(secret.get("data") or {})
    return out


def backup_list(secrets: Iterable[Mapping[str, Any]], *, prefix: str = KEY_PREFIX) -> dict[str, Any]:
    """The key Secrets among `secrets`, oldest first, as one `kind: List`."""
    chosen = [s for s in secrets if is_key_secret(s, prefix)]
    chosen.sort(key=lambda s: (str((s.get("metadata") or {}).get("creationTimestamp") or ""),
                               str((s.get("metadata") or {}).get("name") or "")))
    return {"apiVersion": "v1", "kind": "List", "items": [portable(s) for s in chosen]}


def _label(secret: Mapping[str, Any]) -> str:
    return str(((secret.get("metadata") or {}).get("labels") or {}).get(KEY_LABEL) or "")


def summarize(secrets: Iterable[Mapping[str, Any]], *, prefix: str = KEY_PREFIX) -> tuple[list[KeyInfo], list[str]]:
    """(the key Secrets that parse, oldest first; problems with the others) — for what a command prints."""
    infos, problems = [], []
    for secret in backup_list(secrets, prefix=prefix)["items"]:
        load = _load_one(secret, prefix)
        if load.problems:
            problems += [p.reason for p in load.problems]
        else:
            info = key_info(load.keys[0])
            infos.append(KeyInfo(info.name, info.fingerprint, _label(secret), info.not_before, info.not_after))
    return infos, problems


def read_backup(docs: Iterable[Mapping[str, Any]], source: str, *, prefix: str = KEY_PREFIX) -> list[dict[str, Any]]:
    """The key Secrets of a backup file (a List, or Secret documents); each must hold a usable key."""
    items = list(expand_lists(dict(d) for d in docs))
    if not items:
        raise InputError("no Secrets in the backup", where=source)
    out = []
    for index, item in enumerate(items, start=1):
        name = str((item.get("metadata") or {}).get("name") or "")
        if item.get("kind") != "Secret" or not name:
            raise InputError(f"item {index} is not a named Secret", where=source)
        if not is_key_secret(item, prefix):
            raise InputError(f"Secret {name} is not a sealing key Secret (no {KEY_LABEL} label)", where=source)
        load = _load_one(item, prefix)
        if load.problems:
            raise KeyMaterialError(load.problems[0].reason, where=source)
        out.append(item)
    return out


@dataclass(frozen=True)
class RestoreStep:
    name: str
    action: str  # "create" | "unchanged" | "present" (same key under another name) | "conflict"
    fingerprint: str
    detail: str = ""
    body: dict[str, Any] | None = None  # the Secret to create (action "create")

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "action": self.action, "fingerprint": self.fingerprint, "detail": self.detail}


def _material(secret: Mapping[str, Any]) -> tuple[str, str]:
    data = secret.get("data") if isinstance(secret.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    return str(data.get(TLS_KEY) or ""), str(data.get(TLS_CRT) or "")


def _load_one(secret: Mapping[str, Any], prefix: str) -> KeyLoad:
    # Parsed whatever its label says (a retired key is backed up and restored too), and without its
    # resourceVersion: parsed afresh, never mixed into the runtime's parse cache.
    meta = {k: v for k, v in (secret.get("metadata") or {}).items() if k != "resourceVersion"}
    meta["labels"] = {**(meta.get("labels") or {}), KEY_LABEL: "active"}
    return load_key_secrets([{**secret, "metadata": meta}], prefix=prefix)


def _fingerprint(secret: Mapping[str, Any], prefix: str) -> str:
    load = _load_one(secret, prefix)
    return load.keys[0].fingerprint if load.keys else ""


def plan_restore(backup: Iterable[Mapping[str, Any]], existing: Iterable[Mapping[str, Any]], namespace: str, *,
                 prefix: str = KEY_PREFIX) -> list[RestoreStep]:
    """What restoring `backup` into `namespace` (holding the Secrets `existing`) does, Secret by Secret."""
    by_name = {str((s.get("metadata") or {}).get("name")): s for s in existing}
    present_fps: dict[str, str] = {}
    for secret in by_name.values():
        if is_key_secret(secret, prefix):
            fp = _fingerprint(secret, prefix)
            if fp:
                present_fps.setdefault(fp, str(secret["metadata"]["name"]))
    steps = []
    for item in backup:
        name = str(item["metadata"]["name"])
        fp = _fingerprint(item, prefix)
        current = by_name.get(name)
        if current is not None:
            if _material(current) == _material(item):
                steps.append(RestoreStep(name, "unchanged", fp, "already there with this key"))
            else:
                held = _fingerprint(current, prefix) or "no readable key"
                steps.append(RestoreStep(name, "conflict", fp,
                                         f"Secret {namespace}/{name} exists with another key ({held}); "
                                         "not overwritten"))
        elif fp in present_fps:
            steps.append(RestoreStep(name, "present", fp, f"this key is already there as {present_fps[fp]}"))
        else:
            steps.append(RestoreStep(name, "create", fp, body=portable(item, namespace)))
            present_fps[fp] = name
    return steps


def backup_header(now: dt.datetime) -> str:
    """A YAML comment above the List: what the file is and how to keep it."""
    return (f"# sealing keys backed up {format_time(now)} by `secrets-kit operator keys backup`.\n"
            "# PRIVATE KEYS: they open every SealedSecret sealed for these certificates. Keep this file\n"
            "# out of Git, encrypted at rest; restore with `secrets-kit operator keys restore FILE`.\n")
