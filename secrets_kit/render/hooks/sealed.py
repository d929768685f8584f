"""Hook: validate every SealedSecret before it reaches the cluster.

Checked without any private key:
- well-formed: `bitnami.com/v1alpha1`, a name, `spec.encryptedData` mapping item names
  to standard base64, each item at least a length prefix plus the RSA block it announces;
- scope consistent with its metadata: no conflicting scope annotations; strict and
  namespace-wide scopes have a namespace (the OAEP label is built from it); a template
  name/namespace equal to the SealedSecret's own; the template's scope annotations (if
  any) equal the top-level ones;
- with a destination certificate: every item's RSA block is exactly the size of that
  key's modulus and, read as a number, smaller than the modulus. That reliably rejects
  items sealed for a key of another size. For another key of the *same* size it is weak:
  a block made for modulus n' is below n' and is caught only if it is >= n, which can
  happen only when n' > n (then with probability (n' - n)/n' per item). RSA-OAEP
  ciphertext does not otherwise reveal its key, so this is all a public-key check can
  do; only the private key proves that an item opens. Items secrets-kit re-sealed carry a
  `secrets-kit.io/sealed-for` annotation with the certificate fingerprint, which is
  compared exactly.
- with private keys (`verify_keys`, e.g. in CI with the cluster's backup keys): every
  item is actually opened, which proves it.
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Callable
from typing import Any

from ...errors import RenderError
from ...k8s.secrets import b64decode_go
from ..model import Manifest, RenderContext, resource_id

SEALED_FOR = "secrets-kit.io/sealed-for"
CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"


def is_sealed_secret(doc: Manifest) -> bool:
    return doc.get("kind") == "SealedSecret" and str(doc.get("apiVersion", "")).startswith("bitnami.com/")


def _scope(annotations: dict[str, Any], where: str) -> str:
    cluster = annotations.get(CLUSTER_WIDE) == "true"
    namespace = annotations.get(NAMESPACE_WIDE) == "true"
    if cluster and namespace:
        raise RenderError("SealedSecret is annotated both cluster-wide and namespace-wide", where=where)
    return "cluster-wide" if cluster else "namespace-wide" if namespace else "strict"


def _mapping(value: Any, field: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RenderError(f"{field} is not a mapping", where=where)
    return value


def validate_one(doc: Manifest, where: str, *, modulus: int | None = None, fingerprint: str | None = None,
                 opener: Callable[[Manifest, str], None] | None = None) -> None:
    if doc.get("apiVersion") != "bitnami.com/v1alpha1":
        raise RenderError(f"unsupported SealedSecret apiVersion {doc.get('apiVersion')!r}", where=where)
    meta = _mapping(doc.get("metadata"), "metadata", where)
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name:
        raise RenderError("SealedSecret has no name", where=where)
    annotations = _mapping(meta.get("annotations"), "metadata.annotations", where)
    scope = _scope(annotations, where)
    if scope != "cluster-wide" and not namespace:
        raise RenderError(f"{scope} SealedSecret has no namespace: it was sealed for one, and the controller "
                          "cannot open it anywhere else", where=where,
                          hint="set metadata.namespace to the namespace it was sealed for")
    spec = _mapping(doc.get("spec"), "spec", where)
    template = _mapping(spec.get("template"), "spec.template", where)
    tmeta = _mapping(template.get("metadata"), "spec.template.metadata", where)
    bound = {"strict": (("name", name), ("namespace", namespace)), "namespace-wide": (("namespace", namespace),),
             "cluster-wide": ()}[scope]
    for field, value in bound:
        if tmeta.get(field) not in (None, "", value):
            raise RenderError(f"spec.template.metadata.{field} differs from metadata.{field}: the SealedSecret "
                              "was renamed or moved after sealing", where=where,
                              hint="re-seal it for its new name/namespace")
    tannotations = _mapping(tmeta.get("annotations"), "spec.template.metadata.annotations", where)
    if any(k in tannotations for k in (CLUSTER_WIDE, NAMESPACE_WIDE)) and _scope(tannotations, where) != scope:
        raise RenderError("the template's scope annotations differ from the SealedSecret's", where=where)
    data = spec.get("encryptedData")
    if spec.get("data") is not None:
        if data:
            raise RenderError("both encryptedData and the deprecated data are set", where=where)
        items = {"(data)": spec["data"]}
    else:
        items = _mapping(data, "spec.encryptedData", where)
        if not items:
            raise RenderError("SealedSecret has no encryptedData", where=where)
    if fingerprint and annotations.get(SEALED_FOR) not in (None, fingerprint):
        raise RenderError(f"sealed for {annotations.get(SEALED_FOR)}, not for the destination certificate "
                          f"{fingerprint}", where=where, hint="re-seal it with the destination cluster's cert")
    for item, value in sorted(items.items()):
        _check_item(str(item), value, where, modulus)
    if opener is not None:
        opener(doc, where)


def _check_item(item: str, value: Any, where: str, modulus: int | None) -> None:
    if not isinstance(value, str):
        raise RenderError(f"encryptedData.{item} is not a string", where=where)
    try:
        raw = b64decode_go(value)
    except (binascii.Error, ValueError):
        raise RenderError(f"encryptedData.{item} is not valid base64", where=where) from None
    if len(raw) < 2:
        raise RenderError(f"encryptedData.{item} is too short", where=where)
    (rsa_len,) = struct.unpack_from(">H", raw)
    if len(raw) < 2 + rsa_len + 16:  # RSA block, then at least the AES-GCM tag
        raise RenderError(f"encryptedData.{item} is truncated", where=where)
    if modulus is not None:
        size = (modulus.bit_length() + 7) // 8
        block = int.from_bytes(raw[2:2 + rsa_len], "big")
        if rsa_len != size or block >= modulus:
            raise RenderError(f"encryptedData.{item} was not sealed for the destination certificate",
                              where=where, hint="re-seal it with the destination cluster's cert")


def validator(*, modulus: int | None = None, fingerprint: str | None = None,
              opener: Callable[[Manifest, str], None] | None = None) -> Callable[[list[Manifest], RenderContext],
                                                                                 list[Manifest]]:
    """The validation hook, bound to an optional destination certificate and key opener."""

    def validate(docs: list[Manifest], ctx: RenderContext) -> list[Manifest]:
        for doc in docs:
            if is_sealed_secret(doc):
                validate_one(doc, str(resource_id(doc)), modulus=modulus, fingerprint=fingerprint, opener=opener)
                ctx.count("sealed_validated")
        return docs

    return validate
