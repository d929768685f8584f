"""Zero-plaintext mode: re-seal decrypted Secrets for the destination cluster, stably.

Sealing is randomised (a fresh AES key and a random OAEP seed per item), so sealing the
same Secret twice gives two different SealedSecrets, and a reconciler would see a change
on every render. The render step therefore seals *deterministically under a secret key*:

    t           = HMAC-SHA512(reseal key, "secrets-kit reseal v1" | cert fingerprint | label | item | value)
    session key = t[0:32]      OAEP seed = t[32:64]

and then produces exactly the upstream format (uint16 length, RSA-OAEP-SHA256 of the
session key with the scope label, AES-256-GCM with the zero nonce). Any controller opens
it like any other SealedSecret. Unchanged input gives byte-identical output across runs,
processes and replicas that share the reseal key; a changed value, name, namespace, scope
or certificate gives a fresh ciphertext.

The HMAC input is unambiguous (a domain string, then every field with a 64-bit length
prefix) and binds everything the ciphertext depends on: the destination key (its SSH
SHA-256 fingerprint, so a re-issued certificate for the same key keeps the ciphertext and
a new key changes it), the scope label (namespace/name, namespace, or empty), the item
name, and the plaintext itself (HMAC is a PRF, so feeding it the value is at least as
good as feeding it the value's hash, and nothing about the value is stored).

Why this is safe:
- AES-GCM with the fixed zero nonce is only safe if each key encrypts exactly one
  message. The session key is a PRF output of (key, label, item, value) under a secret
  key, so two different plaintexts get two independent keys (a collision is a 2^-256
  event); the same key only ever re-encrypts the same plaintext, which reproduces the same
  bytes and reveals nothing new. The OAEP seed is the other, independent half of the PRF
  output, so the RSA block is as unpredictable as a random one to anyone without the key;
- without the reseal key nobody can recompute t, so nobody can test a guessed value
  against a SealedSecret (an HMAC keyed from the *public* certificate would allow exactly
  that, which is why the key must be secret). Anyone who holds the reseal key *can* test
  guesses offline, so it must be guarded like a decryption key (mount it from a Secret,
  0600 on disk) and rotated (which re-seals everything once) if it leaks;
- what leaks is equality of (key, label, item, value): the same value in the same item
  seals to the same bytes every time, which is the point, and a value that changes back
  to an earlier one shows the earlier ciphertext again. Equal values in different items,
  Secrets, scopes or clusters do not look alike. The length of a value shows, exactly as
  in every upstream SealedSecret (AES-GCM adds a fixed 16 bytes).
Nothing is stored: no cache file, no plaintext hash on disk. The only state is the reseal
key itself.

The reseal key comes from `--reseal-key FILE`, `SECRETS_KIT_RESEAL_KEY_FILE` or
`SECRETS_KIT_RESEAL_KEY` (base64), else from a 0600 state file created on first use
(`$SECRETS_KIT_STATE_DIR`, default `$XDG_STATE_HOME/secrets-kit` or
`~/.local/state/secrets-kit`). Replicas must share it (mount one Secret into every
repo-server sidecar), or each one seals differently.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import KeyMaterialError, RenderError
from ..sealed.validate import SEALED_FOR
from .model import Manifest

KEY_BYTES = 32
CARRIED_ANNOTATIONS = ("argocd.argoproj.io/", "helm.sh/hook")
DOMAIN = b"secrets-kit reseal v1"
_HASH = hashlib.sha256
_HLEN = 32


def _mgf1(seed: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += _HASH(seed + struct.pack(">I", counter)).digest()
        counter += 1
    return bytes(out[:length])


def oaep_encrypt(public_key: rsa.RSAPublicKey, message: bytes, label: bytes, seed: bytes) -> bytes:
    """RSAES-OAEP-ENCRYPT (RFC 8017 §7.1.1) with SHA-256 and MGF1-SHA-256, seed supplied by the caller."""
    numbers = public_key.public_numbers()
    k = (numbers.n.bit_length() + 7) // 8
    if len(seed) != _HLEN:
        raise ValueError("OAEP seed must be 32 bytes")
    if len(message) > k - 2 * _HLEN - 2:
        raise KeyMaterialError("RSA key too small for OAEP-SHA256 with this message")
    db = _HASH(label).digest() + bytes(k - len(message) - 2 * _HLEN - 2) + b"\x01" + message
    masked_db = bytes(a ^ b for a, b in zip(db, _mgf1(seed, k - _HLEN - 1), strict=True))
    masked_seed = bytes(a ^ b for a, b in zip(seed, _mgf1(masked_db, _HLEN), strict=True))
    encoded = int.from_bytes(b"\x00" + masked_seed + masked_db, "big")
    return pow(encoded, numbers.e, numbers.n).to_bytes(k, "big")


def _field(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


def deterministic_seal_item(public_key: rsa.RSAPublicKey, fingerprint: str, reseal_key: bytes, label: bytes,
                            item: str, plaintext: bytes) -> bytes:
    """One item in the upstream hybrid format, deterministic under `reseal_key`."""
    mac = hmac.new(reseal_key, DOMAIN + _field(fingerprint.encode()) + _field(label) + _field(item.encode())
                   + _field(plaintext), hashlib.sha512).digest()
    session_key, seed = mac[:32], mac[32:]
    wrapped = oaep_encrypt(public_key, session_key, label, seed)
    return struct.pack(">H", len(wrapped)) + wrapped + AESGCM(session_key).encrypt(bytes(12), plaintext, None)


# ----------------------------------------------------------------------------------- the key


def state_dir() -> Path:
    if os.environ.get("SECRETS_KIT_STATE_DIR"):
        return Path(os.environ["SECRETS_KIT_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "secrets-kit"


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError("reseal key is not base64", where=where) from None
    if len(key) < KEY_BYTES:
        raise KeyMaterialError(f"reseal key must be at least {KEY_BYTES} bytes", where=where)
    return key


def read_key_file(path: Path) -> bytes:
    try:
        return _decode_key(path.read_text(), str(path))
    except OSError as ex:
        raise KeyMaterialError(f"cannot read the reseal key: {ex.strerror}", where=str(path)) from None


def new_key_text() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def write_key_file(path: Path) -> bytes:
    """Create a new key file (0600), or read the one another process created first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key_file(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(new_key_text() + "\n")
    return read_key_file(path)


def load_reseal_key(explicit: Path | None = None) -> tuple[bytes, str]:
    """(key, where it came from)."""
    if explicit is not None:
        return read_key_file(explicit), str(explicit)
    if os.environ.get("SECRETS_KIT_RESEAL_KEY_FILE"):
        path = Path(os.environ["SECRETS_KIT_RESEAL_KEY_FILE"])
        return read_key_file(path), str(path)
    if os.environ.get("SECRETS_KIT_RESEAL_KEY"):
        return _decode_key(os.environ["SECRETS_KIT_RESEAL_KEY"], "SECRETS_KIT_RESEAL_KEY"), "SECRETS_KIT_RESEAL_KEY"
    path = state_dir() / "reseal.key"
    try:
        return (read_key_file(path) if path.exists() else write_key_file(path)), str(path)
    except OSError as ex:
        raise KeyMaterialError(f"cannot create the reseal key: {ex.strerror}", where=str(path),
                               hint="set SECRETS_KIT_RESEAL_KEY_FILE to a key file (32 random bytes, base64)") from None


# ----------------------------------------------------------------------------------- sealing


class Resealer:
    """Turns plaintext Secrets into SealedSecrets for one certificate, deterministically."""

    def __init__(self, public_key: rsa.RSAPublicKey, fingerprint: str, reseal_key: bytes) -> None:
        self.public_key = public_key
        self.fingerprint = fingerprint
        self._key = reseal_key

    def seal(self, secret: Manifest, *, namespace: str | None, where: str) -> Manifest:
        from ..sealed.model import SealOptions, label_of, prepare_secret, seal_prepared
        from ..sealed.scopes import Scope, scope_of

        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        scope = scope_of(annotations if isinstance(annotations, dict) else None)
        if scope is not Scope.CLUSTER_WIDE and not (secret.get("metadata") or {}).get("namespace") and not namespace:
            raise RenderError("Secret has no namespace and no destination namespace is known", where=where,
                              hint="set metadata.namespace, or the app's destination namespace (--namespace)")
        # kubeseal's checks and output shape, with the items sealed here (not randomly, and only once).
        prepared, items = prepare_secret(secret, SealOptions(namespace=namespace, allow_empty=True), where)
        sealed = seal_prepared(prepared, {}, secret, self.public_key)
        label = label_of(sealed, where)
        sealed["spec"]["encryptedData"] = {
            key: base64.b64encode(deterministic_seal_item(self.public_key, self.fingerprint, self._key, label, key,
                                                          items[key])).decode("ascii")
            for key in sorted(items)
        }
        meta = sealed["metadata"]
        source_meta = secret.get("metadata") or {}
        # Keep what reconcilers read on the object they apply: sync waves, hooks, labels.
        carried = {k: v for k, v in (annotations if isinstance(annotations, dict) else {}).items()
                   if isinstance(k, str) and k.startswith(CARRIED_ANNOTATIONS)}
        meta["annotations"] = dict(sorted({**(meta.get("annotations") or {}), **carried,
                                           SEALED_FOR: self.fingerprint}.items()))
        if isinstance(source_meta.get("labels"), dict) and source_meta["labels"]:
            meta["labels"] = dict(sorted(source_meta["labels"].items()))
        return sealed
