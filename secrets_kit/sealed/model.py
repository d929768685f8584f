"""The `bitnami.com/v1alpha1` SealedSecret: seal a Secret into one, unseal one back, edit items.

Manifests are plain dicts. The rules follow upstream (`NewSealedSecret`, `Unseal`, kubeseal's
`Seal` and `SealMergingInto`):
- the OAEP label comes from the SealedSecret's **top-level** name, namespace and scope
  annotations; the template never decides it;
- the template gets a copy of the Secret's metadata without server-side fields,
  last-applied annotations and ownerReferences, plus `type` and `immutable`;
- each item is sealed on its own, so one item can be added, replaced or removed without
  touching the others' ciphertexts.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): see EVALUATED_ANNOTATIONS
# in tests/sealed/test_import_budget.py.

import binascii
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import DecryptionError, InputError
from ..k8s.manifests import Manifest, clone
from ..k8s.secrets import (
    b64decode_go,
    b64encode,
    build_secret,
    metadata,
    ordered,
    ordered_meta,
    require_secret,
    secret_items,
    string_map,
)
from .crypto import NO_KEY, Keyring, PrivateKey, hybrid_encrypt
from .scopes import SKIP_OWNER_REFERENCES_ANNOTATION, Scope, encryption_label, scope_of, with_scope

API_VERSION = "bitnami.com/v1alpha1"
KIND = "SealedSecret"
LAST_APPLIED = ("kubectl.kubernetes.io/last-applied-configuration",
                "kubecfg.ksonnet.io/last-applied-configuration")
# Read-only, server-side metadata that kubeseal clears before sealing.
SERVER_FIELDS = ("selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "ownerReferences")
V1_DATA_REFUSED = "using deprecated 'data' field, use 'encryptedData' or flip the feature flag"
V1_DATA_CONFLICT = "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"


# Records are NamedTuples, not dataclasses: importing `dataclasses` (inspect, ast, dis) costs a
# seal's start-up more than the seal itself (issue 10 item 9).
class SealOptions(NamedTuple):
    """How to seal: kubeseal's flags as data."""

    scope: Scope | None = None  # None: as the Secret's annotations say
    name: str | None = None  # overrides metadata.name (kubeseal --name)
    namespace: str | None = None  # fills a missing namespace; with namespace_explicit, must match
    namespace_explicit: bool = False  # -n was given: a different namespace in the input is an error
    namespace_override: str | None = None  # replaces the Secret's namespace (kubeseal --merge-into)
    allow_empty: bool = False


def is_sealed_secret(doc: Manifest) -> bool:
    return doc.get("kind") == KIND and str(doc.get("apiVersion", "")).startswith("bitnami.com/")


def require_sealed_secret(doc: Manifest, where: str) -> None:
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        found = f"{doc.get('apiVersion') or '<no apiVersion>'} {doc.get('kind') or '<no kind>'}"
        raise InputError(f"expected a {API_VERSION} SealedSecret, found {found}", where=where)


def label_of(sealed: Manifest, where: str) -> bytes:
    meta = metadata(sealed, where)
    annotations = string_map(meta.get("annotations"), "metadata.annotations", where)
    return encryption_label(str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                            scope_of(annotations))


def prepare_secret(secret: Manifest, options: SealOptions, where: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Validate a Secret and return (the metadata to seal under, its items); kubeseal's `Seal` checks."""
    require_secret(secret, where)
    items = secret_items(secret, where)
    if not items and not options.allow_empty:
        raise InputError("secret.data is empty in input Secret, assuming this is an error and aborting",
                         where=where, hint="to work with empty data, --allow-empty-data can be used")
    meta = clone(metadata(secret, where))
    annotations = string_map(meta.get("annotations"), "metadata.annotations", where)
    for key in ("annotations", "labels"):  # unquoted YAML numbers and booleans become text
        if meta.get(key) is not None:
            meta[key] = string_map(meta[key], f"metadata.{key}", where)
    if options.name:
        meta["name"] = options.name
    if not meta.get("name") or not isinstance(meta["name"], str):
        raise InputError("missing metadata.name in input Secret", where=where)
    if options.namespace_override:
        meta["namespace"] = options.namespace_override
    if options.scope is not None:
        meta["annotations"] = annotations = with_scope(annotations, options.scope)
    if scope_of(annotations) is not Scope.CLUSTER_WIDE:
        ns = meta.get("namespace")
        if options.namespace_explicit and ns and options.namespace and ns != options.namespace:
            import json  # only for this message: a seal does not load it

            raise InputError(f"namespace mismatch: input secret is in namespace {json.dumps(ns)} "
                             f"but {json.dumps(options.namespace)} was specified", where=where)
        if not ns and options.namespace:
            meta["namespace"] = options.namespace
        if not meta.get("namespace"):
            raise InputError("secret must declare a namespace", where=where,
                             hint="set metadata.namespace or pass -n/--namespace")
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    if isinstance(meta.get("annotations"), dict):
        for key in LAST_APPLIED:  # a full plaintext copy of the Secret: never seal it in the clear
            meta["annotations"].pop(key, None)
        if not meta["annotations"]:
            del meta["annotations"]
    return meta, items


def seal_items(items: Mapping[str, bytes], public_key: rsa.RSAPublicKey, label: bytes) -> dict[str, str]:
    return {key: b64encode(hybrid_encrypt(public_key, items[key], label)) for key in sorted(items)}


def seal_secret(secret: Manifest, public_key: rsa.RSAPublicKey, options: SealOptions | None = None,
                *, where: str = "<input>") -> Manifest:
    """Seal one `v1/Secret` into a SealedSecret (kubeseal's output shape and field order)."""
    return seal_prepared(*prepare_secret(secret, options or SealOptions(), where), secret, public_key)


def seal_prepared(meta: dict[str, Any], items: Mapping[str, bytes], secret: Manifest,
                  public_key: rsa.RSAPublicKey) -> Manifest:
    scope = scope_of(meta.get("annotations"))
    name, ns = meta["name"], meta.get("namespace") or ""
    top: dict[str, Any] = {"name": name}
    if ns:
        top["namespace"] = ns
    scope_annotations = with_scope({}, scope)
    if scope_annotations:
        top["annotations"] = scope_annotations
    template: dict[str, Any] = {"metadata": ordered_meta(meta)}
    if secret.get("type"):
        template["type"] = secret["type"]
    if secret.get("immutable") is not None:
        template["immutable"] = secret["immutable"]
    label = encryption_label(ns, name, scope)
    return {
        "kind": KIND, "apiVersion": API_VERSION, "metadata": top,
        "spec": {"template": template, "encryptedData": seal_items(items, public_key, label)},
    }


def go_field_order(sealed: Manifest) -> Manifest:
    """A copy in the field order of upstream's Go type (how kubeseal encodes a SealedSecret it decoded)."""
    out = ordered(clone(sealed), ("kind", "apiVersion", "metadata", "spec", "status"))
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = ordered_meta(out["metadata"])
    spec = out.get("spec")
    if isinstance(spec, dict):
        spec = out["spec"] = ordered(spec, ("template", "encryptedData", "data"))
        if isinstance(spec.get("encryptedData"), dict):
            spec["encryptedData"] = dict(sorted(spec["encryptedData"].items()))
        template = spec.get("template")
        if isinstance(template, dict):
            template = spec["template"] = ordered(template, ("metadata", "type", "immutable", "data"))
            if isinstance(template.get("metadata"), dict):
                template["metadata"] = ordered_meta(template["metadata"])
            if isinstance(template.get("data"), dict):
                template["data"] = dict(sorted(template["data"].items()))
    return out


# ------------------------------------------------------------------------------------------ unseal


class Unsealed(NamedTuple):
    secret: Manifest
    opened_by: dict[str, str]  # item -> key fingerprint


def _spec(sealed: Manifest, where: str) -> dict[str, Any]:
    spec = sealed.get("spec")
    if not isinstance(spec, dict):
        raise InputError("spec is missing or not a mapping", where=where)
    return spec


def encrypted_data(sealed: Manifest, where: str) -> dict[str, str]:
    data = _spec(sealed, where).get("encryptedData")
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError("spec.encryptedData must map item names to base64 strings", where=where)
    return data


def template_of(sealed: Manifest, where: str) -> dict[str, Any]:
    template = _spec(sealed, where).get("template") or {}
    if not isinstance(template, dict):
        raise InputError("spec.template is not a mapping", where=where)
    return template


def decode_b64(value: str, field_name: str, where: str) -> bytes:
    try:
        return b64decode_go(value)
    except (binascii.Error, ValueError):
        raise InputError(f"{field_name} is not valid base64", where=where) from None


def decrypt_items(sealed: Manifest, keyring: Keyring, where: str) -> tuple[dict[str, bytes], dict[str, PrivateKey]]:
    """Every encryptedData item opened; one error naming every item that failed, grouped by reason."""
    label = label_of(sealed, where)
    plain: dict[str, bytes] = {}
    opened: dict[str, PrivateKey] = {}
    failures: dict[str, list[str]] = {}
    ciphertexts = {item: decode_b64(value, f"encryptedData.{item}", where)
                   for item, value in sorted(encrypted_data(sealed, where).items())}
    for item, ciphertext in ciphertexts.items():
        try:
            plain[item], opened[item] = keyring.decrypt(ciphertext, label)
        except DecryptionError as err:
            failures.setdefault(err.message, []).append(item)
    if failures:
        reason = "; ".join(f"{msg} ({', '.join(items)})" for msg, items in failures.items())
        if NO_KEY in failures:
            hint = _decrypt_hint(sealed, where, keyring, ciphertexts[failures[NO_KEY][0]], label)
        else:
            hint = "the ciphertext is cut short: restore the SealedSecret from version control"
        raise DecryptionError(reason, where=where, hint=hint)
    return plain, opened


def _bound_to(scope: Scope, namespace: str, name: str) -> str:
    if scope is Scope.STRICT:
        return f"namespace/name {namespace}/{name}"
    return f"namespace {namespace}" if scope is Scope.NAMESPACE_WIDE else "any namespace and name (cluster-wide)"


def _sealed_for(sealed: Manifest, where: str, keyring: Keyring, ciphertext: bytes,
                tried: bytes) -> tuple[Scope, str, str] | None:
    """The scope, namespace and name the SealedSecret was sealed for, when its template still records
    them (sealing copies the Secret's metadata there) and they open the item; else None. One guess
    only, so a plain wrong key costs no more private-key operations than it did."""
    meta = metadata(sealed, where)
    tmeta = template_of(sealed, where).get("metadata")
    tmeta = tmeta if isinstance(tmeta, dict) else {}
    tannotations = tmeta.get("annotations")
    scope = scope_of(tannotations if isinstance(tannotations, dict) else None)
    ns = str(tmeta.get("namespace") or meta.get("namespace") or "")
    name = str(tmeta.get("name") or meta.get("name") or "")
    label = encryption_label(ns, name, scope)
    if label == tried:
        return None
    try:
        keyring.decrypt(ciphertext, label)  # the plaintext is dropped at once
    except DecryptionError:
        return None
    return scope, ns, name


def _decrypt_hint(sealed: Manifest, where: str, keyring: Keyring, ciphertext: bytes, label: bytes) -> str:
    meta = metadata(sealed, where)
    scope = scope_of(meta.get("annotations") if isinstance(meta.get("annotations"), dict) else None)
    now = _bound_to(scope, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
    found = _sealed_for(sealed, where, keyring, ciphertext, label)
    if found is not None:
        return (f"it was sealed for {_bound_to(*found)} ({found[0].value} scope), but is now bound to {now}: "
                "give it back that namespace/name and scope, or re-seal it for the new one")
    if scope is Scope.CLUSTER_WIDE:
        return "none of the keys sealed it"
    return f"wrong key, or the SealedSecret was moved or renamed: it is bound to {now}"


def unseal(sealed: Manifest, keyring: Keyring, *, where: str = "<input>", accept_v1_data: bool = True,
           owner_reference: bool = False,
           render: Callable[[str, str, dict[str, str]], str] | None = None) -> Unsealed:
    """The `v1/Secret` a controller would make from `sealed`.

    `owner_reference` adds the controller's ownerReference (kubeseal --recovery-unseal does);
    `render` evaluates `spec.template.data` (default: our Go text/template subset).
    """
    require_sealed_secret(sealed, where)
    spec = _spec(sealed, where)
    meta = metadata(sealed, where)
    name, ns = meta.get("name") or "", meta.get("namespace") or ""
    template = template_of(sealed, where)
    opened_by: dict[str, str] = {}
    if spec.get("data") is None:
        plain, opened = decrypt_items(sealed, keyring, where)
        opened_by = {item: key.fingerprint for item, key in opened.items()}
        template_data = string_map(template.get("data"), "spec.template.data", where)
        if template_data:
            if render is None:
                from .template import render as render_go
                render = render_go
            values = {k: v.decode("utf-8", "replace") for k, v in plain.items()}
            for key in sorted(template_data):
                plain[key] = render(key, template_data[key], values).encode("utf-8")
        tmeta = template.get("metadata") or {}
        if not isinstance(tmeta, dict):
            raise InputError("spec.template.metadata is not a mapping", where=where)
        secret = build_secret(name=name, namespace=ns, items=plain, meta=clone(tmeta),
                              secret_type=template.get("type"), immutable=template.get("immutable"))
    else:
        secret = _unseal_v1(sealed, spec, keyring, where, accept_v1_data, name, ns)
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    if owner_reference and annotations.get(SKIP_OWNER_REFERENCES_ANNOTATION) != "true":
        secret["metadata"]["ownerReferences"] = [{
            "apiVersion": str(sealed.get("apiVersion")), "kind": KIND, "name": name,
            "uid": str(meta.get("uid") or ""), "controller": True,
        }]
        secret["metadata"] = ordered_meta(secret["metadata"])
    return Unsealed(secret, opened_by)


def _unseal_v1(sealed: Manifest, spec: dict[str, Any], keyring: Keyring, where: str, accept: bool,
               name: str, ns: str) -> Manifest:
    """The deprecated v1 format: the whole Secret as one JSON blob in `spec.data`."""
    if not accept:
        raise InputError(V1_DATA_REFUSED, where=where)
    if spec.get("encryptedData"):
        raise InputError(V1_DATA_CONFLICT, where=where)
    if not isinstance(spec["data"], str):
        raise InputError("spec.data is not a base64 string", where=where)
    ciphertext = decode_b64(spec["data"], "spec.data", where)
    plaintext, _ = keyring.decrypt(ciphertext, label_of(sealed, where))
    import json

    try:
        inner = json.loads(plaintext)
    except ValueError:
        raise DecryptionError("spec.data decrypted to something that is not a JSON Secret", where=where) from None
    if not isinstance(inner, dict):
        raise DecryptionError("spec.data decrypted to something that is not a JSON Secret", where=where)
    items = secret_items(inner, where)
    return build_secret(name=name, namespace=ns, items=items, meta=clone(metadata(inner, where)),
                        secret_type=inner.get("type"), immutable=inner.get("immutable"))


# ------------------------------------------------------------------------------------------- edits


def set_items(sealed: Manifest, items: Mapping[str, bytes], public_key: rsa.RSAPublicKey,
              *, where: str = "<input>") -> Manifest:
    """A copy with `items` sealed in (added or replaced); every other ciphertext is kept byte for byte."""
    require_sealed_secret(sealed, where)
    out = clone(sealed)
    data = dict(encrypted_data(out, where))
    data.update(seal_items(items, public_key, label_of(out, where)))
    out["spec"]["encryptedData"] = dict(sorted(data.items()))
    return out


def remove_items(sealed: Manifest, names: list[str], *, where: str = "<input>") -> Manifest:
    require_sealed_secret(sealed, where)
    data = encrypted_data(sealed, where)
    missing = [n for n in names if n not in data]
    if missing:
        raise InputError(f"no such item: {', '.join(missing)}", where=where,
                         hint=f"items are: {', '.join(sorted(data)) or '(none)'}")
    out = clone(sealed)
    out["spec"]["encryptedData"] = {k: v for k, v in sorted(data.items()) if k not in names}
    return out


def merge_into(orig: Manifest, update: Manifest, *, where: str = "<input>") -> Manifest:
    """kubeseal --merge-into: update's items and template annotations, labels and data win."""
    require_sealed_secret(orig, where)
    out = clone(orig)
    spec = _spec(out, where)
    data = dict(encrypted_data(out, where))
    data.update(update["spec"]["encryptedData"])
    spec["encryptedData"] = dict(sorted(data.items()))
    utemplate = update["spec"].get("template") or {}
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {})
    for key in ("annotations", "labels"):
        incoming = (utemplate.get("metadata") or {}).get(key)
        if incoming:
            tmeta[key] = dict(sorted({**(tmeta.get(key) or {}), **incoming}.items()))
    if utemplate.get("data"):
        template["data"] = {**(template.get("data") or {}), **utemplate["data"]}
    return out


class ReencryptResult(NamedTuple):
    sealed: Manifest
    changed: list[str]  # items sealed anew
    current: list[str]  # items already sealed for the target key, kept as they were


class OpenedSealed(NamedTuple):
    """A SealedSecret opened once for re-encryption: its items in plaintext, ready to seal for any target."""

    sealed: Manifest
    where: str
    label: bytes
    plain: dict[str, bytes]
    opened: dict[str, PrivateKey] | None  # item -> the key that opened it; None for a v1 `spec.data` blob


def open_for_reencrypt(sealed: Manifest, keyring: Keyring, *, where: str = "<input>") -> OpenedSealed:
    """Decrypt every item (or the deprecated v1 `spec.data` blob) once; seal it with `reseal_opened`."""
    require_sealed_secret(sealed, where)
    spec = _spec(sealed, where)
    if spec.get("data") is not None:
        secret = _unseal_v1(sealed, spec, keyring, where, True, *_name_ns(sealed, where))
        items = secret_items(secret, where)
        return OpenedSealed(sealed, where, label_of(sealed, where), items, None)
    plain, opened = decrypt_items(sealed, keyring, where)
    return OpenedSealed(sealed, where, label_of(sealed, where), plain, opened)


def reseal_opened(opened: OpenedSealed, public_key: rsa.RSAPublicKey, target_fingerprint: str) -> ReencryptResult:
    """Seal an opened SealedSecret for one target; items the target key already opens keep their ciphertext."""
    sealed, where = opened.sealed, opened.where
    if opened.opened is None:
        spec = _spec(sealed, where)
        out = clone(sealed)
        out["spec"] = ordered({**{k: v for k, v in spec.items() if k != "data"},
                               "encryptedData": seal_items(opened.plain, public_key, opened.label)},
                              ("template", "encryptedData"))
        return ReencryptResult(out, sorted(opened.plain), [])
    data = dict(encrypted_data(sealed, where))
    changed, current = [], []
    for item in sorted(opened.plain):
        if opened.opened[item].fingerprint == target_fingerprint:
            current.append(item)
        else:
            data[item] = b64encode(hybrid_encrypt(public_key, opened.plain[item], opened.label))
            changed.append(item)
    out = clone(sealed)
    out["spec"]["encryptedData"] = data
    return ReencryptResult(out, changed, current)


def _name_ns(sealed: Manifest, where: str) -> tuple[str, str]:
    meta = metadata(sealed, where)
    return str(meta.get("name") or ""), str(meta.get("namespace") or "")
