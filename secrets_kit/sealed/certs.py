"""Sealing certificates: read the first certificate of a PEM bundle, like kubeseal.

Only the public key and the validity dates are used. Controller certificates carry a
KeyUsage of encipherOnly alone, which `cryptography` refuses to parse: never touch
`cert.extensions` here.

Those three fields are read with a few lines of DER walking rather than through
`cryptography.x509`, whose import alone costs more than sealing one Secret; anything
unexpected goes through `cryptography.x509` for an exact error.
"""

# Annotations are evaluated here (no `from __future__ import annotations`): see EVALUATED_ANNOTATIONS
# in tests/sealed/test_import_budget.py.

import base64
import binascii
import re
import time
from typing import TYPE_CHECKING, NamedTuple

from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import KeyMaterialError
from .crypto import fingerprint

if TYPE_CHECKING:  # datetime loads when a date is shown, not for the expiry check of every seal
    import datetime as dt

# (year, month, day, hour, minute, second) in UTC: compared as tuples, they order as the times do.
Instant = tuple[int, int, int, int, int, int]

# Patterns are compiled on first use (re caches them): a command that reads no PEM pays nothing.
_PEM_BEGIN, _PEM_END = rb"-----BEGIN CERTIFICATE-----\r?\n", b"-----END CERTIFICATE-----"


class SealingCert(NamedTuple):  # not a dataclass: importing `dataclasses` costs more than a seal
    public_key: rsa.RSAPublicKey
    valid_from: Instant
    valid_until: Instant
    fingerprint: str
    pem: bytes  # the first certificate only
    source: str

    @property
    def bits(self) -> int:
        return self.public_key.key_size

    @property
    def not_before(self) -> "dt.datetime":
        return _datetime(self.valid_from)

    @property
    def not_after(self) -> "dt.datetime":
        return _datetime(self.valid_until)

    def expired(self, now: "dt.datetime | None" = None) -> bool:
        if now is None:
            return time.gmtime()[:6] >= self.valid_until  # whole seconds: past the last one
        return now > self.not_after

    def check_usable(self, *, allow_expired: bool = False, now: "dt.datetime | None" = None) -> None:
        """Refuse an expired certificate unless explicitly allowed (kubeseal always refuses)."""
        if self.expired(now) and not allow_expired:
            raise KeyMaterialError(
                f"failed to encrypt using an expired certificate on {go_date(self.not_after)}",
                where=self.source,
                hint="fetch the controller's current certificate, or pass --allow-expired-cert to seal anyway")


def utcnow() -> "dt.datetime":
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def _datetime(when: Instant) -> "dt.datetime":
    import datetime as dt

    return dt.datetime(*when, tzinfo=dt.UTC)


def go_date(when: "dt.datetime") -> str:
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
        public_key, valid_from, valid_until = _read_der(der)
    except (ValueError, IndexError, binascii.Error):
        public_key, valid_from, valid_until = _read_with_x509(pem, source)
    return SealingCert(public_key=public_key, valid_from=valid_from, valid_until=valid_until,
                       fingerprint=fingerprint(public_key), pem=pem, source=source)


def _instant(when: "dt.datetime") -> Instant:
    return when.year, when.month, when.day, when.hour, when.minute, when.second


def _read_with_x509(pem: bytes, source: str) -> tuple[rsa.RSAPublicKey, Instant, Instant]:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(pem)
        public_key = cert.public_key()
    except ValueError as ex:
        raise KeyMaterialError(f"unreadable certificate: {ex}", where=source) from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise KeyMaterialError(f"expected RSA public key but found {type(public_key).__name__}", where=source)
    return public_key, _instant(cert.not_valid_before_utc), _instant(cert.not_valid_after_utc)


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


def _time(tag: int, value: bytes) -> Instant:
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
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= _days_in(year, month)
            and hour < 24 and minute < 60 and second < 60):
        raise ValueError("not a DER time")  # what datetime() refused when it was built here
    return year, month, day, hour, minute, second


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _read_der(der: bytes) -> tuple[rsa.RSAPublicKey, Instant, Instant]:
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
