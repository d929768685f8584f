"""Sealing key pairs shaped like the controller's, and a local folder of them.

The controller makes an RSA-4096 key and a self-signed certificate with an empty
subject and issuer, a random 128-bit serial, ten years of validity, KeyUsage
encipherOnly (critical), BasicConstraints CA:TRUE (critical) and, with Go >= 1.25, a
SubjectKeyIdentifier of the truncated SHA-256 of the key (RFC 7093 method 1).

`cryptography` refuses to build (and to parse) a KeyUsage of encipherOnly alone, so the
extension is written as raw DER.

A key folder holds `<name>.key` (PKCS#1 PEM, mode 0600) and `<name>.crt` pairs; the
newest pair (by the certificate's NotBefore, as the controller orders them) seals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cryptography.x509.oid import ExtensionOID

from ..errors import InputError, KeyMaterialError
from ..files import write_atomic
from ..k8s.secrets import b64encode, ordered_meta
from .certs import SealingCert, load_cert, utcnow
from .crypto import Keyring, PrivateKey, fingerprint
from .keyfiles import parse_pem_key

DEFAULT_BITS = 4096
DEFAULT_TTL = dt.timedelta(hours=87600)  # the controller's --key-ttl: ten years
KEY_PREFIX = "sealed-secrets-key"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
KEY_USAGE_ENCIPHER_ONLY_DER = bytes.fromhex("03020001")  # BIT STRING, bit 7 (encipherOnly)
# Kubernetes' generateName alphabet: no vowels, no look-alike digits.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def default_keys_dir() -> Path:
    """$SECRETS_KIT_KEYS_DIR, else $XDG_CONFIG_HOME/secrets-kit/sealed-keys: outside any Git checkout."""
    env = os.environ.get("SECRETS_KIT_KEYS_DIR")
    if env:
        return Path(env).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "secrets-kit" / "sealed-keys"


def generate_key_pair(*, bits: int = DEFAULT_BITS, ttl: dt.timedelta = DEFAULT_TTL, common_name: str = "",
                      not_before: dt.datetime | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new RSA key and its self-signed certificate, as the controller makes them."""
    if bits < 2048:
        raise InputError(f"key size {bits} is too small", hint="use at least 2048 bits (the controller uses 4096)")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key, self_sign(key, ttl=ttl, common_name=common_name, not_before=not_before)


def self_sign(key: rsa.RSAPrivateKey, *, ttl: dt.timedelta = DEFAULT_TTL, common_name: str = "",
              not_before: dt.datetime | None = None) -> x509.Certificate:
    start = (not_before or utcnow()).replace(microsecond=0)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)] if common_name else [])
    spki_bits = key.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(128) or 1)
        .not_valid_before(start)
        .not_valid_after(start + ttl)
        .add_extension(x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, KEY_USAGE_ENCIPHER_ONLY_DER),
                       critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(hashlib.sha256(spki_bits).digest()[:20]), critical=False)
        .sign(key, hashes.SHA256())
    )


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 `RSA PRIVATE KEY`, the form the controller stores in `tls.key`."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def new_key_name() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def key_secret(name: str, key_pem: bytes, crt_pem: bytes, *, namespace: str = "kube-system") -> dict[str, Any]:
    """The controller's key Secret: `kubernetes.io/tls`, labelled active (to restore or bring a key)."""
    meta = {"name": name, "namespace": namespace, "labels": {KEY_LABEL: "active"}}
    return {
        "kind": "Secret", "apiVersion": "v1", "metadata": ordered_meta(meta),
        "data": {"tls.crt": b64encode(crt_pem), "tls.key": b64encode(key_pem)},
        "type": "kubernetes.io/tls",
    }


@dataclass(frozen=True)
class KeyPair:
    name: str
    cert: SealingCert
    key_path: Path | None
    cert_path: Path

    def private_key(self) -> PrivateKey:
        if self.key_path is None:
            raise KeyMaterialError("no private key next to this certificate", where=str(self.cert_path))
        key = parse_pem_key(self.key_path.read_bytes(), str(self.key_path))
        if key is None:
            raise KeyMaterialError("no PEM private key in file", where=str(self.key_path))
        fp = fingerprint(key.public_key())
        if fp != self.cert.fingerprint:
            raise KeyMaterialError("private key does not match its certificate", where=str(self.key_path))
        return PrivateKey(key, fp, str(self.key_path))


class KeyFolder:
    """`<name>.key` + `<name>.crt` pairs in one folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def pairs(self) -> list[KeyPair]:
        """Every pair, oldest first (certificate NotBefore, then file time, then name)."""
        if not self.path.is_dir():
            return []
        out = []
        for crt in sorted(self.path.glob("*.crt")):
            key = crt.with_suffix(".key")
            cert = load_cert(crt.read_bytes(), str(crt))
            out.append(KeyPair(crt.stem, cert, key if key.exists() else None, crt))
        # NotBefore has one-second resolution: a rotation within the same second is ordered by file time.
        out.sort(key=lambda p: (p.cert.not_before, p.cert_path.stat().st_mtime_ns, p.name))
        return out

    def newest(self) -> KeyPair:
        pairs = self.pairs()
        if not pairs:
            raise KeyMaterialError("no sealing keys in this folder", where=str(self.path),
                                   hint="create one with `secrets-kit keys create`")
        return pairs[-1]

    def find(self, selector: str) -> KeyPair:
        """A pair by name or by (a prefix of) its fingerprint."""
        for pair in self.pairs():
            fp = pair.cert.fingerprint
            if selector in (pair.name, fp) or (len(selector) >= 8 and fp.removeprefix("SHA256:").startswith(
                    selector.removeprefix("SHA256:"))):
                return pair
        raise KeyMaterialError(f"no key named or fingerprinted {selector!r}", where=str(self.path))

    def keyring(self) -> Keyring:
        """All private keys, newest first (new SealedSecrets are most likely sealed with it)."""
        return Keyring(p.private_key() for p in reversed(self.pairs()) if p.key_path is not None)

    def create(self, *, bits: int = DEFAULT_BITS, ttl: dt.timedelta = DEFAULT_TTL, common_name: str = "",
               name: str | None = None, not_before: dt.datetime | None = None) -> KeyPair:
        """Generate a pair and write it (key first, mode 0600); it becomes the newest."""
        self.path.mkdir(parents=True, exist_ok=True)
        name = name or new_key_name()
        key_path, crt_path = self.path / f"{name}.key", self.path / f"{name}.crt"
        if key_path.exists() or crt_path.exists():
            raise KeyMaterialError("a key with this name already exists", where=str(key_path))
        key, cert = generate_key_pair(bits=bits, ttl=ttl, common_name=common_name, not_before=not_before)
        return self.add(name, key, cert_pem(cert))

    def add(self, name: str, key: rsa.RSAPrivateKey, crt: bytes) -> KeyPair:
        """Store an existing key and certificate (e.g. imported from a controller backup)."""
        self.path.mkdir(parents=True, exist_ok=True)
        key_path, crt_path = self.path / f"{name}.key", self.path / f"{name}.crt"
        cert = load_cert(crt, str(crt_path))
        if cert.fingerprint != fingerprint(key.public_key()):
            raise KeyMaterialError("certificate does not match the private key", where=name)
        write_atomic(key_path, private_key_pem(key), mode=0o600)
        write_atomic(crt_path, cert.pem, mode=0o644)
        return KeyPair(name, cert, key_path, crt_path)
