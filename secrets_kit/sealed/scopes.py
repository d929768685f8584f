"""Sealing scopes and the RSA-OAEP label each one binds the ciphertext to.

strict binds to `namespace/name`, namespace-wide to `namespace`, cluster-wide to
nothing (an empty label). The scope is read from annotations whose value must be
exactly "true"; cluster-wide wins over namespace-wide.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from ..errors import InputError

ANNOTATION_PREFIX = "sealedsecrets.bitnami.com/"
CLUSTER_WIDE_ANNOTATION = ANNOTATION_PREFIX + "cluster-wide"
NAMESPACE_WIDE_ANNOTATION = ANNOTATION_PREFIX + "namespace-wide"
MANAGED_ANNOTATION = ANNOTATION_PREFIX + "managed"
PATCH_ANNOTATION = ANNOTATION_PREFIX + "patch"
SKIP_OWNER_REFERENCES_ANNOTATION = ANNOTATION_PREFIX + "skip-set-owner-references"


class Scope(enum.Enum):
    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"

    @classmethod
    def parse(cls, text: str | None) -> Scope:
        """kubeseal's --scope values; empty means the default (strict)."""
        if not text:
            return cls.STRICT
        try:
            return cls(text)
        except ValueError:
            raise InputError(f"unknown scope {text!r}",
                             hint="must be one of: strict, namespace-wide, cluster-wide") from None


def scope_of(annotations: Mapping[str, Any] | None) -> Scope:
    """The scope a manifest's annotations ask for."""
    if not annotations:
        return Scope.STRICT
    if annotations.get(CLUSTER_WIDE_ANNOTATION) == "true":
        return Scope.CLUSTER_WIDE
    if annotations.get(NAMESPACE_WIDE_ANNOTATION) == "true":
        return Scope.NAMESPACE_WIDE
    return Scope.STRICT


def with_scope(annotations: Mapping[str, str] | None, scope: Scope) -> dict[str, str]:
    """A copy of `annotations` that states `scope` (and no other scope)."""
    out = dict(annotations or {})
    out.pop(NAMESPACE_WIDE_ANNOTATION, None)
    out.pop(CLUSTER_WIDE_ANNOTATION, None)
    if scope is Scope.NAMESPACE_WIDE:
        out[NAMESPACE_WIDE_ANNOTATION] = "true"
    elif scope is Scope.CLUSTER_WIDE:
        out[CLUSTER_WIDE_ANNOTATION] = "true"
    return out


def encryption_label(namespace: str, name: str, scope: Scope) -> bytes:
    """The OAEP label: `ns/name` (strict), `ns` (namespace-wide) or empty (cluster-wide)."""
    if scope is Scope.CLUSTER_WIDE:
        return b""
    if scope is Scope.NAMESPACE_WIDE:
        return namespace.encode("utf-8")
    return f"{namespace}/{name}".encode()
