"""The controller's own keys: key Secrets in its namespace, read, chosen, made and renewed.

Upstream (`pkg/controller/{main,keys,keyregistry}.go`) keeps each key in a `kubernetes.io/tls`
Secret labelled `sealedsecrets.bitnami.com/sealed-secrets-key=active`, named from `--key-prefix`
with `generateName`; a pre-0.9 install's key lives in the Secret named exactly `<prefix>`.
Differences, on purpose (issue 11):
- keys labelled `compromised` are loaded too: they still open existing SealedSecrets but never
  seal (upstream drops them, so relabelling a leaked key breaks every SealedSecret it sealed);
- a key Secret that does not parse is a problem line, never a crash (upstream can panic, PR #2034);
- loading is cheap enough to run on every change of a key Secret: parsed keys are cached by
  (namespace, name, uid, resourceVersion), so a reload re-parses only what changed.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import SecretsKitError
from ..k8s.secrets import b64decode_go, b64encode, ordered_meta
from .certs import load_cert
from .crypto import Keyring, PrivateKey, fingerprint
from .keyfiles import parse_pem_key
from .keys import (
    DEFAULT_BITS,
    DEFAULT_TTL,
    KEY_LABEL,
    KEY_PREFIX,
    cert_pem,
    generate_key_pair,
    private_key_pem,
)

ACTIVE = "active"
COMPROMISED = "compromised"
LOADED_STATES = (ACTIVE, COMPROMISED)
# What the runtime lists and watches with. A key relabelled to anything else leaves the selection
# (the watch reports it deleted) and stops being used.
KEY_SELECTOR = f"{KEY_LABEL} in ({ACTIVE},{COMPROMISED})"
KEY_ORDERS = ("CertNotBefore", "SecretCreationTimestamp")
TLS_KEY, TLS_CRT = "tls.key", "tls.crt"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ControllerKey:
    secret_name: str
    namespace: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate_pem: bytes = field(repr=False)
    fingerprint: str
    not_before: dt.datetime
    created: dt.datetime  # the Secret's creationTimestamp (epoch when the Secret carries none)
    state: str  # the label value: "active" seals and opens, "compromised" only opens

    def ordering_time(self, order: str = "CertNotBefore") -> dt.datetime:
        """When this key counts as made, by `--key-order-priority`."""
        return self.created if order == "SecretCreationTimestamp" else self.not_before


@dataclass(frozen=True)
class KeyProblem:
    secret_name: str
    reason: str  # what is wrong and where, never key material


@dataclass
class KeyLoad:
    keys: list[ControllerKey] = field(default_factory=list)  # oldest Secret first
    problems: list[KeyProblem] = field(default_factory=list)


# --------------------------------------------------------------------------------------- loading


_cache_lock = threading.Lock()
_cache: dict[tuple[str, str, str, str], ControllerKey | KeyProblem] = {}


def load_key_secrets(secrets: Iterable[Mapping[str, Any]], *, prefix: str = KEY_PREFIX) -> KeyLoad:
    """The keys in `secrets` (the label-selected key Secrets plus the legacy `<prefix>` one).

    Secrets neither labelled active/compromised nor named `<prefix>` are skipped, so the caller may
    pass a whole namespace. Each Secret is parsed once per resourceVersion.
    """
    chosen = [s for s in secrets if _is_key_secret(s, prefix)]
    chosen.sort(key=lambda s: (_created(s), _meta(s).get("name") or ""))  # upstream: by creation time
    load = KeyLoad()
    seen: set[tuple[str, str, str, str]] = set()
    for secret in chosen:
        cache_key = _cache_key(secret)
        cached = _cache.get(cache_key) if cache_key else None
        result = cached if cached is not None else _parse_key_secret(secret, prefix)
        if cache_key:
            seen.add(cache_key)
            with _cache_lock:
                _cache[cache_key] = result
        if isinstance(result, ControllerKey):
            load.keys.append(result)
        else:
            load.problems.append(result)
    with _cache_lock:  # forget Secrets that are gone or changed: the cache never outgrows one namespace
        namespaces = {k[0] for k in seen}
        for stale in [k for k in _cache if k[0] in namespaces and k not in seen]:
            del _cache[stale]
    return load


def _meta(secret: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = secret.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _label(secret: Mapping[str, Any]) -> str | None:
    labels = _meta(secret).get("labels")
    value = labels.get(KEY_LABEL) if isinstance(labels, Mapping) else None
    return value if isinstance(value, str) else None


def _is_key_secret(secret: Mapping[str, Any], prefix: str) -> bool:
    return _label(secret) in LOADED_STATES or _meta(secret).get("name") == prefix


def _cache_key(secret: Mapping[str, Any]) -> tuple[str, str, str, str] | None:
    meta = _meta(secret)
    version = meta.get("resourceVersion")
    if not version:
        return None  # not from the API server: nothing identifies this content, parse it every time
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(meta.get("uid") or ""),
            str(version))


def parse_time(value: Any) -> dt.datetime | None:
    """A Kubernetes timestamp (RFC 3339, `2026-01-02T03:04:05Z`); None if absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_time(when: dt.datetime) -> str:
    """metav1.Time's JSON form: UTC, whole seconds."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _created(secret: Mapping[str, Any]) -> dt.datetime:
    return parse_time(_meta(secret).get("creationTimestamp")) or _EPOCH


def _item(secret: Mapping[str, Any], name: str) -> bytes:
    data = secret.get("data")
    value = data.get(name) if isinstance(data, Mapping) else None
    if not value:
        raise _Bad(f"{name} is missing or empty")
    if not isinstance(value, str):
        raise _Bad(f"{name} is not a base64 string")
    try:
        return b64decode_go(value)
    except ValueError:
        raise _Bad(f"{name} is not valid base64") from None


class _Bad(Exception):
    pass


def _parse_key_secret(secret: Mapping[str, Any], prefix: str) -> ControllerKey | KeyProblem:
    meta = _meta(secret)
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    label = _label(secret)
    # The legacy `<prefix>` Secret is loaded whatever its label says, as upstream does; unlabelled it seals.
    state = label if label in LOADED_STATES else ACTIVE
    try:
        key_pem, crt_pem = _item(secret, TLS_KEY), _item(secret, TLS_CRT)
        try:
            key = parse_pem_key(key_pem, TLS_KEY)
        except SecretsKitError as err:
            raise _Bad(f"{TLS_KEY}: {err.message}") from None
        if key is None:
            raise _Bad(f"{TLS_KEY} holds no PEM private key")
        try:
            cert = load_cert(crt_pem, TLS_CRT)
        except SecretsKitError as err:
            raise _Bad(f"{TLS_CRT}: {err.message}") from None
        key_fp = fingerprint(key.public_key())
        if cert.fingerprint != key_fp:
            raise _Bad(f"{TLS_CRT} is the certificate of another key ({cert.fingerprint}, "
                       f"the private key is {key_fp})")
    except _Bad as bad:
        return KeyProblem(name, f"key Secret {namespace}/{name} not loaded: {bad}")
    return ControllerKey(secret_name=name, namespace=namespace, private_key=key, certificate_pem=cert.pem,
                         fingerprint=key_fp, not_before=cert.not_before, created=_created(secret), state=state)


# -------------------------------------------------------------------------------------- choosing


def newest_key(keys: Iterable[ControllerKey], order: str = "CertNotBefore") -> ControllerKey | None:
    """The key that seals and whose certificate `/v1/cert.pem` serves: the latest active one.

    `keys` in load order (oldest Secret first); on a tie the earlier one wins, as upstream registers
    keys in creation order and replaces the newest only by a strictly later one.
    """
    if order not in KEY_ORDERS:
        raise ValueError(f"unknown key order {order!r}: use CertNotBefore or SecretCreationTimestamp")
    newest: ControllerKey | None = None
    for key in keys:
        if key.state == ACTIVE and (newest is None or newest.ordering_time(order) < key.ordering_time(order)):
            newest = key
    return newest


class ControllerKeyring(Keyring):
    """A Keyring that also knows, for failure messages, the newest key and the keys' age order."""

    def __init__(self, keys: Iterable[PrivateKey], *, newest: str | None, by_age: list[str]) -> None:
        super().__init__(keys)
        self.newest = newest  # fingerprint of the key that seals
        self.by_age = by_age  # every fingerprint, newest first: a stable order for messages


def decryption_keyring(keys: Iterable[ControllerKey], previous: Keyring | None = None, *,
                       order: str = "CertNotBefore") -> ControllerKeyring:
    """Every loaded key (compromised ones too), for opening SealedSecrets; the key that opened the
    last item is tried first (crypto.Keyring), so a batch from one key costs one RSA operation per item.

    Fresh keys go first, newest first (new SealedSecrets come from the newest key). Given the keyring
    this one replaces, the keys it held keep its order, so a reload does not cost the next unseal
    another round of wrong keys.
    """
    keys = list(keys)
    newest = newest_key(keys, order)
    loaded = sorted(keys, key=lambda k: k.ordering_time(order), reverse=True)
    by_fp = {k.fingerprint: k for k in loaded}
    kept = [k.fingerprint for k in previous if k.fingerprint in by_fp] if previous is not None else []
    fresh = [fp for fp in by_fp if fp not in kept]
    ring = [by_fp[fp] for fp in fresh + kept]
    return ControllerKeyring((PrivateKey(k.private_key, k.fingerprint, f"{k.namespace}/{k.secret_name}")
                              for k in ring),
                             newest=newest.fingerprint if newest else None, by_age=list(by_fp))


# ---------------------------------------------------------------------------------- making keys


def new_key_secret(*, namespace: str, prefix: str = KEY_PREFIX, bits: int = DEFAULT_BITS,
                   ttl: dt.timedelta = DEFAULT_TTL, common_name: str = "", labels: Mapping[str, str] | None = None,
                   annotations: Mapping[str, str] | None = None, now: dt.datetime) -> dict[str, Any]:
    """A new key Secret to POST, as upstream's `writeKey` makes it (the API server picks the name).

    `labels` and `annotations` are `--privatekey-labels`/`--privatekey-annotations`; a label that
    would override the key label is ignored, as upstream does.
    """
    key, cert = generate_key_pair(bits=bits, ttl=ttl, common_name=common_name, not_before=now)
    all_labels = {k: v for k, v in (labels or {}).items() if k != KEY_LABEL}
    all_labels[KEY_LABEL] = ACTIVE
    meta: dict[str, Any] = {"generateName": prefix, "namespace": namespace, "labels": all_labels}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "kind": "Secret", "apiVersion": "v1", "metadata": ordered_meta(meta),
        "data": {TLS_CRT: b64encode(cert_pem(cert)), TLS_KEY: b64encode(private_key_pem(key))},
        "type": "kubernetes.io/tls",
    }


def parse_key_map(text: str, flag: str) -> dict[str, str]:
    """`k=v,k2=v2` (`--privatekey-labels`, `--privatekey-annotations`); a clear error for a bad pair."""
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag}: {pair!r} is not key=value")
        out[key] = value
    return out


def next_renewal(newest: ControllerKey | None, *, period: dt.timedelta, cutoff: dt.datetime | None,
                 now: dt.datetime, order: str = "CertNotBefore") -> dt.datetime | None:
    """When to mint the next key: `now` (or earlier) means now; None means never.

    A key is due at once when there is no active key or the newest is older than `--key-cutoff-time`;
    otherwise `--key-renew-period` after the newest was made (upstream's first delay is
    `period - age(newest)`, then every period: the same instants, since each renewal makes the newest).
    """
    if newest is None:
        return now
    made = newest.ordering_time(order)
    if cutoff is not None and made < cutoff:
        return now
    if period <= dt.timedelta(0):
        return None
    return made + period
