"""ESO v0.16.2's template function table (pkg/template/v2/template.go `tplFuncs`), for the shared engine.

ESO builds it from its vendored Sprig fork (github.com/external-secrets/sprig/v3 v3.3.0, which is Sprig
3.2-era: no sha512sum, no hexdec) as `sprig.TxtFuncMap()` minus env and expandenv, plus 14 functions of
its own: pkcs12key(Pass), pkcs12cert(Pass), pemToPkcs12(Pass), fullPemToPkcs12(Pass), filterPEM,
filterCertChain, jwkPublicKeyPem, jwkPrivateKeyPem, toYaml, fromYaml. v0.16.2 has no certSANs,
rsaDecrypt, pemTruststoreToPKCS12 or hexdec (later releases add them), so a template naming one fails
to parse, as in ESO. getHostByName is left out on purpose (ESO keeps it; a template must not make the
operator resolve names): a template using it fails to parse here.

FUNCTIONS = Go's built-ins + the shared Sprig table + SPRIG_MORE (Sprig functions the shared table lacks)
+ SPRIG_FIXES (Sprig functions redone for Go's byte strings, Go's JSON and float64 numbers) + ESO_EXTRAS.
Not implemented (a template using one fails to parse, listed in tests as NOT_IMPLEMENTED): dates
(now, date, toDate, ago, duration...), generated keys and certificates (genPrivateKey, genCA...),
encryptAES/decryptAES, derivePassword, semver. bcrypt/htpasswd need the optional Python package `bcrypt`. Regular expressions use Python's
`re` (RE2's syntax agrees for common patterns).

Go strings are bytes: a value that is not UTF-8 (a pkcs12 file after b64dec) travels through the
engine as a str with surrogate escapes (`go_bytes`/`go_string`), so binary survives b64dec |
pkcs12key and the final encode. Errors name the function and the failure, never an argument.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import re
import warnings
from collections.abc import Callable
from typing import Any

from .. import gotemplate, limits
from ..gotemplate.sprig import to_int64
from ..gotemplate.values import MISSING, StringMap, text, truthy
from ..k8s.manifests import check_yaml_depth


class FunctionError(gotemplate.TemplateError):
    """A function returned an error (Go: `error calling NAME: ...`); the message carries no data."""


def go_bytes(value: Any) -> bytes:
    """The bytes of a Go string held as a Python str (non-UTF-8 bytes as surrogate escapes)."""
    if isinstance(value, bytes):
        return value
    return text(value).encode("utf-8", "surrogateescape")


def go_string(raw: bytes) -> str:
    """Bytes as a Go string: UTF-8 where it is, surrogate escapes for the rest (lossless)."""
    return raw.decode("utf-8", "surrogateescape")


# --- Sprig functions the shared table lacks or gets wrong for binary data ---------------------------

def _b64enc(value: Any) -> str:
    return base64.b64encode(go_bytes(value)).decode()


_B64 = re.compile(rb"[A-Za-z0-9+/]*")


def _b64dec(value: Any) -> str:
    """Sprig's base64decode: std encoding (CR/LF ignored); on error Go's error text is the result."""
    raw = go_bytes(value).replace(b"\r", b"").replace(b"\n", b"")
    try:
        return go_string(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return f"illegal base64 data at input byte {_b64_error_offset(raw)}"


def _b64_error_offset(raw: bytes) -> int:
    """Where Go's base64.StdEncoding reports a CorruptInputError (first foreign byte, else the tail)."""
    match = _B64.match(raw)
    body = match.end() if match else 0
    if body < len(raw) and raw[body:body + 1] != b"=":
        return body
    return body - body % 4 if body % 4 == 1 else body


def _from_json(value: Any) -> Any:
    """Sprig's fromJson: errors are swallowed (an empty map... Go gives nil interface -> <no value>)."""
    try:
        return json.loads(go_bytes(value), parse_int=float)
    except ValueError:
        return MISSING


def _must_from_json(value: Any) -> Any:
    try:
        return json.loads(go_bytes(value), parse_int=float)
    except ValueError:
        raise FunctionError("error calling mustFromJson: invalid JSON") from None


def _digest(algorithm: str) -> Callable[[Any], str]:
    return lambda value: hashlib.new(algorithm, go_bytes(value)).hexdigest()


def _b32dec(value: Any) -> str:
    try:
        return go_string(base64.b32decode(go_bytes(value)))
    except (binascii.Error, ValueError):
        return "illegal base32 data"


SPRIG_FIXES: dict[str, Callable[..., Any]] = {
    "b64enc": _b64enc, "b64dec": _b64dec, "b32enc": lambda v: base64.b32encode(go_bytes(v)).decode(),
    "b32dec": _b32dec, "sha1sum": _digest("sha1"), "sha256sum": _digest("sha256"),
    "fromJson": _from_json, "mustFromJson": _must_from_json,
    "len": lambda v: len(go_bytes(v)) if isinstance(v, str) else len(v),  # Go: a string's length in bytes
}


# --- PEM, as Go's encoding/pem decodes and encodes it -----------------------------------------------

_BEGIN, _END, _DASHES = b"-----BEGIN ", b"\n-----END ", b"-----"


class PemBlock:
    def __init__(self, kind: str, headers: list[tuple[str, str]], der: bytes) -> None:
        self.kind, self.headers, self.der = kind, headers, der


def _line(data: bytes) -> tuple[bytes, bytes]:
    i = data.find(b"\n")
    line, rest = (data, b"") if i < 0 else (data[:i + 1], data[i + 1:])
    return line.rstrip(b" \t\r\n"), rest


def pem_decode(data: bytes) -> tuple[PemBlock | None, bytes]:
    """encoding/pem.Decode: the first valid block and the rest; (None, data) when there is none."""
    rest = data
    while True:
        if rest.startswith(_BEGIN):
            rest = rest[len(_BEGIN):]
        else:
            i = rest.find(b"\n" + _BEGIN)
            if i < 0:
                return None, data
            rest = rest[i + 1 + len(_BEGIN):]
        type_line, rest = _line(rest)
        if not type_line.endswith(_DASHES):
            continue
        kind = type_line[:-len(_DASHES)].decode("utf-8", "replace")
        block, tail = _block_body(kind, rest)
        if block is not None:
            return block, tail


def _block_body(kind: str, rest: bytes) -> tuple[PemBlock | None, bytes]:
    headers: list[tuple[str, str]] = []
    while rest:
        line, after = _line(rest)
        if b":" not in line:
            break
        key, _, value = line.partition(b":")
        headers.append((key.strip().decode(), value.strip().decode()))
        rest = after
    end_marker = _END + kind.encode() + _DASHES
    if rest.startswith(end_marker[1:]):
        body, end_index = b"", 0
    else:
        end_index = rest.find(end_marker)
        if end_index < 0:
            return None, b""
        body, end_index = rest[:end_index], end_index + 1
    tail = rest[end_index + len(end_marker) - 1:]
    end_trailer, after = _line(tail)
    if end_trailer:
        return None, b""
    try:
        der = base64.b64decode(re.sub(rb"[ \t\r\n]", b"", body), validate=True)
    except (binascii.Error, ValueError):
        return None, b""
    return PemBlock(kind, headers, der), after


def pem_encode(kind: str, der: bytes, headers: list[tuple[str, str]] | None = None) -> str:
    """encoding/pem.Encode: 64-character lines."""
    out = io.StringIO()
    out.write(f"-----BEGIN {kind}-----\n")
    if headers:
        for key, value in headers:
            out.write(f"{key}: {value}\n")
        out.write("\n")
    encoded = base64.b64encode(der).decode()
    for i in range(0, len(encoded), 64):
        out.write(encoded[i:i + 64] + "\n")
    out.write(f"-----END {kind}-----\n")
    return out.getvalue()


def _filter_pem(pem_type: Any, value: Any) -> str:
    data = go_bytes(value)
    blocks: list[str] = []
    rest = data
    while True:
        block, rest = pem_decode(data)
        data = rest
        if block is None:
            break
        if block.kind.casefold() == text(pem_type).casefold():
            blocks.append(pem_encode(block.kind, block.der, block.headers))
    if not blocks and rest:
        raise FunctionError("error calling filterPEM: error filtering pem: found junk")
    return "".join(blocks)


# --- certificates ------------------------------------------------------------------------------------

def _x509() -> Any:
    from cryptography import x509
    return x509


def _load_certs(data: bytes, func: str) -> list[Any]:
    x509 = _x509()
    over = limits.exceeds(limits.CERTIFICATES, data.count(b"-----BEGIN "))  # each block costs a parse
    if over is not None:
        raise FunctionError(f"error calling {func}: {over}")
    certs: list[Any] = []
    while True:
        block, data = pem_decode(data)
        if block is None:
            return certs
        try:
            certs.append(x509.load_der_x509_certificate(block.der))
        except ValueError:
            raise FunctionError(f"error calling {func}: x509: malformed certificate") from None


def _key_ids(cert: Any) -> tuple[bytes | None, bytes | None]:
    """(AuthorityKeyId, SubjectKeyId) as Go's x509.Certificate has them (nil when absent)."""
    x509 = _x509()
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = None
    return aki, ski


def _chain(certs: list[Any], func: str) -> list[Any]:
    """pem_chain.go fetchX509CertChains: order leaf -> intermediates -> root by key identifiers."""
    ids = [_key_ids(c) for c in certs]
    parent: list[int | None] = [None] * len(certs)
    is_parent = [False] * len(certs)
    # The first two certificates by SubjectKeyId: a certificate's parent is the first other one whose
    # SubjectKeyId equals its AuthorityKeyId (bytes.Equal(nil, nil) is true). A table, not Go's nested loop.
    by_ski: dict[bytes, list[int]] = {}
    for j, (_, ski) in enumerate(ids):
        first = by_ski.setdefault(ski or b"", [])
        if len(first) < 2:
            first.append(j)
    for i in range(len(certs)):
        found = next((j for j in by_ski.get(ids[i][0] or b"", ()) if j != i), None)
        if found is not None:
            is_parent[found], parent[i] = True, found
    leaves = [i for i in range(len(certs)) if not is_parent[i]]
    if len(leaves) > 1:
        raise FunctionError(f"error calling {func}: found multiple leaf or disjunct certificates")
    if not leaves:
        raise FunctionError(f"error calling {func}: no leaf certificate found")
    out: list[Any] = []
    node: int | None = leaves[0]
    while node is not None:
        if len(out) >= len(certs):
            raise FunctionError(f"error calling {func}: constructing chain resulted in cycle")
        out.append(certs[node])
        node = parent[node]
    return out


def _der(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    return bytes(cert.public_bytes(Encoding.DER))


def _is_root(cert: Any) -> bool:
    aki, ski = _key_ids(cert)
    return aki is None or aki == (ski or b"")


def _filter_cert_chain(cert_type: Any, value: Any) -> str:
    ordered = _chain(_load_certs(go_bytes(value), "filterCertChain"), "filterCertChain")
    kind = text(cert_type)
    if kind == "leaf":
        aki, ski = _key_ids(ordered[0])
        if aki is not None and aki != (ski or b""):
            return pem_encode("CERTIFICATE", _der(ordered[0]))
    elif kind == "intermediate":
        out = []
        for cert in ordered[1:]:
            if _is_root(cert):
                break
            out.append(pem_encode("CERTIFICATE", _der(cert)))
        return "".join(out)
    elif kind == "root" and _is_root(ordered[-1]):
        return pem_encode("CERTIFICATE", _der(ordered[-1]))
    return ""


# --- pkcs12 ------------------------------------------------------------------------------------------

def _pkcs12_load(password: Any, value: Any, func: str, what: str) -> Any:
    from cryptography.hazmat.primitives.serialization import pkcs12
    data, secret = go_bytes(value), go_bytes(password)
    for attempt in ((secret,) if secret else (b"", None)):
        try:
            return pkcs12.load_pkcs12(data, attempt)
        except (ValueError, TypeError):
            continue
    raise FunctionError(f"error calling {func}: unable to decode pkcs12{what} with password: "
                        "pkcs12: decryption password incorrect or malformed data")


def _pkcs12_key_pass(password: Any, value: Any, func: str = "pkcs12keyPass") -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    bundle = _pkcs12_load(password, value, func, "")
    if bundle.key is None:
        raise FunctionError(f"error calling {func}: unable to decode pkcs12 with password: no private key")
    der = bundle.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return pem_encode("PRIVATE KEY", der)


def _pkcs12_cert_pass(password: Any, value: Any, func: str = "pkcs12certPass") -> str:
    bundle = _pkcs12_load(password, value, func, " certificate")
    if bundle.cert is None:
        raise FunctionError(f"error calling {func}: unable to decode pkcs12 certificate with password: "
                            "no certificate")
    certs = [bundle.cert.certificate, *(c.certificate for c in bundle.additional_certs)]
    with contextlib.suppress(FunctionError):  # ESO returns the unordered PEM when it cannot order them
        certs = _chain(certs, func)
    return "".join(pem_encode("CERTIFICATE", _der(c)) for c in certs)


def _parse_private_key(pem_text: Any, func: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key
    block, _ = pem_decode(go_bytes(pem_text))
    if block is None:
        raise FunctionError(f"error calling {func}: no PEM private key")
    try:
        return load_der_private_key(block.der, None)
    except (ValueError, TypeError):
        raise FunctionError(f"error calling {func}: unable to parse private key type") from None


def _to_pkcs12(cert_pem: Any, key_pem: Any, password: Any, full: bool, func: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import (
        KeySerializationEncryption,
        NoEncryption,
        PrivateFormat,
        pkcs12,
    )
    block, rest = pem_decode(go_bytes(cert_pem))
    if block is None:
        raise FunctionError(f"error calling {func}: no PEM certificate")
    try:
        cert = _x509().load_der_x509_certificate(block.der)
    except ValueError:
        raise FunctionError(f"error calling {func}: x509: malformed certificate") from None
    cas = []
    while full and rest:
        block, rest = pem_decode(rest)
        if block is None:
            raise FunctionError(f"error calling {func}: no PEM certificate")
        try:
            cas.append(_x509().load_der_x509_certificate(block.der))
        except ValueError:
            raise FunctionError(f"error calling {func}: x509: malformed certificate") from None
    key = _parse_private_key(key_pem, func)
    # go-pkcs12 Modern: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), 2048 rounds, SHA-256 MAC. cryptography
    # cannot encrypt with an empty password; go-pkcs12 reads an unencrypted, MAC-less file for "".
    encryption: KeySerializationEncryption = NoEncryption()
    if go_bytes(password):
        encryption = (PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
                      .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
                      .build(go_bytes(password)))
    try:
        pfx = pkcs12.serialize_key_and_certificates(None, key, cert, cas or None, encryption)
    except (ValueError, TypeError):
        raise FunctionError(f"error calling {func}: pkcs12: cannot encode") from None
    return base64.b64encode(pfx).decode()


# --- JWK ---------------------------------------------------------------------------------------------

def _b64url_int(jwk: dict[str, Any], name: str) -> int:
    raw = text(jwk.get(name, ""))
    return int.from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), "big")


def _b64url(jwk: dict[str, Any], name: str) -> bytes:
    raw = text(jwk.get(name, ""))
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def _jwk_key(value: Any, func: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    try:
        jwk = json.loads(go_bytes(value))
        kty = jwk["kty"]
        if kty == "RSA":
            public = rsa.RSAPublicNumbers(_b64url_int(jwk, "e"), _b64url_int(jwk, "n"))
            if "d" not in jwk:
                return public.public_key()
            d = _b64url_int(jwk, "d")
            if "p" in jwk and "q" in jwk:
                p, q = _b64url_int(jwk, "p"), _b64url_int(jwk, "q")
            else:
                p, q = rsa.rsa_recover_prime_factors(public.n, public.e, d)
            return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                         rsa.rsa_crt_iqmp(p, q), public).private_key()
        if kty == "EC":
            curves: dict[str, Any] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
            curve = curves[jwk["crv"]]()
            point = ec.EllipticCurvePublicNumbers(_b64url_int(jwk, "x"), _b64url_int(jwk, "y"), curve)
            if "d" not in jwk:
                return point.public_key()
            return ec.EllipticCurvePrivateNumbers(_b64url_int(jwk, "d"), point).private_key()
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            if "d" not in jwk:
                return ed25519.Ed25519PublicKey.from_public_bytes(_b64url(jwk, "x"))
            return ed25519.Ed25519PrivateKey.from_private_bytes(_b64url(jwk, "d"))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise FunctionError(f"error calling {func}: failed to parse JWK") from None
    raise FunctionError(f"error calling {func}: unsupported JWK key type")


def _jwk_public_key_pem(value: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    key = _jwk_key(value, "jwkPublicKeyPem")
    if not hasattr(key, "public_bytes"):  # Go: MarshalPKIXPublicKey refuses a private key
        raise FunctionError("error calling jwkPublicKeyPem: x509: unsupported public key type")
    return pem_encode("PUBLIC KEY", key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def _jwk_private_key_pem(value: Any) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    key = _jwk_key(value, "jwkPrivateKeyPem")
    if not hasattr(key, "private_bytes"):
        raise FunctionError("error calling jwkPrivateKeyPem: x509: unknown key type while marshaling PKCS#8")
    return pem_encode("PRIVATE KEY", key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))


# --- JSON, as Go's encoding/json writes it -----------------------------------------------------------

def _json_string(value: str, escape_html: bool) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch in "\b\f":  # Go 1.22+ writes these short forms too
            out.append("\\b" if ch == "\b" else "\\f")
        elif code < 0x20 or (escape_html and ch in "<>&") or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:  # a byte that was not UTF-8: Go writes U+FFFD
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_float(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("json: unsupported value")
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        mantissa, _, exp = repr(value).partition("e") if "e" in repr(value) else (f"{value:e}", "", "")
        text_ = f"{float(mantissa)!r}e{int(exp):+d}" if exp else repr(value)
        return text_.replace(".0e", "e")
    return repr(value)


def go_json_marshal(value: Any, *, escape_html: bool = True, indent: str | None = None, level: int = 0) -> str:
    """encoding/json Marshal (or MarshalIndent with `indent`): sorted keys, Go's string escapes."""
    if value is None or value is MISSING:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, str):
        return _json_string(value, escape_html)
    if isinstance(value, bytes):
        return _json_string(base64.b64encode(value).decode(), escape_html)
    pad, inner = ("", "") if indent is None else ("\n" + indent * level, "\n" + indent * (level + 1))
    colon = ":" if indent is None else ": "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [inner + _json_string(text(k), escape_html) + colon
                 + go_json_marshal(v, escape_html=escape_html, indent=indent, level=level + 1)
                 for k, v in sorted(value.items(), key=lambda kv: text(kv[0]).encode("utf-8", "surrogateescape"))]
        return "{" + ",".join(items) + pad + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = [inner + go_json_marshal(v, escape_html=escape_html, indent=indent, level=level + 1) for v in value]
        return "[" + ",".join(items) + pad + "]"
    raise ValueError("json: unsupported type")


def _json_or_empty(**options: Any) -> Callable[[Any], str]:
    def marshal(value: Any) -> str:
        try:
            return go_json_marshal(value, **options)
        except (ValueError, RecursionError):
            return ""
    return marshal


def _must_json(**options: Any) -> Callable[[Any], str]:
    def marshal(value: Any) -> str:
        try:
            return go_json_marshal(value, **options)
        except (ValueError, RecursionError):
            raise FunctionError("error calling mustToJson: json: unsupported value") from None
    return marshal


SPRIG_FIXES.update({
    "toJson": _json_or_empty(), "toPrettyJson": _json_or_empty(indent="  "),
    "toRawJson": _json_or_empty(escape_html=False), "mustToJson": _must_json(),
    "mustToPrettyJson": _must_json(indent="  "), "mustToRawJson": _must_json(escape_html=False),
})


# --- YAML (sigs.k8s.io/yaml: JSON, then goyaml.v2) ---------------------------------------------------

_YAML_BOOLS = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False",
               "FALSE", "on", "On", "ON", "off", "Off", "OFF"}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_YAML_SPECIAL_FLOATS = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                        ".NaN", ".NAN"}
_YAML_TIMESTAMP = re.compile(r"\d{4}-\d\d?-\d\d?(?:(?:[Tt]|[ \t]+)\d\d?:\d\d:\d\d(?:\.\d*)?"
                             r"(?:[ \t]*(?:Z|[-+]\d\d?(?::\d\d)?))?)?")
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def _resolves_to_string(plain: str) -> bool:
    """goyaml.v2 resolve("", s) gives !!str (and s is no base-60 float): the string may go unquoted."""
    if plain in ("", "~", "null", "Null", "NULL", "<<") or plain in _YAML_BOOLS or plain in _YAML_SPECIAL_FLOATS:
        return False
    if _BASE60.fullmatch(plain) or _YAML_FLOAT.fullmatch(plain) or _YAML_TIMESTAMP.fullmatch(plain):
        return False
    return parse_go_yaml_int(plain) is None


def parse_go_yaml_int(plain: str) -> int | None:
    cleaned = plain.replace("_", "")
    try:
        if re.fullmatch(r"[-+]?0b[01]+", cleaned):
            return int(cleaned.replace("0b", ""), 2)
        if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", cleaned):
            sign = -1 if cleaned.startswith("-") else 1
            body = cleaned.lstrip("+-")
            base = 16 if body[:2] in ("0x", "0X") else 8 if body.startswith("0") and len(body) > 1 else 10
            return sign * int(body[2:] if base == 16 else body, base)
    except ValueError:
        return None
    return None


def _printable(ch: str) -> bool:
    code = ord(ch)
    return (code == 0x0A or 0x20 <= code <= 0x7E or code == 0x85 or 0xA0 <= code <= 0xD7FF
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF) or 0x10000 <= code <= 0x10FFFF)


def _plain_allowed(value: str) -> bool:
    """libyaml's analysis: may the scalar be written plain in block context?"""
    if not value or value[0] in " \n" or value[-1] in " \n" or "\n" in value:
        return False
    if any(not _printable(ch) for ch in value):
        return False
    first = value[0]
    if first in "#,[]{}&*!|>'\"%@`":
        return False
    if first in "?:-" and (len(value) == 1 or value[1] == " "):
        return False
    for i, ch in enumerate(value):
        following = value[i + 1] if i + 1 < len(value) else ""
        if ch == ":" and following in ("", " "):
            return False
        if ch == "#" and i and value[i - 1] == " ":
            return False
    return True


def _double_quoted(value: str, column: int = 0, cont: int = 0, breaks: bool = False) -> str:
    """libyaml's double-quoted scalar, folded at spaces past column 80 when `breaks`."""
    escapes = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f", "\r": "r",
               "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\u2028": "L", "\u2029": "P"}
    out, col, spaces = ['"'], column + 1, False
    for i, ch in enumerate(value):
        code = ord(ch)
        if ch == " ":
            if breaks and not spaces and col > _YAML_WIDTH and 0 < i < len(value) - 1:
                out.append("\n" + " " * cont)
                col = cont
                if value[i + 1] == " ":
                    out.append("\\")
                    col += 1
            else:
                out.append(ch)
                col += 1
            spaces = True
            continue
        spaces = False
        if ch in escapes:
            piece = "\\" + escapes[ch]
        elif not _printable(ch) or code == 0xFEFF:
            piece = (f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}" if code <= 0xFFFF
                     else f"\\U{code:08X}")
        else:
            piece = ch
        out.append(piece)
        col += len(piece)
    out.append('"')
    return "".join(out)


_YAML_WIDTH = 80


def _fold(value: str, column: int, cont: int, quoted: bool) -> str:
    """libyaml's plain / single-quoted writers: a space past column 80 becomes a line break."""
    out, col, spaces = [], column + (1 if quoted else 0), False
    for i, ch in enumerate(value):
        if ch == " ":
            following = value[i + 1] if i + 1 < len(value) else ""
            edge_ok = not quoted or 0 < i < len(value) - 1
            if not spaces and col > _YAML_WIDTH and following != " " and edge_ok:
                out.append("\n" + " " * cont)
                col = cont
            else:
                out.append(ch)
                col += 1
            spaces = True
        else:
            out.append(ch)
            col += 1
            spaces = False
    return "".join(out)


def _yaml_string(value: str, indent: int, is_key: bool, column: int = 0) -> str:
    plain = _resolves_to_string(value)
    cont = indent + 2 if not is_key else indent
    if "\n" in value and not is_key and all(_printable(ch) for ch in value) and not value.startswith(" "):
        trailing = len(value) - len(value.rstrip("\n"))
        chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
        body = value[:-1] if trailing >= 1 else value
        pad = " " * (indent + 2 if indent or not is_key else 2)
        lines = "\n".join(pad + line if line else "" for line in body.split("\n"))
        return f"|{chomp}\n{lines}"
    if plain and _plain_allowed(value):
        return value if is_key else _fold(value, column, cont, quoted=False)
    if not plain or "\n" in value or any(not _printable(ch) for ch in value):
        return _double_quoted(value, column, cont, breaks=not is_key)
    quoted = value.replace("'", "''")
    return "'" + (quoted if is_key else _fold(quoted, column, cont, quoted=True)) + "'"


def _go_yaml_key_less(a: str, b: str) -> int:
    """goyaml.v2 keyList.Less for string keys (digit runs compare as numbers, letters after others)."""
    ar, br = list(a), list(b)
    for i in range(min(len(ar), len(br))):
        if ar[i] == br[i]:
            continue
        al, bl = ar[i].isalpha(), br[i].isalpha()
        if al and bl:
            return -1 if ar[i] < br[i] else 1
        if al or bl:
            return -1 if bl else 1
        an = bn = 0
        if ar[i] == "0" or br[i] == "0":
            j = i - 1
            while j >= 0 and ar[j].isdigit():
                if ar[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(ar) and ar[ai].isdigit():
            an, ai = an * 10 + int(ar[ai]), ai + 1
        bi = i
        while bi < len(br) and br[bi].isdigit():
            bn, bi = bn * 10 + int(br[bi]), bi + 1
        if an != bn:
            return -1 if an < bn else 1
        if ai != bi:
            return -1 if ai < bi else 1
        return -1 if ar[i] < br[i] else 1
    return -1 if len(ar) < len(br) else 1 if len(ar) > len(br) else 0


def _yaml_node(value: Any, indent: int) -> list[str]:
    """Lines of a block node at `indent` (goyaml.v2: sequences in mappings are not indented)."""
    import functools
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = []
        for key in sorted(value, key=functools.cmp_to_key(_go_yaml_key_less)):
            child = value[key]
            head = pad + _yaml_string(key, indent, True) + ":"
            if isinstance(child, dict) and child:
                lines.append(head)
                lines.extend(_yaml_node(child, indent + 2))
            elif isinstance(child, list) and child:
                lines.append(head)
                lines.extend(_yaml_node(child, indent))
            else:
                lines.append(head + " " + _yaml_scalar(child, indent, len(head) + 1))
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            if isinstance(item, dict | list) and item:
                inner = _yaml_node(item, indent + 2)
                lines.append(pad + "- " + inner[0][indent + 2:])
                lines.extend(inner[1:])
            else:
                lines.append(pad + "- " + _yaml_scalar(item, indent, indent + 2))
        return lines
    return [pad + _yaml_scalar(value, indent, indent)]


def _yaml_scalar(value: Any, indent: int, column: int = 0) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(_go_float64_g(value), _go_float64_g(value))
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _yaml_string(text(value), indent, False, column)


def _go_float64_g(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    digits = repr(value)
    mantissa, _, exp_text = digits.partition("e")
    digits_only = mantissa.lstrip("-").replace(".", "").lstrip("0") or "0"
    if "e" in digits:
        exp = int(exp_text)
    else:
        whole = mantissa.lstrip("-").split(".")[0]
        exp = len(whole.lstrip("0")) - 1 if whole.strip("0") else -(len(mantissa.split(".")[1]) -
                                                                      len(mantissa.split(".")[1].lstrip("0")) + 1)
    digits_only = digits_only.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    if exp < -4 or exp >= 21:
        body = digits_only[0] + ("." + digits_only[1:] if len(digits_only) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    text_ = f"{abs(value):f}".rstrip("0").rstrip(".") if abs(value) >= 1e-4 else repr(abs(value))
    return sign + text_


def to_yaml(value: Any) -> str:
    """ESO's toYaml: sigs.k8s.io/yaml.Marshal (JSON, then goyaml.v2) without the final newline."""
    try:
        view = json.loads(go_json_marshal(value))
    except (TypeError, ValueError, RecursionError):
        return ""
    return "\n".join(_yaml_node(view, 0))


class YamlError(ValueError):
    """The YAML did not parse (the parser's own text quotes the input, so it is not kept)."""


def load_yaml_go(source: bytes) -> Any:
    """goyaml.v2's view of a document (YAML 1.1: yes/no/on/off/y/n are booleans; timestamps stay text),
    as sigs.k8s.io/yaml sees it: mapping keys become strings. Raises YamlError."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 1)
    try:
        check_yaml_depth(source.decode("utf-8", "replace") if isinstance(source, bytes) else source, "fromYaml")
        with warnings.catch_warnings():  # ruamel's warnings print the source lines (values) to stderr
            warnings.simplefilter("ignore")
            root = yaml.compose(source)
    except Exception:
        raise YamlError("yaml: invalid YAML") from None
    constructor = yaml.constructor

    def scalar(node: Any) -> Any:
        tag = node.tag.split(":")[-1]
        if node.style is None and node.value in ("y", "Y", "n", "N"):
            return node.value in ("y", "Y")
        try:
            if tag == "null":
                return None
            if tag == "bool":
                return node.value.lower() in ("yes", "true", "on", "y")
            if tag == "int":
                return constructor.construct_yaml_int(node)
            if tag == "float":
                with warnings.catch_warnings():  # ruamel warns about 1e6 (no dot); goyaml reads a float
                    warnings.simplefilter("ignore")
                    return constructor.construct_yaml_float(node)
        except (ValueError, TypeError):
            return node.value
        return node.value

    def convert(node: Any, depth: int = 0) -> Any:
        if depth > 1000:
            raise YamlError("yaml: exceeded max depth")
        if isinstance(node, ScalarNode):
            return scalar(node)
        if isinstance(node, SequenceNode):
            return [convert(item, depth + 1) for item in node.value]
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = convert(key_node, depth + 1)
                if isinstance(key, list | dict):
                    raise YamlError("error converting YAML to JSON: unsupported map key")
                out["" if key is None else yaml_scalar_text(key)] = convert(value_node, depth + 1)
            return out
        return None

    return None if root is None else convert(root)


def yaml_scalar_text(value: Any) -> str:
    """sigs.k8s.io/yaml's text of a scalar for a string target (floats as FormatFloat 'g', 32 bits)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_format_float32_g(value)
    return value if isinstance(value, str) else str(value)


def go_format_float32_g(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 32): the shortest float32 digits, %e when exp < -4 or >= 6."""
    import math
    import struct
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    single = struct.unpack("f", struct.pack("f", value))[0]
    if single == 0:
        return "0"
    mantissa = f"{single:.8e}"
    for digits in range(1, 10):
        mantissa = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(mantissa)))[0] == single:
            break
    head, _, exponent = mantissa.partition("e")
    exp = int(exponent)
    sign = "-" if head.startswith("-") else ""
    digits_text = head.lstrip("-").replace(".", "")
    if exp < -4 or exp >= 6:
        body = digits_text[0] + ("." + digits_text[1:] if len(digits_text) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits_text}"
    if len(digits_text) <= exp + 1:
        return sign + digits_text + "0" * (exp + 1 - len(digits_text))
    return f"{sign}{digits_text[:exp + 1]}.{digits_text[exp + 1:]}"


def from_yaml(value: Any) -> dict[str, Any]:
    """ESO's fromYaml: a map; a parse failure is reported in the map's "Error" key, as ESO does
    (with a shorter text than goyaml's, which quotes the input)."""
    try:
        view = load_yaml_go(go_bytes(value))
    except YamlError:
        return {"Error": "error converting YAML to JSON: yaml: invalid YAML"}
    if view is None:
        return {}
    if isinstance(view, dict):
        return _floats(view)
    if not isinstance(view, dict):
        return {"Error": "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
                         f"{json_kind(view)} into Go value of type map[string]interface {{}}"}
    return view


def _floats(value: Any) -> Any:
    """JSON numbers decoded into interface{} are float64 in Go."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


# --- Sprig functions the shared table does not have (Sprig 3.2 semantics, as ESO's fork) ------------
# They would sit better in gotemplate/sprig.py; they live here until its owner takes them.

def _seq(value: Any, func: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise FunctionError(f"error calling {func}: Cannot find {func.removeprefix('must').lower()} on type "
                        f"{_kind(value)}")


def _kind(value: Any) -> str:
    if value is None or value is MISSING:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "slice"
    if isinstance(value, dict):
        return "map"
    return "struct"


def _type(value: Any) -> str:
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, StringMap):
        return "map[string]string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return _kind(value)


def _list_func(name: str, body: Callable[[list[Any]], Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def plain(value: Any) -> Any:
        return body(_seq(value, name))

    def must(value: Any) -> Any:
        return body(_seq(value, "must" + name[0].upper() + name[1:]))
    return plain, must


def _trunc_div(a: int, b: int) -> int:
    if b == 0:
        raise FunctionError("error calling div: runtime error: integer divide by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _to_float(value: Any) -> float:
    """spf13/cast ToFloat64 (0 when it cannot convert)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) else 0.0
        except ValueError:
            return 0.0
    return 0.0


def _regex(pattern: Any, func: str) -> re.Pattern[str]:
    try:
        return re.compile(text(pattern))
    except re.error:
        raise FunctionError(f"error calling {func}: error parsing regexp") from None


def _go_expand(template: str, match: re.Match[str]) -> str:
    """regexp.Expand: $1, ${1}, $name, ${name}, $$; an unknown group is empty."""
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        if template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if template[i + 1] == "{":
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end > 0 else ""
            if end < 0 or not re.fullmatch(r"\w+", name):
                out.append(ch)
                i += 1
                continue
            i = end + 1
        else:
            found = re.match(r"\w+", template[i + 1:])
            if not found:
                out.append(ch)
                i += 1
                continue
            name = found.group()
            i += 1 + len(name)
        try:
            group = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:
            group = ""
        out.append(group or "")
    return "".join(out)


def _go_split(pattern: re.Pattern[str], value: str, n: int) -> list[str]:
    """regexp.Split(s, n)."""
    if n == 0:
        return []
    if pattern.pattern and not value:
        return [""]
    matches = list(pattern.finditer(value))
    if n > 0:
        matches = matches[:n]
    out: list[str] = []
    beg = end = 0
    for m in matches:
        if n > 0 and len(out) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            out.append(value[beg:end])
        beg = m.end()
    if end != len(value):
        out.append(value[beg:])
    return out


def _go_path_clean(path: str) -> str:
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or ("/" if rooted else ".")


def _go_path_base(path: str) -> str:
    if not path:
        return "."
    path = path.rstrip("/")
    if not path:
        return "/"
    return path.rsplit("/", 1)[-1]


def _go_path_dir(path: str) -> str:
    head = path[:path.rfind("/") + 1]
    return _go_path_clean(head)


def _go_path_ext(path: str) -> str:
    for i in range(len(path) - 1, -1, -1):
        if path[i] == "/":
            break
        if path[i] == ".":
            return path[i:]
    return ""


def _merge(dst: Any, *sources: Any, overwrite: bool = False) -> Any:
    def into(target: dict[str, Any], src: dict[str, Any]) -> None:
        for key, value in src.items():
            if key in target and isinstance(target[key], dict) and isinstance(value, dict):
                into(target[key], value)
            elif key not in target or overwrite or not truthy(target[key]):
                target[key] = value
    for src in sources:
        if isinstance(dst, dict) and isinstance(src, dict):
            into(dst, src)
    return dst


def _dig(*args: Any) -> Any:
    if len(args) < 3:
        raise FunctionError("error calling dig: dig needs at least three arguments")
    current, default, keys = args[-1], args[-2], [text(k) for k in args[:-2]]
    for index, key in enumerate(keys):
        if not isinstance(current, dict) or isinstance(current, StringMap):
            raise FunctionError("error calling dig: interface conversion: not a map[string]interface {}")
        if key not in current:
            return default
        current = current[key]
        if index == len(keys) - 1:
            return current
    return default


def _strval(value: Any) -> str:
    return text(value) if value is not MISSING else "<nil>"


def _random(alphabet: str) -> Callable[[Any], str]:
    import secrets

    def make(count: Any) -> str:
        return "".join(secrets.choice(alphabet) for _ in range(int(count)))
    return make


def _uuid4() -> str:
    import uuid
    return str(uuid.uuid4())


def _fail(message: Any) -> str:
    raise FunctionError("error calling fail: (the template's message is not repeated here)")


def _substr(start: Any, end: Any, value: Any) -> str:
    raw, start, end = go_bytes(value), int(start), int(end)
    if start < 0:
        return go_string(raw[:end])
    if end < 0 or end > len(raw):
        return go_string(raw[start:])
    return go_string(raw[start:end])


def _abbrev(width: Any, value: Any) -> str:
    width, value = int(width), text(value)
    if width < 4 or len(value) <= width:
        return value
    return value[:width - 3] + "..."


def _uniq(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


# an empty list gives Go's nil interface{}, which a template prints as <no value>
_first, _must_first = _list_func("first", lambda items: items[0] if items else MISSING)
_last, _must_last = _list_func("last", lambda items: items[-1] if items else MISSING)
_rest, _must_rest = _list_func("rest", lambda items: items[1:])
_initial, _must_initial = _list_func("initial", lambda items: items[:-1])
_reverse, _must_reverse = _list_func("reverse", lambda items: items[::-1])
_unique, _must_unique = _list_func("uniq", _uniq)
_compact, _must_compact = _list_func("compact", lambda items: [i for i in items if truthy(i)])


def _without(items: Any, *omit: Any) -> list[Any]:
    return [i for i in _seq(items, "without") if i not in omit]


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None or haystack is MISSING:
        return False
    return needle in _seq(haystack, "has")


def _until_step(start: Any, stop: Any, step: Any) -> list[int]:
    start, stop, step = int(start), int(stop), int(step)
    if stop < start:
        return list(range(start, stop, step)) if step < 0 else []
    return list(range(start, stop, step)) if step > 0 else []


def _chunk(size: Any, items: Any) -> list[list[Any]]:
    values, size = _seq(items, "chunk"), int(size)
    return [values[i:i + size] for i in range(0, len(values), size)] if size > 0 else []


def _slice(items: Any, *indexes: Any) -> list[Any]:
    values = _seq(items, "slice")
    start = int(indexes[0]) if indexes else 0
    end = int(indexes[1]) if len(indexes) > 1 else len(values)
    if not 0 <= start <= end <= len(values):
        raise FunctionError("error calling slice: slice bounds out of range")
    return values[start:end]


def _round(value: Any, places: Any, *half: Any) -> float:
    import math
    boundary = _to_float(half[0]) if half else 0.5
    number, scale = _to_float(value), 10 ** int(places)
    digit = number * scale
    fraction, _ = math.modf(digit)
    rounded = math.ceil(digit) if fraction >= boundary else math.floor(digit)
    return rounded / scale


def _regex_find_all(pattern: Any, value: Any, n: Any, func: str = "regexFindAll") -> list[str]:
    found = [m.group() for m in _regex(pattern, func).finditer(text(value))]
    return found if int(n) < 0 else found[:int(n)]


def _regex_find(pattern: Any, value: Any, func: str = "regexFind") -> str:
    found = _regex(pattern, func).search(text(value))
    return found.group() if found else ""


def _regex_replace(pattern: Any, value: Any, repl: Any, func: str = "regexReplaceAll") -> str:
    return _regex(pattern, func).sub(lambda m: _go_expand(text(repl), m), text(value))


def _regex_replace_literal(pattern: Any, value: Any, repl: Any, func: str = "regexReplaceAllLiteral") -> str:
    return _regex(pattern, func).sub(lambda m: text(repl), text(value))


def _regex_split(pattern: Any, value: Any, n: Any, func: str = "regexSplit") -> list[str]:
    return _go_split(_regex(pattern, func), text(value), int(n))


def _regex_match(pattern: Any, value: Any) -> bool:
    try:
        return re.search(text(pattern), text(value)) is not None
    except re.error:
        return False


def _deep_copy(value: Any) -> Any:
    import copy
    return copy.deepcopy(value)


SPRIG_MORE: dict[str, Callable[..., Any]] = {
    "hello": lambda: "Hello!",
    # strings
    "split": lambda sep, s: {f"_{i}": part for i, part in enumerate(text(s).split(text(sep)))},
    "splitn": lambda sep, n, s: {f"_{i}": part for i, part in enumerate(
        text(s).split(text(sep), int(n) - 1) if int(n) > 0 else [])},
    "substr": _substr, "trimall": lambda cut, s: text(s).strip(text(cut)), "abbrev": _abbrev,
    "plural": lambda one, many, count: text(one) if int(count) == 1 else text(many),
    "initials": lambda s: "".join(w[0] for w in text(s).split()),
    "toStrings": lambda items: [_strval(i) for i in _seq(items, "toStrings")],
    "adler32sum": lambda s: str(__import__("zlib").adler32(go_bytes(s))),
    # lists
    "first": _first, "mustFirst": _must_first, "last": _last, "mustLast": _must_last, "rest": _rest,
    "mustRest": _must_rest, "initial": _initial, "mustInitial": _must_initial, "reverse": _reverse,
    "mustReverse": _must_reverse, "uniq": _unique, "mustUniq": _must_unique, "compact": _compact,
    "mustCompact": _must_compact, "without": _without, "mustWithout": _without, "has": _has, "mustHas": _has,
    "append": lambda items, v: [*_seq(items, "append"), v], "mustAppend": lambda items, v: [*_seq(items, "append"), v],
    "push": lambda items, v: [*_seq(items, "push"), v],
    "prepend": lambda items, v: [v, *_seq(items, "prepend")],
    "mustPrepend": lambda items, v: [v, *_seq(items, "prepend")],
    "concat": lambda *lists: [i for items in lists for i in _seq(items, "concat")],
    "sortAlpha": lambda items: sorted(_strval(i) for i in (items if isinstance(items, list) else [items])),
    "tuple": lambda *a: list(a), "chunk": _chunk, "mustChunk": _chunk, "slice": _slice, "mustSlice": _slice,
    "until": lambda n: _until_step(0, n, 1 if int(n) >= 0 else -1), "untilStep": _until_step,
    # dicts
    "dig": _dig, "pick": lambda d, *ks: {k: d[k] for k in map(text, ks) if k in d},
    "omit": lambda d, *ks: {k: v for k, v in d.items() if k not in {text(x) for x in ks}},
    "set": lambda d, k, v: (d.__setitem__(text(k), v), d)[1], "unset": lambda d, k: (d.pop(text(k), None), d)[1],
    "values": lambda d: list(d.values()), "pluck": lambda k, *ds: [d[text(k)] for d in ds if text(k) in d],
    "merge": lambda dst, *src: _merge(dst, *src), "mustMerge": lambda dst, *src: _merge(dst, *src),
    "mergeOverwrite": lambda dst, *src: _merge(dst, *src, overwrite=True),
    "mustMergeOverwrite": lambda dst, *src: _merge(dst, *src, overwrite=True),
    "deepCopy": _deep_copy, "mustDeepCopy": _deep_copy,
    # numbers
    "add1": lambda a: to_int64(a) + 1, "sub": lambda a, b: to_int64(a) - to_int64(b),
    "mul": lambda a, *v: __import__("math").prod([to_int64(a), *map(to_int64, v)]),
    "div": lambda a, b: _trunc_div(to_int64(a), to_int64(b)),
    "mod": lambda a, b: to_int64(a) - to_int64(b) * _trunc_div(to_int64(a), to_int64(b)),
    "max": lambda a, *v: max([to_int64(a), *map(to_int64, v)]),
    "min": lambda a, *v: min([to_int64(a), *map(to_int64, v)]),
    "int": to_int64, "int64": to_int64, "float64": _to_float,
    "floor": lambda a: float(__import__("math").floor(_to_float(a))),
    "ceil": lambda a: float(__import__("math").ceil(_to_float(a))), "round": _round,
    "toDecimal": lambda v: _to_decimal(v),
    # types
    "kindOf": _kind, "typeOf": _type, "kindIs": lambda k, v: text(k) == _kind(v),
    "typeIs": lambda t, v: text(t) == _type(v), "typeIsLike": lambda t, v: text(t) in (_type(v), "*" + _type(v)),
    "deepEqual": lambda a, b: a == b and _type(a) == _type(b),
    # regular expressions (Python's re: RE2 syntax is close for common patterns)
    "regexMatch": _regex_match, "mustRegexMatch": lambda p, s: _regex(p, "mustRegexMatch").search(text(s)) is not None,
    "regexFind": _regex_find, "mustRegexFind": lambda p, s: _regex_find(p, s, "mustRegexFind"),
    "regexFindAll": _regex_find_all, "mustRegexFindAll": lambda p, s, n: _regex_find_all(p, s, n, "mustRegexFindAll"),
    "regexReplaceAll": _regex_replace,
    "mustRegexReplaceAll": lambda p, s, r: _regex_replace(p, s, r, "mustRegexReplaceAll"),
    "regexReplaceAllLiteral": _regex_replace_literal,
    "mustRegexReplaceAllLiteral": lambda p, s, r: _regex_replace_literal(p, s, r, "mustRegexReplaceAllLiteral"),
    "regexSplit": _regex_split, "mustRegexSplit": lambda p, s, n: _regex_split(p, s, n, "mustRegexSplit"),
    "regexQuoteMeta": lambda s: re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text(s)),
    # paths
    "base": lambda p: _go_path_base(text(p)), "dir": lambda p: _go_path_dir(text(p)),
    "ext": lambda p: _go_path_ext(text(p)), "clean": lambda p: _go_path_clean(text(p)),
    "isAbs": lambda p: text(p).startswith("/"), "osBase": lambda p: _go_path_base(text(p)),
    "osDir": lambda p: _go_path_dir(text(p)), "osExt": lambda p: _go_path_ext(text(p)),
    "osClean": lambda p: _go_path_clean(text(p)), "osIsAbs": lambda p: text(p).startswith("/"),
    # random values and failure
    "randAlphaNum": _random("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
    "randAlpha": _random("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
    "randNumeric": _random("0123456789"),
    "randAscii": _random("".join(chr(c) for c in range(32, 127))), "uuidv4": _uuid4, "fail": _fail,
}


def _decimal_fold(op: str) -> Callable[..., float]:
    """Sprig's addf/subf/mulf/divf/maxf/minf: shopspring decimal arithmetic on toFloat64 values."""
    from decimal import Decimal, DivisionByZero, InvalidOperation

    def fold(first: Any, *rest: Any) -> float:
        total = Decimal(repr(_to_float(first)))
        for value in rest:
            number = Decimal(repr(_to_float(value)))
            try:
                total = {"add": total + number, "sub": total - number, "mul": total * number,
                         "max": max(total, number), "min": min(total, number)}[op] if op != "div" else total / number
            except (DivisionByZero, InvalidOperation):
                raise FunctionError(f"error calling {op}f: decimal division by 0") from None
        return float(total)
    return fold


def _bcrypt(value: Any) -> str:
    """Sprig's bcrypt: golang.org/x/crypto/bcrypt at its default cost 10, `$2a$` form; failures as text."""
    try:
        import bcrypt
    except ImportError:
        raise FunctionError("error calling bcrypt: the Python package 'bcrypt' is not installed") from None
    secret = go_bytes(value)
    if len(secret) > 72:
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
    return bytes(bcrypt.hashpw(secret, bcrypt.gensalt(rounds=10, prefix=b"2a"))).decode()


def _htpasswd(username: Any, password: Any) -> str:
    if ":" in text(username):
        return f"invalid username: {text(username)}"
    return f"{text(username)}:{_bcrypt(password)}"


def _swapcase(value: Any) -> str:
    """goutils.SwapCase: upper and title case to lower; lower to upper, or title case after whitespace."""
    out, whitespace = [], True
    for ch in text(value):
        if ch.isupper() or ch.istitle():
            out.append(ch.lower())
            whitespace = False
        elif ch.islower():
            out.append(ch.title() if whitespace else ch.upper())
            whitespace = False
        else:
            out.append(ch)
            whitespace = ch.isspace()
    return "".join(out)


def _untitle(value: Any) -> str:
    """goutils.Uncapitalize: the first letter of each whitespace-separated word to lower case."""
    out, next_word = [], True
    for ch in text(value):
        if ch.isspace():
            next_word = True
            out.append(ch)
        elif next_word:
            out.append(ch.lower())
            next_word = False
        else:
            out.append(ch)
    return "".join(out)


def _url_parse(value: Any) -> dict[str, Any]:
    """Sprig's urlParse (net/url.Parse) for hierarchical URLs: scheme, host, hostname, path, query, ..."""
    from urllib.parse import unquote, urlsplit
    try:
        parts = urlsplit(text(value))
    except ValueError:
        raise FunctionError("error calling urlParse: unable to parse url") from None
    userinfo, _, host = parts.netloc.rpartition("@")
    hostname = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0] \
        if host.count(":") == 1 else host
    opaque, path = "", unquote(parts.path)
    if parts.scheme and not parts.netloc and not text(value)[len(parts.scheme) + 1:].startswith("/"):
        opaque, path = parts.path, ""
    return {"scheme": parts.scheme.lower(), "host": host, "hostname": hostname, "path": path, "query": parts.query,
            "opaque": opaque, "fragment": unquote(parts.fragment), "userinfo": userinfo}


def _rand_bytes(count: Any) -> str:
    import secrets
    return base64.b64encode(secrets.token_bytes(int(count))).decode()


SPRIG_MORE.update({
    "addf": _decimal_fold("add"), "subf": _decimal_fold("sub"), "mulf": _decimal_fold("mul"),
    "divf": _decimal_fold("div"), "maxf": _decimal_fold("max"), "minf": _decimal_fold("min"),
    "add1f": lambda a: _decimal_fold("add")(a, 1.0), "biggest": lambda a, *v: max([to_int64(a), *map(to_int64, v)]),
    "all": lambda *v: all(truthy(x) for x in v), "any": lambda *v: any(truthy(x) for x in v),
    "mustPush": lambda items, v: [*_seq(items, "mustPush"), v], "randBytes": _rand_bytes,
    "bcrypt": _bcrypt, "htpasswd": _htpasswd, "swapcase": _swapcase, "untitle": _untitle, "urlParse": _url_parse,
})


# --- huandu/xstrings v1.5.0 (ESO's build): snakecase, kebabcase, camelcase (lower camel case) --------

_INVALID, _NUMBER, _UPPER, _ALPHA, _CONNECTOR, _PUNCT, _OTHER = range(7)


def _is_connector(ch: str) -> bool:
    return ch in "-_" or ch.isspace()


def _is_alphabet(ch: str) -> bool:
    if not ch.isalpha():
        return False
    code = ord(ch)
    return code < 0x2E80 or not (0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or code >= 0x20000)


def _is_punct(ch: str) -> bool:
    import unicodedata
    return unicodedata.category(ch).startswith("P")


def _is_number(ch: str) -> bool:
    import unicodedata
    return unicodedata.category(ch).startswith("N")


def _next_word(s: str) -> tuple[int, str, str]:
    if not s:
        return _INVALID, "", ""
    first, i = s[0], 1
    if _is_connector(first):
        kind = _CONNECTOR
        while i < len(s) and _is_connector(s[i]):
            i += 1
    elif _is_punct(first):
        kind = _PUNCT
        while i < len(s) and _is_punct(s[i]):
            i += 1
    elif first.isupper():
        kind = _UPPER
        if i < len(s):
            if s[i].isupper():
                while i < len(s) and s[i].isupper():
                    i += 1
                if i < len(s) and _is_alphabet(s[i]):
                    i -= 1  # "HTTPStatus": "HTTP" then "Status"
            elif _is_alphabet(s[i]):
                while i < len(s) and _is_alphabet(s[i]) and not s[i].isupper():
                    i += 1
    elif _is_alphabet(first):
        kind = _ALPHA
        while i < len(s) and _is_alphabet(s[i]) and not s[i].isupper():
            i += 1
    elif _is_number(first):
        kind = _NUMBER
        while i < len(s) and _is_number(s[i]):
            i += 1
    else:
        kind = _OTHER
        while i < len(s) and not (_is_connector(s[i]) or _is_alphabet(s[i]) or _is_number(s[i]) or _is_punct(s[i])):
            i += 1
    return kind, s[:i], s[i:]


def _to_lower(buf: list[str], kind: int, word: str, connector: str) -> None:
    if kind not in (_UPPER, _CONNECTOR):
        buf.append(word)
        return
    for ch in word:
        buf.append(connector if _is_connector(ch) else ch.lower() if ch.isupper() else ch)


def _camel_to_lower(value: Any, connector: str) -> str:
    s = text(value)
    if not s:
        return ""
    buf: list[str] = []
    kind, word, rest = _next_word(s)
    while rest:
        if kind != _CONNECTOR:
            _to_lower(buf, kind, word, connector)
        prev, last = kind, word
        kind, word, rest = _next_word(rest)
        if prev == _NUMBER:
            while kind in (_ALPHA, _NUMBER):
                _to_lower(buf, kind, word, connector)
                kind, word, rest = _next_word(rest)
            if kind not in (_INVALID, _PUNCT, _CONNECTOR):
                buf.append(connector)
        elif prev == _CONNECTOR:
            _to_lower(buf, prev, last, connector)
        elif prev == _PUNCT:
            pass
        else:
            if kind != _NUMBER:
                if kind not in (_CONNECTOR, _PUNCT):
                    buf.append(connector)
                continue
            if not rest:
                continue
            number = word
            kind, word, rest = _next_word(rest)
            if kind != _ALPHA:
                _to_lower(buf, _NUMBER, number, connector)
                if kind not in (_CONNECTOR, _PUNCT):
                    buf.append(connector)
                continue
            buf.append(connector)
            _to_lower(buf, _NUMBER, number, connector)
            while kind in (_ALPHA, _NUMBER):
                _to_lower(buf, kind, word, connector)
                kind, word, rest = _next_word(rest)
            if kind not in (_INVALID, _CONNECTOR, _PUNCT):
                buf.append(connector)
    _to_lower(buf, kind, word, connector)
    return "".join(buf)


def _camelcase(value: Any) -> str:
    """xstrings.ToCamelCase (v1.5: lower camel case)."""
    s = text(value)
    if not s:
        return ""
    buf: list[str] = []
    i, first_upper, r0 = 0, False, ""
    while i < len(s):
        r0 = s[i]
        i += 1
        if not _is_connector(r0):
            first_upper = r0.isupper()
            r0 = r0.lower()
            break
        buf.append(r0)
    if i >= len(s):  # one rune left (or only connectors: Go writes the last one twice)
        buf.append(r0)
        return "".join(buf)
    while i < len(s):
        r1, r0 = r0, s[i]
        i += 1
        if _is_connector(r0) and _is_connector(r1):
            buf.append(r1)
            continue
        if _is_connector(r1):
            first_upper = r0.isupper()
            r0 = r0.upper()
        else:
            if first_upper:
                if r0.isupper():
                    r0 = r0.lower()
                else:
                    first_upper = False
            buf.append(r1)
    if first_upper:
        r0 = r0.lower()
    buf.append(r0)
    return "".join(buf)


SPRIG_MORE.update({"snakecase": lambda v: _camel_to_lower(v, "_"), "kebabcase": lambda v: _camel_to_lower(v, "-"),
                   "camelcase": _camelcase})


def _wrap_custom(value: str, width: int, newline: str, long_words: bool) -> str:
    """goutils.WrapCustom (byte offsets, as Go)."""
    if not value:
        return ""
    newline = newline or "\n"
    width = max(width, 1)
    out, offset, total = [], 0, len(value)
    while total - offset > width:
        if value[offset] == " ":
            offset += 1
            continue
        end = width + offset + 1
        space = value[offset:end].rfind(" ") + offset
        if space >= offset:
            out.append(value[offset:space] + newline)
            offset = space + 1
        elif long_words:
            out.append(value[offset:width + offset] + newline)
            offset += width
        else:
            index = value[width + offset:].find(" ")
            if index == -1:
                out.append(value[offset:])
                offset = total
            else:
                space = index + width + offset
                out.append(value[offset:space] + newline)
                offset = space + 1
    out.append(value[offset:])
    return "".join(out)


def _abbrev_full(value: str, offset: int, width: int) -> str:
    """goutils.AbbreviateFull ("" on its errors, as Sprig ignores them)."""
    if not value:
        return ""
    if width < 4:
        return ""
    if len(value) <= width:
        return value
    offset = min(offset, len(value))
    if len(value) - offset < width - 3:
        offset = len(value) - (width - 3)
    if offset <= 4:
        return value[:width - 3] + "..."
    if width < 7:
        return ""
    if offset + width - 3 < len(value):
        return "..." + _abbrev(width - 3, value[offset:])
    return "..." + value[len(value) - (width - 3):]


def _sprig_seq(*params: Any) -> str:
    """Sprig's seq: numbers joined by spaces, like GNU seq."""
    numbers = [int(p) for p in params]
    if len(numbers) == 1:
        start, end = 1, numbers[0]
        step = -1 if end < start else 1
        return " ".join(map(str, _until_step(start, end + step, step)))
    if len(numbers) == 2:
        start, end = numbers
        step = -1 if end < start else 1
        return " ".join(map(str, _until_step(start, end + step, step)))
    if len(numbers) == 3:
        start, step, end = numbers
        increment = 1
        if end < start:
            increment = -1
            if step > 0:
                return ""
        return " ".join(map(str, _until_step(start, end + increment, step)))
    return ""


def _url_join(parts: Any) -> str:
    """Sprig's urlJoin: net/url.URL{...}.String() for the common fields."""
    from urllib.parse import quote
    if not isinstance(parts, dict):
        raise FunctionError("error calling urlJoin: not a dict")
    get = {k: text(parts.get(k, "")) for k in ("scheme", "host", "path", "query", "opaque", "fragment", "userinfo")}
    out = []
    if get["scheme"]:
        out.append(get["scheme"] + ":")
    if get["opaque"]:
        out.append(get["opaque"])
    else:
        if get["scheme"] or get["host"] or get["userinfo"]:
            if get["host"] or get["path"] or get["userinfo"]:
                out.append("//")
            if get["userinfo"]:
                out.append(get["userinfo"] + "@")
            out.append(get["host"])
        path = quote(get["path"], safe="/:@!$&'()*+,;=-._~")
        if path and not path.startswith("/") and get["host"]:
            out.append("/")
        out.append(path)
    if get["query"]:
        out.append("?" + get["query"])
    if get["fragment"]:
        out.append("#" + quote(get["fragment"], safe="/:@!$&'()*+,;=-._~?"))
    return "".join(out)


def _rand_int(low: Any, high: Any) -> int:
    import secrets
    low, high = int(low), int(high)
    if high <= low:
        raise FunctionError("error calling randInt: invalid argument to Intn")
    return low + secrets.randbelow(high - low)


def _shuffle(value: Any) -> str:
    import secrets
    chars = list(text(value))
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


SPRIG_MORE.update({
    "wrap": lambda width, s: _wrap_custom(text(s), int(width), "", False),
    "wrapWith": lambda width, sep, s: _wrap_custom(text(s), int(width), text(sep), True),
    "abbrevboth": lambda left, right, s: text(s) if int(right) < 4 or (int(left) > 0 and int(right) < 7)
    else _abbrev_full(text(s), int(left), int(right)),
    "seq": _sprig_seq, "urlJoin": _url_join, "randInt": _rand_int, "shuffle": _shuffle,
})


def _to_decimal(value: Any) -> int:
    """Sprig's toDecimal: an octal string to int64 (0 when it does not parse)."""
    try:
        return int(text(value), 8)
    except ValueError:
        return 0


ESO_EXTRAS: dict[str, Callable[..., Any]] = {
    "pkcs12key": lambda v: _pkcs12_key_pass("", v, "pkcs12key"),
    "pkcs12keyPass": _pkcs12_key_pass,
    "pkcs12cert": lambda v: _pkcs12_cert_pass("", v, "pkcs12cert"),
    "pkcs12certPass": _pkcs12_cert_pass,
    "pemToPkcs12": lambda c, k: _to_pkcs12(c, k, "", False, "pemToPkcs12"),
    "pemToPkcs12Pass": lambda c, k, p: _to_pkcs12(c, k, p, False, "pemToPkcs12Pass"),
    "fullPemToPkcs12": lambda c, k: _to_pkcs12(c, k, "", True, "fullPemToPkcs12"),
    "fullPemToPkcs12Pass": lambda c, k, p: _to_pkcs12(c, k, p, True, "fullPemToPkcs12Pass"),
    "filterPEM": _filter_pem, "filterCertChain": _filter_cert_chain,
    "jwkPublicKeyPem": _jwk_public_key_pem, "jwkPrivateKeyPem": _jwk_private_key_pem,
    "toYaml": to_yaml, "fromYaml": from_yaml,
}

_REMOVED = ("env", "expandenv", "getHostByName")
FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: func for name, func in {**gotemplate.BUILTINS, **gotemplate.SPRIG, **SPRIG_MORE, **SPRIG_FIXES, **ESO_EXTRAS}.items()
    if name not in _REMOVED
}
