"""sealed.validate.verify, what the controller's /v1/verify calls: opens or says why not, never with a value."""

from __future__ import annotations

import json

import pytest

from secrets_kit.sealed.crypto import Keyring
from secrets_kit.sealed.model import seal_secret
from secrets_kit.sealed.validate import InvalidSealedSecret, UndecryptableSealedSecret, verify

from .helpers import kubeseal, secret

VALUE = "verify-me-plaintext-41"


@pytest.fixture(scope="module")
def sealed(pair):
    return seal_secret(secret(string_data={"a": VALUE, "b": VALUE}), pair.cert.public_key)


def test_the_right_key_verifies(sealed, pair):
    verify(sealed, Keyring([pair.private_key()]))


def test_a_wrong_key_is_a_typed_error_without_the_value(sealed, other_pair):
    with pytest.raises(UndecryptableSealedSecret) as caught:
        verify(sealed, Keyring([other_pair.private_key()]), where="SealedSecret myns/mysecret")
    text = str(caught.value)
    assert "no key could decrypt secret (a, b)" in text and "SealedSecret myns/mysecret" in text
    assert VALUE not in text and caught.value.exit_code == 4


def test_renamed_does_not_verify(sealed, pair):
    moved = json.loads(json.dumps(sealed))
    moved["metadata"]["name"] = "renamed"
    del moved["spec"]["template"]["metadata"]["name"]
    with pytest.raises(UndecryptableSealedSecret):
        verify(moved, Keyring([pair.private_key()]))


def test_a_malformed_one_is_invalid_before_any_key_is_tried(sealed, pair):
    cut = json.loads(json.dumps(sealed))
    cut["spec"]["encryptedData"]["a"] = cut["spec"]["encryptedData"]["a"][:40]
    with pytest.raises(InvalidSealedSecret, match=r"encryptedData\.a is truncated"):
        verify(cut, Keyring([pair.private_key()]))


def test_the_deprecated_v1_blob_is_verified_too(pair, other_pair):
    from secrets_kit.k8s.secrets import b64encode
    from secrets_kit.sealed.crypto import hybrid_encrypt

    blob = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                       "data": {"k": b64encode(VALUE.encode())}}).encode()
    doc = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "s", "namespace": "n"},
           "spec": {"data": b64encode(hybrid_encrypt(pair.cert.public_key, blob, b"n/s"))}}
    verify(doc, Keyring([pair.private_key()]))
    with pytest.raises(UndecryptableSealedSecret) as caught:
        verify(doc, Keyring([other_pair.private_key()]))
    assert VALUE not in str(caught.value)


@pytest.mark.parametrize("scope", ["strict", "namespace-wide", "cluster-wide"])
def test_what_the_real_kubeseal_seals_verifies(kubeseal_bin, pair, other_pair, scope):
    done = kubeseal(kubeseal_bin, "--cert", pair.cert_path, "--scope", scope, "-o", "json",
                    input=json.dumps(secret(string_data={"a": VALUE})))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    verify(doc, Keyring([pair.private_key()]))
    with pytest.raises(UndecryptableSealedSecret):
        verify(doc, Keyring([other_pair.private_key()]))
