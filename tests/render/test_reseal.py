"""Deterministic re-sealing: the upstream format, opened by real keys, stable under one reseal key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from secrets_kit.errors import KeyMaterialError
from secrets_kit.render import reseal
from secrets_kit.sealed.crypto import fingerprint, hybrid_decrypt

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUB = KEY.public_key()
FP = fingerprint(PUB)


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)


@pytest.mark.parametrize("label", [b"", b"ns", b"ns/name"])
def test_oaep_with_caller_seed_opens_with_standard_oaep(label: bytes) -> None:
    message = os.urandom(32)
    ciphertext = reseal.oaep_encrypt(PUB, message, label, os.urandom(32))
    assert KEY.decrypt(ciphertext, _oaep(label)) == message
    with pytest.raises(ValueError):
        KEY.decrypt(ciphertext, _oaep(label + b"x"))


def test_oaep_is_a_function_of_the_seed() -> None:
    seed = b"s" * 32
    assert reseal.oaep_encrypt(PUB, b"m" * 32, b"l", seed) == reseal.oaep_encrypt(PUB, b"m" * 32, b"l", seed)
    assert reseal.oaep_encrypt(PUB, b"m" * 32, b"l", seed) != reseal.oaep_encrypt(PUB, b"m" * 32, b"l", b"t" * 32)
    with pytest.raises(ValueError):
        reseal.oaep_encrypt(PUB, b"m", b"l", b"short")


def test_sealed_item_opens_with_the_upstream_hybrid_decryption() -> None:
    item = reseal.deterministic_seal_item(PUB, FP, b"k" * 32, b"ns/name", "password", b"hunter2-value")
    assert hybrid_decrypt([KEY], item, b"ns/name") == b"hunter2-value"


@pytest.mark.parametrize("change", ["key", "label", "item", "value", "fingerprint"])
def test_every_input_changes_the_ciphertext(change: str) -> None:
    args = {"key": b"k" * 32, "label": b"ns/name", "item": "password", "value": b"v" * 10, "fingerprint": FP}
    base = reseal.deterministic_seal_item(PUB, args["fingerprint"], args["key"], args["label"], args["item"],
                                          args["value"])
    assert base == reseal.deterministic_seal_item(PUB, args["fingerprint"], args["key"], args["label"],
                                                  args["item"], args["value"])
    args[change] = {"key": b"j" * 32, "label": b"ns/other", "item": "user", "value": b"w" * 10,
                    "fingerprint": "SHA256:x"}[change]
    other = reseal.deterministic_seal_item(PUB, args["fingerprint"], args["key"], args["label"], args["item"],
                                           args["value"])
    assert other != base


def test_reseal_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SECRETS_KIT_RESEAL_KEY", "SECRETS_KIT_RESEAL_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SECRETS_KIT_STATE_DIR", str(tmp_path / "state"))
    created, where = reseal.load_reseal_key()
    assert len(created) == 32 and where.endswith("reseal.key")
    assert (tmp_path / "state" / "reseal.key").stat().st_mode & 0o777 == 0o600
    assert reseal.load_reseal_key()[0] == created  # reused, not regenerated
    text = base64.b64encode(b"e" * 32).decode()
    monkeypatch.setenv("SECRETS_KIT_RESEAL_KEY", text)
    assert reseal.load_reseal_key()[0] == b"e" * 32
    file = tmp_path / "k"
    file.write_text(base64.b64encode(b"f" * 40).decode() + "\n")
    monkeypatch.setenv("SECRETS_KIT_RESEAL_KEY_FILE", str(file))
    assert reseal.load_reseal_key()[0] == b"f" * 40
    assert reseal.load_reseal_key(file)[0] == b"f" * 40


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"short").decode()])
def test_bad_reseal_keys(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRETS_KIT_RESEAL_KEY_FILE", raising=False)
    monkeypatch.setenv("SECRETS_KIT_RESEAL_KEY", text)
    with pytest.raises(KeyMaterialError):
        reseal.load_reseal_key()


def test_unwritable_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SECRETS_KIT_RESEAL_KEY", "SECRETS_KIT_RESEAL_KEY_FILE"):
        monkeypatch.delenv(var, raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SECRETS_KIT_STATE_DIR", str(blocker / "sub"))
    with pytest.raises(KeyMaterialError, match="cannot create the reseal key"):
        reseal.load_reseal_key()


def test_resealer_output_shape() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "db", "namespace": "n", "labels": {"a": "b"},
                           "annotations": {"argocd.argoproj.io/sync-wave": "-1", "note": "x"}},
              "stringData": {"password": "p-value-123"}}
    sealed = reseal.Resealer(PUB, FP, b"k" * 32).seal(secret, namespace=None, where="t")
    assert sealed["kind"] == "SealedSecret"
    assert sealed["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "-1",
                                                 "secrets-kit.io/sealed-for": FP}
    assert sealed["metadata"]["labels"] == {"a": "b"}
    assert sealed["spec"]["template"]["metadata"]["annotations"]["note"] == "x"
    ciphertext = base64.b64decode(sealed["spec"]["encryptedData"]["password"])
    assert hybrid_decrypt([KEY], ciphertext, b"n/db") == b"p-value-123"


def _session_key(sealed_item: bytes, label: bytes) -> bytes:
    """The AES key of one item, unwrapped with the private key (the upstream layout: uint16 length, RSA, AES)."""
    length = int.from_bytes(sealed_item[:2], "big")
    return KEY.decrypt(sealed_item[2:2 + length], _oaep(label))


def test_a_session_key_never_encrypts_two_plaintexts() -> None:
    """AES-GCM runs with the zero nonce (upstream's format), so one key must mean one plaintext."""
    seal = reseal.deterministic_seal_item
    k = b"k" * 32
    keys = {
        "a": _session_key(seal(PUB, FP, k, b"ns/name", "password", b"value-a"), b"ns/name"),
        "b": _session_key(seal(PUB, FP, k, b"ns/name", "password", b"value-b"), b"ns/name"),
        "a again": _session_key(seal(PUB, FP, k, b"ns/name", "password", b"value-a"), b"ns/name"),
        "a other item": _session_key(seal(PUB, FP, k, b"ns/name", "token", b"value-a"), b"ns/name"),
        "a other scope": _session_key(seal(PUB, FP, k, b"ns/other", "password", b"value-a"), b"ns/other"),
        "a other key": _session_key(seal(PUB, FP, b"j" * 32, b"ns/name", "password", b"value-a"), b"ns/name"),
    }
    assert keys["a"] == keys["a again"]
    distinct = [v for name, v in keys.items() if name != "a again"]
    assert len(set(distinct)) == len(distinct)
    assert all(len(v) == 32 for v in distinct)


def test_field_encoding_is_unambiguous() -> None:
    """Moving bytes between the item name and the value must not give the same derivation."""
    one = reseal.deterministic_seal_item(PUB, FP, b"k" * 32, b"ns/n", "ab", b"c-value")
    two = reseal.deterministic_seal_item(PUB, FP, b"k" * 32, b"ns/n", "a", b"bc-value")
    assert _session_key(one, b"ns/n") != _session_key(two, b"ns/n")
