"""Read private keys in every form kubeseal's `--recovery-private-key` accepts, and folders of them.

- PEM: PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`); the first key block counts;
- a key Secret (YAML or JSON, one or several documents) with `data.tls.key`;
- a `v1/List` of key Secrets, the output of
  `kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`;
- a folder: every file in it that holds key material (certificates alone are skipped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ..errors import InputError, KeyMaterialError
from ..k8s.manifests import expand_lists, load_documents
from ..k8s.secrets import metadata, secret_items
from .crypto import Keyring, PrivateKey, fingerprint

_PEM_KEY_BEGIN = rb"-----BEGIN (RSA |EC |ENCRYPTED |)PRIVATE KEY-----\r?\n"  # compiled on use


def _first_key_block(data: bytes) -> tuple[bytes, bytes] | None:
    """(kind, block) of the first BEGIN ... END pair of one kind. Linear: a kind whose END is
    missing after one BEGIN is missing after every later one (a lazy regex would rescan the rest
    of the file from each BEGIN: quadratic on a file of many)."""
    missing: set[bytes] = set()
    for begin in re.finditer(_PEM_KEY_BEGIN, data):
        kind = begin.group(1)
        if kind in missing:
            continue
        end_marker = b"-----END " + kind + b"PRIVATE KEY-----"
        end = data.find(end_marker, begin.end())
        if end < 0:
            missing.add(kind)
            continue
        return kind, data[begin.start():end + len(end_marker)]
    return None


def parse_pem_key(data: bytes, source: str) -> rsa.RSAPrivateKey | None:
    """The first private key of a PEM text; None if there is no private-key block at all."""
    found = _first_key_block(data)
    if found is None:
        return None
    kind, block = found
    if kind == b"ENCRYPTED ":
        raise KeyMaterialError("encrypted private keys are not supported", where=source,
                               hint="decrypt it first, e.g. `openssl rsa -in KEY -out plain.key`")
    try:
        # OpenSSL's full check tests p and q for primality: half a second per 4096-bit key.
        # The cheap arithmetic checks below catch corrupt or inconsistent keys instead.
        key = load_pem_private_key(block, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError) as ex:
        reason = "it is password-protected" if isinstance(ex, TypeError) else "malformed key data"
        raise KeyMaterialError(f"unreadable private key: {reason}", where=source) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyMaterialError(f"unexpected private key type {type(key).__name__}", where=source,
                               hint="Sealed Secrets keys are RSA keys")
    if not _consistent(key):
        raise KeyMaterialError("unreadable private key: inconsistent RSA parameters", where=source)
    return key


def _consistent(key: rsa.RSAPrivateKey) -> bool:
    """n = p*q, e*d = 1 mod lcm(p-1, q-1), and CRT values that match: what decryption relies on."""
    import math

    numbers = key.private_numbers()
    p, q, d = numbers.p, numbers.q, numbers.d
    n, e = numbers.public_numbers.n, numbers.public_numbers.e
    if p < 3 or q < 3 or p * q != n or not 1 < e < n:
        return False
    lcm = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    return (e * d) % lcm == 1 and numbers.dmp1 == d % (p - 1) and numbers.dmq1 == d % (q - 1) \
        and (numbers.iqmp * q) % p == 1


def read_key_data(data: bytes, source: str) -> list[rsa.RSAPrivateKey]:
    """All private keys in one file's content (see the module docstring for the forms)."""
    key = parse_pem_key(data, source)
    if key is not None:
        return [key]
    try:
        docs = list(expand_lists(load_documents(data, source=source)))
    except InputError:
        raise KeyMaterialError("not a PEM private key, nor a key Secret in YAML or JSON", where=source) from None
    if not docs:
        raise KeyMaterialError("no private key found", where=source)
    keys = []
    for doc in docs:
        name = metadata(doc, source).get("name") or "<no name>"
        where = f"{source}: Secret {name}"
        if doc.get("kind") not in (None, "Secret"):
            raise KeyMaterialError(f"expected a key Secret, found {doc.get('kind')}", where=where)
        tls_key = secret_items(doc, where).get("tls.key")
        if tls_key is None:
            raise KeyMaterialError("secret must contain a 'tls.key' item", where=where)
        parsed = parse_pem_key(tls_key, where)
        if parsed is None:
            raise KeyMaterialError("tls.key holds no PEM private key", where=where)
        keys.append(parsed)
    return keys


def _files(path: Path) -> list[tuple[Path, bool]]:
    """(file, explicitly named) pairs: a folder expands to its files, in name order."""
    if path.is_dir():
        return [(p, False) for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
    return [(path, True)]


def read_private_keys(paths: Iterable[str | Path]) -> Keyring:
    """A keyring of every key in `paths` (files or folders), duplicates dropped, in the given order."""
    found: list[PrivateKey] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise KeyMaterialError("no such file or folder", where=str(path))
        for file, explicit in _files(path):
            try:
                data = file.read_bytes()
            except OSError as ex:
                raise KeyMaterialError(f"cannot read: {ex.strerror}", where=str(file)) from None
            if not explicit and b"PRIVATE KEY" not in data and b"tls.key" not in data:
                continue  # a certificate or a note next to the keys
            for key in read_key_data(data, str(file)):
                found.append(PrivateKey(key, fingerprint(key.public_key()), str(file)))
    if not found:
        raise KeyMaterialError("no private keys found", where=", ".join(str(p) for p in paths) or None,
                               hint="pass key files or a key folder")
    return Keyring(found)
