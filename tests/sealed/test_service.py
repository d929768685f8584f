"""The HTTP API bodies: /v1/cert.pem, /v1/verify, /v1/rotate (pure; the runtime serves them)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from secrets_kit.k8s.manifests import dump_yaml
from secrets_kit.sealed import controller_keys as ck
from secrets_kit.sealed import service
from secrets_kit.sealed.certs import load_cert
from secrets_kit.sealed.keys import private_key_pem
from tests.sealed.controller_support import NOW, key_secret, sealed_for
from tests.sealed.helpers import kubeseal, secret, yaml_of

DAY = __import__("datetime").timedelta(days=1)
PLAIN = {"token": "tok-plaintext-55e1", "user": "svc-4410"}


@pytest.fixture(scope="module")
def keys() -> list[ck.ControllerKey]:
    return ck.load_key_secrets([key_secret(name="k-old", created=NOW - DAY),
                                key_secret(name="k-new", created=NOW),
                                key_secret(name="k-bad", created=NOW + DAY, state="compromised")]).keys


@pytest.fixture
def ring(keys: list[ck.ControllerKey]) -> ck.ControllerKeyring:
    return ck.decryption_keyring(keys)


def test_cert_pem_is_the_newest_active_key(keys: list[ck.ControllerKey]) -> None:
    status, content_type, body = service.cert_pem(keys)
    assert (status, content_type) == (200, "application/x-pem-file")
    assert load_cert(body, "response").fingerprint == keys[1].fingerprint
    assert service.cert_pem([k for k in keys if k.state == "compromised"])[:2] == (500, service.TEXT)
    assert service.cert_pem([]) == (500, service.TEXT, b"cannot get certificate\n")


def test_verify(keys: list[ck.ControllerKey], ring: ck.ControllerKeyring) -> None:
    good = sealed_for(keys[0], PLAIN)
    assert service.verify(json.dumps(good).encode(), ring)[0] == 200
    assert service.verify(dump_yaml(good).encode(), ring)[0] == 200
    by_compromised = sealed_for(keys[2], PLAIN)
    assert service.verify(json.dumps(by_compromised).encode(), ring)[0] == 200
    moved = json.loads(json.dumps(good))
    moved["metadata"]["name"] = "other"
    status, _, body = service.verify(json.dumps(moved).encode(), ring)
    assert status == 409 and b'bound to "prod/app"' in body
    for value in PLAIN.values():
        assert value.encode() not in body


@pytest.mark.parametrize(("body", "expected"), [
    (b"{not json", b""),
    (b"---\nkind: SealedSecret\n---\nkind: SealedSecret\n", b"Multistream YAML not supported"),
    (b'{"apiVersion": "v1", "kind": "Secret"}', b"unexpected resource type: v1 Secret"),
    (b"", b"no SealedSecret"),
])
def test_verify_and_rotate_refuse_bodies_that_are_not_one_sealed_secret(
        body: bytes, expected: bytes, keys: list[ck.ControllerKey], ring: ck.ControllerKeyring) -> None:
    for status, _, text in (service.verify(body, ring), service.rotate(body, ring, keys[1])):
        assert status == 500 and expected in text


def test_rotate_reseals_for_the_newest_key_and_keeps_the_template(keys: list[ck.ControllerKey],
                                                                  ring: ck.ControllerKeyring) -> None:
    sealed = sealed_for(keys[0], PLAIN, labels={"app": "api"})
    sealed["status"] = {"observedGeneration": 1}
    status, content_type, body = service.rotate(json.dumps(sealed).encode(), ring, keys[1])
    assert (status, content_type) == (200, "application/json")
    out = json.loads(body)
    assert "status" not in out and out["spec"]["template"] == sealed["spec"]["template"]
    assert out["spec"]["encryptedData"].keys() == sealed["spec"]["encryptedData"].keys()
    only_newest = ck.decryption_keyring([keys[1]])
    assert service.verify(body, only_newest)[0] == 200
    assert service.verify(json.dumps(sealed).encode(), only_newest)[0] == 409
    # Items already sealed for the newest key keep their ciphertext.
    again = json.loads(service.rotate(body, ring, keys[1])[2])
    assert again["spec"]["encryptedData"] == out["spec"]["encryptedData"]


def test_rotate_errors(keys: list[ck.ControllerKey], ring: ck.ControllerKeyring) -> None:
    stranger = ck.load_key_secrets([key_secret(name="elsewhere", created=NOW)]).keys[0]
    status, _, body = service.rotate(json.dumps(sealed_for(stranger, PLAIN)).encode(), ring, keys[1])
    assert status == 500 and body.startswith(b"error decrypting secret. no key could decrypt secret (token, user)")
    good = json.dumps(sealed_for(keys[0], PLAIN)).encode()
    assert service.rotate(good, ring, None)[0] == 500


def test_rotate_output_opens_in_kubeseal(kubeseal_bin: Path, tmp_path: Path, keys: list[ck.ControllerKey],
                                         ring: ck.ControllerKeyring) -> None:
    """kubeseal-sealed in, re-sealed by us, and the real kubeseal recovers the same Secret with the new key."""
    cert = tmp_path / "old.pem"
    cert.write_bytes(keys[0].certificate_pem)
    src = secret("app", "prod", string_data=PLAIN)
    sealed = kubeseal(kubeseal_bin, "--cert", cert, "-o", "json", input=yaml_of(src))
    assert sealed.returncode == 0, sealed.stderr
    status, _, body = service.rotate(sealed.stdout, ring, keys[1])
    assert status == 200
    new_key = tmp_path / "new.key"
    new_key.write_bytes(private_key_pem(keys[1].private_key))
    opened = kubeseal(kubeseal_bin, "--recovery-unseal", "--recovery-private-key", new_key, "-o", "json",
                      input=body)
    assert opened.returncode == 0, opened.stderr
    assert {k: base64.b64decode(v).decode() for k, v in json.loads(opened.stdout)["data"].items()} == PLAIN
