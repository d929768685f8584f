"""What makes a SealedSecret valid, checked without a private key (`check`) or with one (`verify`).

The render hook checks every SealedSecret before it reaches a cluster; the controller's `/v1/verify`
asks whether its keys open one. Without a key:
- well-formed: `bitnami.com/v1alpha1`, a name, `spec.encryptedData` mapping item names to standard
  base64, each item a length prefix, the RSA block it announces and at least an AES-GCM tag;
- scope consistent with its metadata: no conflicting scope annotations; strict and namespace-wide
  scopes have a namespace (the OAEP label is built from it); a template name/namespace equal to the
  SealedSecret's own; the template's scope annotations (if any) equal the top-level ones;
- with a destination certificate's modulus: every RSA block is exactly the modulus's size and, read
  as a number, below it. That reliably rejects items sealed for a key of another size. For another
  key of the *same* size it is weak: a block made for modulus n' is below n' and is caught only if
  it is >= n, which can happen only when n' > n (then with probability (n' - n)/n' per item).
  RSA-OAEP ciphertext does not otherwise reveal its key; only the private key proves that an item
  opens. Items secrets-kit re-sealed carry a SEALED_FOR annotation with the certificate
  fingerprint, which is compared exactly.
Messages name fields and items, never a value.
"""

from __future__ import annotations

import binascii
from typing import Any

from ..errors import DecryptionError, InputError
from ..k8s.manifests import Manifest
from ..k8s.secrets import b64decode_go
from .crypto import Keyring, split
from .model import API_VERSION, decrypt_items, unseal
from .scopes import CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION, Scope, scope_of

# Set by secrets-kit's re-seal on what it seals: the fingerprint of the certificate it sealed for.
SEALED_FOR = "secrets-kit.io/sealed-for"
GCM_TAG_BYTES = 16
RESEAL_HINT = "re-seal it with the destination cluster's cert"


class InvalidSealedSecret(InputError):
    """A SealedSecret that no controller could turn into a Secret, found without a private key."""


class UndecryptableSealedSecret(DecryptionError):
    """A well-formed SealedSecret that the given keys do not open (wrong key, or renamed or moved)."""


def _mapping(value: Any, field: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSealedSecret(f"{field} is not a mapping", where=where)
    return value


def declared_scope(annotations: dict[str, Any], where: str) -> Scope:
    """The scope the annotations declare; both scope annotations at once is an error (upstream picks one)."""
    if annotations.get(CLUSTER_WIDE_ANNOTATION) == "true" and annotations.get(NAMESPACE_WIDE_ANNOTATION) == "true":
        raise InvalidSealedSecret("SealedSecret is annotated both cluster-wide and namespace-wide", where=where)
    return scope_of(annotations)


def check_ciphertext(item: str, value: Any, where: str, modulus: int | None = None) -> None:
    """One encryptedData item: base64 of a length-prefixed RSA block and an AES-GCM part (with its tag)."""
    if not isinstance(value, str):
        raise InvalidSealedSecret(f"encryptedData.{item} is not a string", where=where)
    try:
        raw = b64decode_go(value)
    except (binascii.Error, ValueError):
        raise InvalidSealedSecret(f"encryptedData.{item} is not valid base64", where=where) from None
    if len(raw) < 2:
        raise InvalidSealedSecret(f"encryptedData.{item} is too short", where=where)
    try:
        rsa_block, aes_part = split(raw)
    except DecryptionError:
        rsa_block, aes_part = b"", b""
    if not rsa_block or len(aes_part) < GCM_TAG_BYTES:
        raise InvalidSealedSecret(f"encryptedData.{item} is truncated", where=where)
    if modulus is not None:
        size = (modulus.bit_length() + 7) // 8
        if len(rsa_block) != size or int.from_bytes(rsa_block, "big") >= modulus:
            raise InvalidSealedSecret(f"encryptedData.{item} was not sealed for the destination certificate",
                                      where=where, hint=RESEAL_HINT)


def check(doc: Manifest, where: str, *, modulus: int | None = None, fingerprint: str | None = None) -> None:
    """Every rule a SealedSecret must meet without a private key; InvalidSealedSecret names the first broken."""
    if doc.get("apiVersion") != API_VERSION:
        raise InvalidSealedSecret(f"unsupported SealedSecret apiVersion {doc.get('apiVersion')!r}", where=where)
    meta = _mapping(doc.get("metadata"), "metadata", where)
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name:
        raise InvalidSealedSecret("SealedSecret has no name", where=where)
    annotations = _mapping(meta.get("annotations"), "metadata.annotations", where)
    scope = declared_scope(annotations, where)
    if scope is not Scope.CLUSTER_WIDE and not namespace:
        raise InvalidSealedSecret(f"{scope.value} SealedSecret has no namespace: it was sealed for one, and the "
                                  "controller cannot open it anywhere else", where=where,
                                  hint="set metadata.namespace to the namespace it was sealed for")
    spec = _mapping(doc.get("spec"), "spec", where)
    template = _mapping(spec.get("template"), "spec.template", where)
    tmeta = _mapping(template.get("metadata"), "spec.template.metadata", where)
    bound = {Scope.STRICT: (("name", name), ("namespace", namespace)),
             Scope.NAMESPACE_WIDE: (("namespace", namespace),), Scope.CLUSTER_WIDE: ()}[scope]
    for field, value in bound:
        if tmeta.get(field) not in (None, "", value):
            raise InvalidSealedSecret(f"spec.template.metadata.{field} differs from metadata.{field}: the "
                                      "SealedSecret was renamed or moved after sealing", where=where,
                                      hint="re-seal it for its new name/namespace")
    tannotations = _mapping(tmeta.get("annotations"), "spec.template.metadata.annotations", where)
    if (any(k in tannotations for k in (CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION))
            and declared_scope(tannotations, where) is not scope):
        raise InvalidSealedSecret("the template's scope annotations differ from the SealedSecret's", where=where)
    data = spec.get("encryptedData")
    if spec.get("data") is not None:
        if data:
            raise InvalidSealedSecret("both encryptedData and the deprecated data are set", where=where)
        items = {"(data)": spec["data"]}
    else:
        items = _mapping(data, "spec.encryptedData", where)
        if not items:
            raise InvalidSealedSecret("SealedSecret has no encryptedData", where=where)
    if fingerprint and annotations.get(SEALED_FOR) not in (None, fingerprint):
        raise InvalidSealedSecret(f"sealed for {annotations.get(SEALED_FOR)}, not for the destination "
                                  f"certificate {fingerprint}", where=where, hint=RESEAL_HINT)
    for item, value in sorted(items.items()):
        check_ciphertext(str(item), value, where, modulus)


def verify(sealed: Manifest, keyring: Keyring, *, where: str = "<input>") -> None:
    """Whether `keyring` opens `sealed` (the controller's /v1/verify): InvalidSealedSecret when it is
    malformed, UndecryptableSealedSecret when no key opens an item. Plaintext is dropped at once."""
    check(sealed, where)
    try:
        if _mapping(sealed.get("spec"), "spec", where).get("data") is not None:
            unseal(sealed, keyring, where=where)  # the deprecated v1 blob: one ciphertext, the whole Secret
        else:
            decrypt_items(sealed, keyring, where)
    except UndecryptableSealedSecret:
        raise
    except DecryptionError as err:
        raise UndecryptableSealedSecret(err.message, where=err.where, hint=err.hint) from None
