"""Why a SealedSecret does not unseal, in words an operator can act on (never a value).

Upstream says `no key could decrypt secret (item)` and leaves the user guessing (#480, #443, #1364).
This module runs only after an unseal failed, and tells apart:
- an item that is not a string, not base64, or cut short (which item, what is wrong);
- no key opens it under any plausible binding: the fingerprints of the keys tried and of the newest;
- a key opens it, but bound to another scope or to another name/namespace: which one, and the fix.
"Plausible bindings" are the three scopes for the SealedSecret's own name and namespace and for the
name and namespace kubeseal copied into `spec.template.metadata` (a moved or renamed SealedSecret
keeps them there). Each try is one RSA operation per key, paid only on the failure path.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DecryptionError, SecretsKitError
from ..k8s.secrets import b64decode_go
from .crypto import NO_KEY, TOO_SHORT, Keyring, PrivateKey, single_decrypt, split
from .scopes import CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION, Scope, encryption_label, scope_of


@dataclass(frozen=True)
class Binding:
    scope: Scope
    namespace: str
    name: str

    @property
    def label(self) -> bytes:
        return encryption_label(self.namespace, self.name, self.scope)

    def describe(self) -> str:
        if self.scope is Scope.CLUSTER_WIDE:
            return "cluster-wide (any name and namespace)"
        if self.scope is Scope.NAMESPACE_WIDE:
            return f'namespace-wide, namespace "{self.namespace}"'
        return f'strict, bound to "{self.namespace}/{self.name}"'


def binding_of(sealed: Mapping[str, Any]) -> Binding:
    meta = sealed.get("metadata") if isinstance(sealed.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), Mapping) else None
    return Binding(scope_of(annotations), str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _candidates(sealed: Mapping[str, Any], own: Binding) -> list[Binding]:
    """Other bindings worth a try, most likely first; each label once, never the SealedSecret's own."""
    places = [(own.namespace, own.name)]
    spec = sealed.get("spec") if isinstance(sealed.get("spec"), Mapping) else {}
    template = spec.get("template") if isinstance(spec, Mapping) else None
    tmeta = template.get("metadata") if isinstance(template, Mapping) else None
    if isinstance(tmeta, Mapping):
        place = (str(tmeta.get("namespace") or own.namespace), str(tmeta.get("name") or own.name))
        if place != places[0]:
            places.append(place)
    seen = {own.label}
    out = []
    for namespace, name in places:
        for scope in (Scope.STRICT, Scope.NAMESPACE_WIDE, Scope.CLUSTER_WIDE):
            binding = Binding(scope, namespace, name)
            if binding.label not in seen:
                seen.add(binding.label)
                out.append(binding)
    return out


def key_fingerprints(keyring: Keyring) -> list[str]:
    """The keyring's fingerprints in a stable order (newest first when the keyring knows it)."""
    order = getattr(keyring, "by_age", None)
    return list(order) if order else sorted(k.fingerprint for k in keyring)


def _opener(keys: Iterable[PrivateKey], ciphertext: bytes, label: bytes) -> PrivateKey | None:
    for key in keys:
        if single_decrypt(key.key, ciphertext, label) is not None:
            return key
    return None


def _fix(found: Binding, own: Binding) -> str:
    if (found.namespace, found.name) != (own.namespace, own.name) and found.scope is not Scope.CLUSTER_WIDE:
        moved = "moved or renamed" if found.scope is Scope.STRICT else "moved to another namespace"
        return (f"a SealedSecret sealed this way cannot be {moved}: seal it again for "
                f'"{own.namespace}/{own.name}", or give it back its old name and namespace')
    if found.scope is Scope.CLUSTER_WIDE:
        return f'add the annotation {CLUSTER_WIDE_ANNOTATION}: "true" to the SealedSecret\'s metadata, or seal it again'
    if found.scope is Scope.NAMESPACE_WIDE:
        return (f'add the annotation {NAMESPACE_WIDE_ANNOTATION}: "true" to the SealedSecret\'s metadata, '
                "or seal it again")
    return "remove the scope annotation from the SealedSecret's metadata, or seal it again"


def explain_unopened(sealed: Mapping[str, Any], items: Mapping[str, bytes], keyring: Keyring) -> str:
    """Why no key opened `items` (item -> ciphertext, well-formed) under the SealedSecret's binding."""
    own = binding_of(sealed)
    names = ", ".join(sorted(items))
    keys = list(keyring)
    if not keys:
        return f"{NO_KEY} ({names}): the controller has no keys loaded"
    first = items[sorted(items)[0]]
    for candidate in _candidates(sealed, own):
        key = _opener(keys, first, candidate.label)
        if key is not None:
            return (f"{NO_KEY} ({names}): it was sealed {candidate.describe()} (key {key.fingerprint}), "
                    f"but this SealedSecret is {own.describe()}; {_fix(candidate, own)}")
    tried = key_fingerprints(keyring)
    newest = getattr(keyring, "newest", None)
    newest_text = f"; the newest key is {newest}" if newest else ""
    return (f"{NO_KEY} ({names}): none of the {len(tried)} keys opens it (tried {', '.join(tried)}{newest_text}); "
            "it was sealed with another cluster's key or with a key this controller no longer has "
            "(check the key Secrets, or seal it again with `kubeseal --fetch-cert`'s certificate)")


def explain(sealed: Mapping[str, Any], keyring: Keyring, error: SecretsKitError) -> str:
    """The status/event message for an unseal that raised `error`: what failed, where and why."""
    if not isinstance(error, DecryptionError) and "base64" not in error.message:
        return error.message + (f" ({error.hint})" if error.hint else "")
    spec = sealed.get("spec") if isinstance(sealed.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    if spec.get("data") is not None:  # the deprecated v1 blob: one ciphertext
        raw = spec.get("data")
        texts = {"spec.data": raw if isinstance(raw, str) else None}
    else:
        encrypted = spec.get("encryptedData")
        texts = {f"encryptedData.{k}": (v if isinstance(v, str) else None)
                 for k, v in (encrypted.items() if isinstance(encrypted, Mapping) else [])}
    problems: list[str] = []
    unopened: dict[str, bytes] = {}
    label = binding_of(sealed).label
    for field_name in sorted(texts):
        text = texts[field_name]
        if text is None:
            problems.append(f"{field_name} is not a string")
            continue
        try:
            ciphertext = b64decode_go(text)
        except (binascii.Error, ValueError):
            problems.append(f"{field_name} is not valid base64")
            continue
        try:
            split(ciphertext)
        except DecryptionError:
            problems.append(f"{field_name}: {TOO_SHORT} (cut off or not sealed data)")
            continue
        try:
            keyring.decrypt(ciphertext, label)
        except DecryptionError:
            unopened[field_name.split(".", 1)[1] if field_name != "spec.data" else "data"] = ciphertext
    if unopened:
        problems.append(explain_unopened(sealed, unopened, keyring))
    if not problems:  # every ciphertext opens: the failure was after decryption
        return error.message + (f" ({error.hint})" if error.hint else "")
    return "; ".join(problems)


def item_openers(sealed: Mapping[str, Any], keyring: Keyring) -> dict[str, dict[str, Any]]:
    """For each encrypted item: the key that opens it and under which binding, or why none does.

    {item: {"key": fingerprint | None, "keySource": where the key came from, "binding": how it was
    sealed (Binding.describe()) | None, "matchesOwn": bool, "problem": str | None}}. Same cost as
    `explain`: one RSA operation per key and plausible binding, only on request.
    """
    spec = sealed.get("spec") if isinstance(sealed.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    encrypted = spec.get("encryptedData")
    texts = dict(encrypted) if isinstance(encrypted, Mapping) else {}
    if spec.get("data") is not None and not texts:
        texts = {"data": spec.get("data")}
    own = binding_of(sealed)
    keys = list(keyring)
    out: dict[str, dict[str, Any]] = {}
    for item in sorted(texts):
        row: dict[str, Any] = {"key": None, "keySource": None, "binding": None, "matchesOwn": False, "problem": None}
        out[item] = row
        text = texts[item]
        try:
            ciphertext = b64decode_go(text) if isinstance(text, str) else None
        except (binascii.Error, ValueError):
            ciphertext = None
        if ciphertext is None:
            row["problem"] = "not a base64 string"
            continue
        try:
            split(ciphertext)
        except DecryptionError:
            row["problem"] = TOO_SHORT
            continue
        for binding in [own, *_candidates(sealed, own)]:
            key = _opener(keys, ciphertext, binding.label)
            if key is not None:
                row.update(key=key.fingerprint, keySource=key.source, binding=binding.describe(),
                           matchesOwn=binding == own)
                break
        else:
            row["problem"] = f"none of the {len(keys)} keys opens it under any plausible binding"
    return out
