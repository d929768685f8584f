"""The sops value cipher: AES-256-GCM with a 32-byte IV and the value's path as AAD.

`ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`. One `AESGCM` object per data
key; IVs seen while decrypting are stashed per (path, plaintext) and reused when the same
value is encrypted again, so unchanged values keep their exact ciphertext (minimal diffs).
"""

from __future__ import annotations

import binascii
import os
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import DecryptionError, InputError
from .gofmt import atoi, format_float_f, parse_bool, parse_float, parse_rfc3339
from .tree import Comment, Timestamp

PREFIX = "ENC[AES256_GCM,data:"
_PREFIX_LEN = len(PREFIX)
IV_SIZE = 32
TAG_SIZE = 16

_a2b = binascii.a2b_base64
_b2a = binascii.b2a_base64


def _b64encode(data: bytes) -> str:
    return _b2a(data, newline=False).decode("ascii")


class ValueFormatError(DecryptionError):
    """A value at an encrypted path is not in sops's `ENC[...]` form."""


# sops's own pattern (aes/cipher.go): greedy groups and no `$`, so text after the last `]` is
# ignored and a `]` inside the type belongs to it (`type:str]x]` is type `str]x`, unknown).
_ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")


def _split_enc(text: str) -> tuple[str, str, str, str]:
    # Base64 never holds a comma, so one split finds the four fields (faster than the regex);
    # the regex decides whenever the text is not that plain shape.
    parts = text[_PREFIX_LEN:].split(",", 3)
    if text.startswith(PREFIX) and len(parts) == 4 and "\n" not in text:
        data_text, iv_text, tag_text, kind_text = parts
        end = kind_text.find("]")
        if iv_text.startswith("iv:") and tag_text.startswith("tag:") and kind_text.startswith("type:") \
                and end >= 0 and kind_text.find("]", end + 1) < 0:
            return data_text, iv_text[3:], tag_text[4:], kind_text[5:end]
    m = _ENC_RE.match(text)
    if m is None:
        raise ValueFormatError("value does not match sops' data format")
    data_text, iv_text, tag_text, kind_text = m.groups()
    return data_text, iv_text, tag_text, kind_text


class BytesValueError(DecryptionError):
    """A value (or comment) that decrypted, with the legacy type `bytes`: refused, also as a comment."""


def parse_enc(text: str) -> tuple[bytes, bytes, bytes, str]:
    """Split an `ENC[...]` string into (data, iv, tag, type) as sops's regex does."""
    data_text, iv_text, tag_text, kind = _split_enc(text)
    # binascii directly: base64.b64decode(validate=True) runs a regex per call (strict_mode: the same refusals).
    try:
        return _a2b(data_text, strict_mode=True), _a2b(iv_text, strict_mode=True), _a2b(tag_text, strict_mode=True), kind
    except (ValueError, binascii.Error):
        raise ValueFormatError("value does not match sops' data format") from None


def to_bytes(value: Any) -> bytes:
    """sops `ToBytes`: the bytes hashed into the MAC (and encrypted) for a value."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return format_float_f(value).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, Comment):
        return value.value.encode("utf-8", "surrogateescape")
    raise InputError(f"Could not convert unknown type {type(value).__name__} to bytes")


def _type_and_bytes(value: Any) -> tuple[str, bytes]:
    if isinstance(value, Timestamp):
        return "time", value.encode()
    if isinstance(value, str):
        return "str", value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool):
        return "bool", b"True" if value else b"False"
    if isinstance(value, int):
        return "int", str(value).encode()
    if isinstance(value, float):
        return "float", format_float_f(value).encode()
    if isinstance(value, Comment):
        return "comment", value.value.encode("utf-8", "surrogateescape")
    raise InputError(f"Value to encrypt has unsupported type {type(value).__name__}")


class Cipher:
    """Encrypts and decrypts tree values with one data key."""

    __slots__ = ("_aead", "keep_ivs", "key", "stash")

    def __init__(self, data_key: bytes, keep_ivs: bool = True) -> None:
        if len(data_key) != 32:
            raise DecryptionError(f"the data key must be 32 bytes, got {len(data_key)}")
        self.key = data_key
        self._aead = AESGCM(data_key)
        # (path, type, plaintext bytes) -> IVs in document order; equal values at one path keep their
        # own IV each. Keyed by the exact bytes, never the parsed value: a non-canonical plaintext
        # (`007`, `True`) re-encrypts as other bytes and must get a fresh IV (GCM nonce reuse).
        # A read-only decrypt skips it (keep_ivs=False).
        self.keep_ivs = keep_ivs
        self.stash: dict[tuple[str, str, bytes], list[bytes]] = {}

    def decrypt(self, text: str, aad: str) -> Any:
        """Decrypt one `ENC[...]` value; `""` stays `""`. Raises DecryptionError."""
        return self.decrypt_with_bytes(text, aad)[0]

    def decrypt_with_bytes(self, text: str, aad: str) -> tuple[Any, bytes | None]:
        """Decrypt; also return the plaintext bytes when they are the MAC bytes (type str)."""
        if text == "":
            return "", b""
        data, iv, tag, kind = parse_enc(text)
        try:
            plain = self._aead.decrypt(iv, data + tag, aad.encode("utf-8", "surrogateescape"))
        except InvalidTag:
            raise DecryptionError("Could not decrypt with AES_GCM: message authentication failed") from None
        except ValueError as exc:  # e.g. an IV of a length AESGCM refuses
            raise DecryptionError(f"Could not decrypt with AES_GCM: {exc}") from None
        value: Any
        if kind == "str":
            value = plain.decode("utf-8", "surrogateescape")
            if self.keep_ivs:
                self.stash.setdefault((aad, kind, plain), []).append(iv)
            return value, plain
        try:
            if kind == "int":
                value = atoi(plain.decode())
            elif kind == "float":
                value = parse_float(plain.decode())
            elif kind == "bool":
                value = parse_bool(plain.decode())
            elif kind == "time":
                value = Timestamp(plain.decode())
                parse_rfc3339(value)  # Go's time.UnmarshalText: RFC 3339 or an error
            elif kind == "comment":
                value = Comment(plain.decode("utf-8", "surrogateescape"))
            elif kind == "bytes":
                # Python sops 1.x wrote it; sops 3 crashes on it after decrypting (its IV cache
                # cannot hold a byte slice), so no file that sops reads has one.
                raise BytesValueError("the value has type bytes, which sops 3 does not read")
            else:
                raise DecryptionError(f"Unknown datatype: {kind}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecryptionError(f"the decrypted {kind} value does not parse: {type(exc).__name__}") from None
        if self.keep_ivs:
            self.stash.setdefault((aad, kind, plain), []).append(iv)
        return value, None

    def encrypt(self, value: Any, aad: str) -> str:
        """Encrypt one value (str, int, float, bool, Timestamp, Comment) to `ENC[...]`."""
        if value == "" and isinstance(value, str):
            return ""
        if isinstance(value, Comment) and value.value == "":
            return ""
        kind, plain = _type_and_bytes(value)
        stashed = self.stash.get((aad, kind, plain))
        iv = stashed.pop(0) if stashed else os.urandom(IV_SIZE)
        sealed = self._aead.encrypt(iv, plain, aad.encode("utf-8", "surrogateescape"))
        return (f"{PREFIX}{_b64encode(sealed[:-TAG_SIZE])},iv:{_b64encode(iv)},"
                f"tag:{_b64encode(sealed[-TAG_SIZE:])},type:{kind}]")
