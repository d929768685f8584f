"""Sealing certificates: read the first certificate of a PEM bundle, like kubeseal.

Only the public key and the validity dates are used. Controller certificates carry a
KeyUsage of encipherOnly alone, which `cryptography` refuses to parse: never touch
`cert.extensions` here.

Those three fields are read with a few lines of DER walking rather than through
`cryptography.x509`, whose import alone costs more than sealing one Secret; anything
unexpected goes through `cryptography.x509` for an exact error.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import KeyMaterialError
from .crypto import fingerprint

# Patterns are compiled on first use (re caches them): a command that reads no PEM pays nothing.
_PEM_BEGIN, _PEM_END = rb"-----BEGIN CERTIFICATE-----\r?\n", b"-----END CERTIFICATE-----"


class SealingCert(NamedTuple):  # not a dataclass: importing `dataclasses` costs more than a seal
    public_key: rsa.RSAPublicKey
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str
    pem: bytes  # the first certificate only
    source: str

    @property
    def bits(self) -> int:
        return self.public_key.key_size

    def expired(self, now: dt.datetime | None = None) -> bool:
        return (now or utcnow()) > self.not_after

    def check_usable(self, *, allow_expired: bool = False, now: dt.datetime | None = None) -> None:
        """Refuse an expired certificate unless explicitly allowed (kubeseal always refuses)."""
        if self.expired(now) and not allow_expired:
            raise KeyMaterialError(
                f"failed to encrypt using an expired certificate on {go_date(self.not_after)}",
                where=self.source,
                hint="fetch the controller's current certificate, or pass --allow-expired-cert to seal anyway")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def go_date(when: dt.datetime) -> str:
    """Go's "January 2, 2006" layout."""
    return f"{when:%B} {when.day}, {when.year}"


def load_cert(data: bytes, source: str) -> SealingCert:
    """The first PEM certificate in `data`; it must hold an RSA key."""
    # The first BEGIN line, then the first END after it: a lazy `BEGIN.*?END` pattern would rescan the
    # rest of the file from every BEGIN when no END follows (quadratic on a file of many).
    begin = re.search(_PEM_BEGIN, data)
    end = data.find(_PEM_END, begin.end()) if begin is not None else -1
    if begin is None or end < 0:
        raise KeyMaterialError("failed to read any certificates", where=source,
                               hint="expected a PEM file with a CERTIFICATE block")
    pem = data[begin.start():end + len(_PEM_END)].replace(b"\r\n", b"\n") + b"\n"
    try:
        der = base64.b64decode(b"".join(pem.splitlines()[1:-1]), validate=True)
        public_key, not_before, not_after = _read_der(der)
    except (ValueError, IndexError, binascii.Error):
        public_key, not_before, not_after = _read_with_x509(pem, source)
    return SealingCert(public_key=public_key, not_before=not_before, not_after=not_after,
                       fingerprint=fingerprint(public_key), pem=pem, source=source)


def _read_with_x509(pem: bytes, source: str) -> tuple[rsa.RSAPublicKey, dt.datetime, dt.datetime]:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(pem)
        public_key = cert.public_key()
    except ValueError as ex:
        raise KeyMaterialError(f"unreadable certificate: {ex}", where=source) from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise KeyMaterialError(f"expected RSA public key but found {type(public_key).__name__}", where=source)
    return public_key, cert.not_valid_before_utc, cert.not_valid_after_utc


# --- the DER fields we need: tbsCertificate.validity and .subjectPublicKeyInfo (RSA only) ---------

_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption


def _tlv(buf: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, value, next position) of the DER element at `pos`."""
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    if pos + length > len(buf):
        raise ValueError("truncated DER")
    return tag, buf[pos:pos + length], pos + length


def _elements(value: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(value):
        tag, inner, pos = _tlv(value, pos)
        out.append((tag, inner))
    return out


def _time(tag: int, value: bytes) -> dt.datetime:
    """UTCTime YYMMDDHHMMSSZ (years 50-99 are 19xx) or GeneralizedTime YYYYMMDDHHMMSSZ.

    Parsed by hand: the first `strptime` call costs milliseconds of locale setup.
    """
    digits = value[:-1]
    size = {0x17: 12, 0x18: 14}.get(tag)
    if size is None or len(digits) != size or value[-1:] != b"Z" or not digits.isdigit():
        raise ValueError("not a DER time")  # the x509 path reads anything else exactly
    year, rest = (int(digits[:2]), digits[2:]) if tag == 0x17 else (int(digits[:4]), digits[4:])
    if tag == 0x17:
        year += 1900 if year >= 50 else 2000
    month, day, hour, minute, second = (int(rest[i:i + 2]) for i in range(0, 10, 2))
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def _read_der(der: bytes) -> tuple[rsa.RSAPublicKey, dt.datetime, dt.datetime]:
    tag, cert, _ = _tlv(der, 0)
    parts = _elements(cert)
    if tag != 0x30 or len(parts) != 3 or parts[0][0] != 0x30:
        raise ValueError("not a certificate")
    tbs = _elements(parts[0][1])
    if tbs and tbs[0][0] == 0xA0:  # [0] version
        tbs = tbs[1:]
    validity, spki = _elements(tbs[3][1]), _elements(tbs[5][1])
    algorithm = _elements(spki[0][1])
    if algorithm[0] != (0x06, _RSA_OID) or spki[1][0] != 0x03 or spki[1][1][:1] != b"\0":
        raise ValueError("not an RSA key")  # the x509 path names the key type
    n, e = _elements(_tlv(spki[1][1][1:], 0)[1])
    if n[0] != 0x02 or e[0] != 0x02:
        raise ValueError("bad RSA key")
    public_key = rsa.RSAPublicNumbers(int.from_bytes(e[1], "big"), int.from_bytes(n[1], "big")).public_key()
    return public_key, _time(*validity[0]), _time(*validity[1])
