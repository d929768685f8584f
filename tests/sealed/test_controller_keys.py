"""The controller's key Secrets: loading (with problems, not crashes), choosing, making, renewing."""

from __future__ import annotations

import base64
import copy
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from secrets_kit.sealed import controller_keys as ck
from secrets_kit.sealed import crypto
from secrets_kit.sealed.keys import KEY_LABEL
from tests.sealed.controller_support import NOW, bump, key_secret

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def three() -> list[dict]:
    """Three active key Secrets made a day apart (oldest first)."""
    return [key_secret(name=f"sealed-secrets-key{n}", created=NOW - (3 - i) * DAY)
            for i, n in enumerate(("aaaaa", "bbbbb", "ccccc"))]


def test_loads_active_compromised_and_legacy_and_skips_the_rest(three: list[dict]) -> None:
    compromised = key_secret(name="sealed-secrets-keyddddd", created=NOW, state="compromised")
    retired = key_secret(name="sealed-secrets-keyeeeee", created=NOW, state="retired")
    legacy = key_secret(name="sealed-secrets-key", created=NOW - 10 * DAY)
    del legacy["metadata"]["labels"]  # pre-0.9 installs: found by name, not by label
    unrelated = {"metadata": {"name": "db-password", "namespace": "kube-system", "resourceVersion": "7"},
                 "data": {"password": "aHVudGVyMg=="}}
    load = ck.load_key_secrets([*three, compromised, retired, legacy, unrelated], prefix="sealed-secrets-key")
    assert load.problems == []
    assert [(k.secret_name, k.state) for k in load.keys] == [  # oldest Secret first
        ("sealed-secrets-key", "active"), ("sealed-secrets-keyaaaaa", "active"),
        ("sealed-secrets-keybbbbb", "active"), ("sealed-secrets-keyccccc", "active"),
        ("sealed-secrets-keyddddd", "compromised")]
    for key in load.keys:
        assert key.fingerprint == crypto.fingerprint(key.private_key.public_key())
        assert key.certificate_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_selector_names_both_states() -> None:
    assert ck.KEY_SELECTOR == "sealedsecrets.bitnami.com/sealed-secrets-key in (active,compromised)"


def _with(secret: dict, **data: str | None) -> dict:
    out = bump(secret)
    for item, value in data.items():
        item = item.replace("_", ".")
        if value is None:
            out["data"].pop(item, None)
        else:
            out["data"][item] = value
    return out


def test_unparseable_key_secrets_are_problems_not_crashes(three: list[dict]) -> None:
    good = three[0]
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    other_cert = three[1]["data"]["tls.crt"]
    cases = {
        "no-key": (_with(good, tls_key=None), "tls.key is missing or empty"),
        "not-b64": (_with(good, tls_key="%%%not base64%%%"), "tls.key is not valid base64"),
        "no-pem": (_with(good, tls_key=base64.b64encode(b"just text").decode()), "tls.key holds no PEM private key"),
        "garbage-pem": (_with(good, tls_key=base64.b64encode(
            b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n").decode()),
            "tls.key: unreadable private key"),
        "ec": (_with(good, tls_key=base64.b64encode(ec_pem).decode()), "tls.key: unexpected private key type"),
        "no-cert": (_with(good, tls_crt=None), "tls.crt is missing or empty"),
        "bad-cert": (_with(good, tls_crt=base64.b64encode(b"nope").decode()), "tls.crt: failed to read any certificates"),
        "wrong-cert": (_with(good, tls_crt=other_cert), "tls.crt is the certificate of another key"),
    }
    secrets = []
    for name, (secret, _) in cases.items():
        secret["metadata"]["name"] = f"sealed-secrets-key-{name}"
        secrets.append(secret)
    load = ck.load_key_secrets([*secrets, three[2]])
    assert [k.secret_name for k in load.keys] == [three[2]["metadata"]["name"]]
    reasons = {p.secret_name: p.reason for p in load.problems}
    key_material = base64.b64decode(good["data"]["tls.key"]).decode().splitlines()[1]
    for name, (_, expected) in cases.items():
        reason = reasons[f"sealed-secrets-key-{name}"]
        assert expected in reason, reason
        assert f"kube-system/sealed-secrets-key-{name}" in reason
        assert key_material[:16] not in reason and good["data"]["tls.key"][:16] not in reason


def test_pkcs8_key_and_a_certificate_bundle_load(three: list[dict]) -> None:
    secret = bump(three[0])
    key = ck.load_key_secrets([three[0]]).keys[0]
    pkcs8 = key.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    secret["data"]["tls.key"] = base64.b64encode(pkcs8).decode()
    extra = base64.b64decode(three[1]["data"]["tls.crt"])
    secret["data"]["tls.crt"] = base64.b64encode(key.certificate_pem + extra).decode()  # upstream writes certs[]
    loaded = ck.load_key_secrets([secret]).keys[0]
    assert loaded.fingerprint == key.fingerprint and loaded.certificate_pem == key.certificate_pem


def test_reload_parses_only_what_changed(three: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    first = ck.load_key_secrets(three)
    parsed: list[str] = []
    real = ck._parse_key_secret

    def counting(secret: dict, prefix: str):  # type: ignore[no-untyped-def]
        parsed.append(secret["metadata"]["name"])
        return real(secret, prefix)

    monkeypatch.setattr(ck, "_parse_key_secret", counting)
    again = ck.load_key_secrets(three)
    assert parsed == [] and all(a is b for a, b in zip(first.keys, again.keys, strict=True))
    relabelled = bump(three[1])
    relabelled["metadata"]["labels"][KEY_LABEL] = "compromised"
    after = ck.load_key_secrets([three[0], relabelled, three[2]])
    assert parsed == [three[1]["metadata"]["name"]]
    assert [k.state for k in after.keys] == ["active", "compromised", "active"]
    assert ck.newest_key(after.keys).secret_name == three[2]["metadata"]["name"]


def test_newest_by_cert_not_before_or_creation_and_never_compromised(three: list[dict]) -> None:
    # The newest certificate belongs to the oldest Secret (a restored backup, say).
    restored = key_secret(name="sealed-secrets-keyrestd", created=NOW - 30 * DAY, not_before=NOW)
    keys = ck.load_key_secrets([*three, restored]).keys
    assert ck.newest_key(keys).secret_name == "sealed-secrets-keyrestd"
    assert ck.newest_key(keys, "SecretCreationTimestamp").secret_name == "sealed-secrets-keyccccc"
    newest_compromised = key_secret(name="sealed-secrets-keyzzzzz", created=NOW + DAY, state="compromised")
    keys = ck.load_key_secrets([*three, newest_compromised]).keys
    assert ck.newest_key(keys).secret_name == "sealed-secrets-keyccccc"
    only_compromised = [k for k in keys if k.state == "compromised"]
    assert ck.newest_key(only_compromised) is None
    assert ck.newest_key([]) is None
    with pytest.raises(ValueError, match="unknown key order"):
        ck.newest_key(keys, "Alphabetical")


def test_same_not_before_the_earlier_secret_wins() -> None:
    a = key_secret(name="k-first", created=NOW - DAY, not_before=NOW)
    b = key_secret(name="k-second", created=NOW, not_before=NOW)
    assert ck.newest_key(ck.load_key_secrets([b, a]).keys).secret_name == "k-first"


def test_keyring_holds_every_key_newest_first_and_keeps_its_order_across_reloads(three: list[dict]) -> None:
    compromised = key_secret(name="sealed-secrets-keyddddd", created=NOW - 9 * DAY, state="compromised")
    keys = ck.load_key_secrets([*three, compromised]).keys
    ring = ck.decryption_keyring(keys)
    names = {k.fingerprint: k.secret_name for k in keys}
    assert [names[k.fingerprint] for k in ring] == [
        "sealed-secrets-keyccccc", "sealed-secrets-keybbbbb", "sealed-secrets-keyaaaaa", "sealed-secrets-keyddddd"]
    assert ring.newest == ck.newest_key(keys).fingerprint
    # The compromised key still opens what it sealed.
    old = next(k for k in keys if k.state == "compromised")
    ciphertext = crypto.hybrid_encrypt(old.private_key.public_key(), b"x", b"ns/name")
    assert ring.decrypt(ciphertext, b"ns/name")[1].fingerprint == old.fingerprint
    assert next(iter(ring)).fingerprint == old.fingerprint  # tried first next time
    added = key_secret(name="sealed-secrets-keyfffff", created=NOW)
    reloaded = ck.decryption_keyring(ck.load_key_secrets([*three, compromised, added]).keys, previous=ring)
    assert [names.get(k.fingerprint, "new") for k in reloaded][:2] == ["new", "sealed-secrets-keyddddd"]


def test_new_key_secret_is_shaped_like_upstreams_and_loads_back() -> None:
    secret = ck.new_key_secret(namespace="kube-system", prefix="my-keys", bits=2048, ttl=dt.timedelta(days=90),
                               common_name="sealed-secret", labels={"team": "platform", KEY_LABEL: "compromised"},
                               annotations={"owner": "ops"}, now=NOW)
    meta = secret["metadata"]
    assert meta["generateName"] == "my-keys" and "name" not in meta and meta["namespace"] == "kube-system"
    assert meta["labels"] == {KEY_LABEL: "active", "team": "platform"}  # the key label cannot be overridden
    assert meta["annotations"] == {"owner": "ops"}
    assert secret["type"] == "kubernetes.io/tls" and sorted(secret["data"]) == ["tls.crt", "tls.key"]
    assert base64.b64decode(secret["data"]["tls.key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    stored = copy.deepcopy(secret)
    stored["metadata"].update(name="my-keysx7k2p", resourceVersion="1", creationTimestamp=ck.format_time(NOW))
    key = ck.load_key_secrets([stored], prefix="my-keys").keys[0]
    assert key.not_before == NOW and key.state == "active" and key.private_key.key_size == 2048


def test_parse_key_map() -> None:
    assert ck.parse_key_map("a=1,b=x=y,,", "--privatekey-labels") == {"a": "1", "b": "x=y"}
    with pytest.raises(ValueError, match="--privatekey-labels: 'nokey' is not key=value"):
        ck.parse_key_map("a=1,nokey", "--privatekey-labels")


def test_next_renewal(three: list[dict]) -> None:
    newest = ck.newest_key(ck.load_key_secrets(three).keys)
    assert newest is not None
    made = newest.not_before
    period = dt.timedelta(hours=720)
    assert ck.next_renewal(None, period=period, cutoff=None, now=NOW) == NOW
    assert ck.next_renewal(newest, period=period, cutoff=None, now=NOW) == made + period
    assert ck.next_renewal(newest, period=dt.timedelta(0), cutoff=None, now=NOW) is None
    assert ck.next_renewal(newest, period=dt.timedelta(0), cutoff=made + DAY, now=NOW) == NOW
    assert ck.next_renewal(newest, period=period, cutoff=made - DAY, now=NOW) == made + period
    overdue = ck.next_renewal(newest, period=dt.timedelta(hours=1), cutoff=None, now=NOW)
    assert overdue is not None and overdue <= NOW
    assert ck.next_renewal(newest, period=period, cutoff=None, now=NOW,
                           order="SecretCreationTimestamp") == newest.created + period
