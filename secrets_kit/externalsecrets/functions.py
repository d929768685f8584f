"""ESO v0.16.2's template function table (pkg/template/v2/template.go `tplFuncs`), for the shared engine.

ESO builds it from its vendored Sprig fork (github.com/external-secrets/sprig/v3 v3.3.0, which is Sprig
3.2-era: no sha512sum, no hexdec) as `sprig.TxtFuncMap()` minus env and expandenv, plus 14 functions of
its own: pkcs12key(Pass), pkcs12cert(Pass), pemToPkcs12(Pass), fullPemToPkcs12(Pass), filterPEM,
filterCertChain, jwkPublicKeyPem, jwkPrivateKeyPem, toYaml, fromYaml. v0.16.2 has no certSANs,
rsaDecrypt, pemTruststoreToPKCS12 or hexdec (later releases add them), so a template naming one fails
to parse, as in ESO. getHostByName is left out on purpose (ESO keeps it; a template must not make the
operator resolve names): a template using it fails to parse here.

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
from collections.abc import Callable
from typing import Any

from .. import gotemplate
from ..gotemplate.sprig import go_json
from ..gotemplate.values import MISSING, text


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
        return json.loads(go_bytes(value))
    except ValueError:
        return MISSING


def _must_from_json(value: Any) -> Any:
    try:
        return json.loads(go_bytes(value))
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
    "fromJson": _from_json, "mustFromJson": _must_from_json, "mustToJson": go_json,
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
    for i in range(len(certs)):
        for j in range(len(certs)):
            if i != j and (ids[i][0] or b"") == (ids[j][1] or b""):  # bytes.Equal(nil, nil) is true
                is_parent[j], parent[i] = True, j
                break
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
    from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12
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
    # go-pkcs12 Modern: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), 2048 rounds, SHA-256 MAC
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


# --- YAML (sigs.k8s.io/yaml: JSON, then goyaml.v2) ---------------------------------------------------

def _json_view(value: Any) -> Any:
    """What a value becomes after Go's json.Marshal + Unmarshal (sigs.k8s.io/yaml converts via JSON)."""
    return json.loads(go_json(value)) if value is not MISSING else None


def _yaml() -> Any:
    from ruamel.yaml import YAML
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 80
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


def to_yaml(value: Any) -> str:
    """ESO's toYaml: sigs.k8s.io/yaml.Marshal without the final newline; "" on error."""
    try:
        view = _json_view(value)
    except (TypeError, ValueError):
        return ""
    out = io.StringIO()
    _yaml().dump(view, out)
    result = out.getvalue()
    if not isinstance(view, dict | list):
        result = result.removesuffix("\n...\n")
    if view == {}:
        return "{}"
    if view == []:
        return "[]"
    return result.removesuffix("\n")


def _yaml_load(source: bytes) -> Any:
    from ruamel.yaml import YAML
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 1)  # goyaml.v2 resolves yes/no/on/off as booleans
    return yaml.load(source)


def from_yaml(value: Any) -> dict[str, Any]:
    """ESO's fromYaml: a map; a parse failure is reported in the map's "Error" key, as ESO does."""
    try:
        loaded = _yaml_load(go_bytes(value))
        view = json.loads(json.dumps(loaded, default=str))
    except Exception:
        return {"Error": "error converting YAML to JSON"}
    if view is None:
        return {}
    if not isinstance(view, dict):
        return {"Error": "error unmarshaling JSON: json: cannot unmarshal into Go value of type "
                         "map[string]interface {}"}
    return view


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
    name: func for name, func in {**gotemplate.BUILTINS, **gotemplate.SPRIG, **SPRIG_FIXES, **ESO_EXTRAS}.items()
    if name not in _REMOVED
}
