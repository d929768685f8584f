"""The controller's HTTP API as pure functions: request body in, (status, content type, body) out.

Upstream `pkg/controller/server.go`: `/v1/cert.pem` serves the newest key's certificate (500
`cannot get certificate` without one); `/v1/verify` answers 200 if the posted SealedSecret
unseals, 409 if not, 400 for an unreadable body, 500 for one that is not a single SealedSecret
(multi-document YAML included); `/v1/rotate` answers 200 with the SealedSecret re-sealed for the
newest key as JSON, 500 on any error. Upstream's error bodies are empty; ours say what is wrong in one
line of text, never a value (kubeseal reads only the status code).

Deliberate difference in `/v1/rotate`: upstream replaces a template's metadata that differs from the
top-level metadata by the top-level one, which drops the template's labels and annotations; ours
keeps the template and re-seals only the items, exactly as `secrets-kit kubeseal --re-encrypt` does
offline (items already sealed for the newest key keep their ciphertext).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..errors import SecretsKitError
from ..k8s.manifests import load_documents
from .controller_keys import ControllerKey, newest_key
from .crypto import Keyring
from .diagnose import explain
from .model import API_VERSION, KIND, open_for_reencrypt, reseal_opened, unseal

Response = tuple[int, str, bytes]
PEM = "application/x-pem-file"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
MULTI_DOC = "Multistream YAML not supported yet (see https://github.com/bitnami-labs/sealed-secrets/issues/114)"


def cert_pem(keys: Iterable[ControllerKey], order: str = "CertNotBefore") -> Response:
    """GET /v1/cert.pem: the newest active key's certificate."""
    newest = newest_key(keys, order)
    if newest is None:
        return 500, TEXT, b"cannot get certificate\n"
    return 200, PEM, newest.certificate_pem


def verify(body: bytes, keyring: Keyring, *, accept_v1_data: bool = True) -> Response:
    """POST /v1/verify: 200 if the SealedSecret unseals with our keys, 409 (and why) if not."""
    sealed = _one_sealed_secret(body)
    if isinstance(sealed, tuple):
        return sealed
    try:
        unseal(sealed, keyring, where="request", accept_v1_data=accept_v1_data)
    except SecretsKitError as err:
        return 409, TEXT, (explain(sealed, keyring, err) + "\n").encode()
    return 200, TEXT, b""


def rotate(body: bytes, keyring: Keyring, newest: ControllerKey | None) -> Response:
    """POST /v1/rotate: the SealedSecret re-sealed for `newest`, as JSON."""
    if newest is None:
        return 500, TEXT, b"cannot re-encrypt: the controller has no key to seal with\n"
    sealed = _one_sealed_secret(body)
    if isinstance(sealed, tuple):
        return sealed
    sealed.pop("status", None)
    try:
        opened = open_for_reencrypt(sealed, keyring, where="request")
    except SecretsKitError as err:
        return 500, TEXT, f"error decrypting secret. {explain(sealed, keyring, err)}\n".encode()
    result = reseal_opened(opened, newest.private_key.public_key(), newest.fingerprint)
    return 200, JSON, json.dumps(result.sealed, separators=(",", ":")).encode()


def _one_sealed_secret(body: bytes) -> dict[str, Any] | Response:
    """The request's SealedSecret, or the error response upstream gives for the body."""
    try:
        docs = [d for d in load_documents(body, source="request body") if d is not None]
    except SecretsKitError as err:
        return 500, TEXT, (err.message + "\n").encode()
    if len(docs) > 1:
        return 500, TEXT, (MULTI_DOC + "\n").encode()
    if not docs or not isinstance(docs[0], dict):
        return 500, TEXT, b"the request body holds no SealedSecret\n"
    doc = docs[0]
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        found = f"{doc.get('apiVersion') or '<no apiVersion>'} {doc.get('kind') or '<no kind>'}"
        return 500, TEXT, f"unexpected resource type: {found}\n".encode()
    return doc
