"""The Sealed Secrets hybrid encryption, byte-compatible with upstream `pkg/crypto`.

One item sealed:  uint16_be(len(rsa)) || RSA-OAEP(SHA-256, MGF1-SHA-256, label)(session key)
                  || AES-256-GCM(session key, zero nonce, no AAD)(plaintext) || tag
The session key is fresh for every item, so the all-zero nonce is never reused.
The ciphertext carries no key id: decryption tries every known private key.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): see EVALUATED_ANNOTATIONS
# in tests/sealed/test_import_budget.py.

import base64
import os
import struct
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import DecryptionError, KeyMaterialError

SESSION_KEY_BYTES = 32
NONCE = bytes(12)
TOO_SHORT = "SealedSecret data is too short"
NO_KEY = "no key could decrypt secret"


def _oaep(label: bytes) -> padding.OAEP:
    # Go's rsa.EncryptOAEP(sha256.New(), ...) uses SHA-256 for MGF1 as well.
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=label or None)


def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """Seal one item for `public_key`, bound to `label`."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    try:
        wrapped = public_key.encrypt(session_key, _oaep(label))
    except ValueError as ex:  # key too small for OAEP-SHA256 with a 32-byte payload
        raise KeyMaterialError(f"cannot encrypt with this RSA key: {ex}") from None
    return struct.pack(">H", len(wrapped)) + wrapped + AESGCM(session_key).encrypt(NONCE, plaintext, None)


def split(ciphertext: bytes) -> tuple[bytes, bytes]:
    """(RSA part, AES part), or DecryptionError if the length prefix promises more than there is."""
    if len(ciphertext) < 2:
        raise DecryptionError(TOO_SHORT)
    (rsa_len,) = struct.unpack_from(">H", ciphertext)
    if len(ciphertext) < rsa_len + 2:
        raise DecryptionError(TOO_SHORT)
    return ciphertext[2:rsa_len + 2], ciphertext[rsa_len + 2:]


def single_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, label: bytes) -> bytes | None:
    """The plaintext, or None if this key (with this label) cannot open it."""
    wrapped, sealed = split(ciphertext)
    try:
        session_key = private_key.decrypt(wrapped, _oaep(label))
        return AESGCM(session_key).decrypt(NONCE, sealed, None)
    except (ValueError, InvalidTag):
        # Wrong key, wrong label, a flipped bit or a session key of the wrong size.
        return None


def fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """The SSH SHA-256 fingerprint (`SHA256:...`), the key id upstream uses for its key map."""
    numbers = public_key.public_numbers()

    def mpint(value: int) -> bytes:
        raw = value.to_bytes((value.bit_length() + 8) // 8, "big")  # a leading zero keeps it positive
        return struct.pack(">I", len(raw)) + raw

    blob = struct.pack(">I", 7) + b"ssh-rsa" + mpint(numbers.e) + mpint(numbers.n)
    sha256 = hashes.Hash(hashes.SHA256())  # not hashlib: loading _hashlib costs a cold seal ~2 ms
    sha256.update(blob)
    digest = sha256.finalize()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class PrivateKey(NamedTuple):  # not a dataclass: importing `dataclasses` costs more than a seal
    key: rsa.RSAPrivateKey
    fingerprint: str
    source: str  # where it was read from, for messages


class Keyring:
    """Private keys to try, most recently successful first.

    Every wrong key costs a full RSA private operation (milliseconds at 4096 bit), and a
    batch of SealedSecrets usually comes from one key, so the key that worked last is
    tried first.
    """

    def __init__(self, keys: Iterable[PrivateKey] = ()) -> None:
        import threading  # here, not at the top: a seal makes no Keyring

        self._lock = threading.Lock()  # RSA releases the GIL: batches decrypt on several threads
        self._keys: list[PrivateKey] = []
        seen: set[str] = set()
        for key in keys:
            if key.fingerprint not in seen:
                seen.add(key.fingerprint)
                self._keys.append(key)

    @classmethod
    def of(cls, *private_keys: rsa.RSAPrivateKey, source: str = "<memory>") -> "Keyring":
        return cls(PrivateKey(k, fingerprint(k.public_key()), source) for k in private_keys)

    def add(self, key: PrivateKey) -> None:
        with self._lock:
            if all(k.fingerprint != key.fingerprint for k in self._keys):
                self._keys.append(key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[PrivateKey]:
        return iter(list(self._keys))

    def decrypt(self, ciphertext: bytes, label: bytes) -> tuple[bytes, PrivateKey]:
        """(plaintext, the key that opened it); DecryptionError if none can."""
        split(ciphertext)  # say "too short" rather than upstream's generic "no key could decrypt"
        for index, key in enumerate(list(self._keys)):
            plaintext = single_decrypt(key.key, ciphertext, label)
            if plaintext is not None:
                if index:
                    with self._lock:
                        self._keys.remove(key)
                        self._keys.insert(0, key)
                return plaintext, key
        raise DecryptionError(NO_KEY)


def hybrid_decrypt(keys: Keyring | Iterable[rsa.RSAPrivateKey], ciphertext: bytes, label: bytes) -> bytes:
    """Open one item with any of `keys`."""
    ring = keys if isinstance(keys, Keyring) else Keyring.of(*keys)
    return ring.decrypt(ciphertext, label)[0]
