"""The hybrid byte format, labels, multi-key decryption and tampering."""

from __future__ import annotations

import base64
import shutil
import struct
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from secrets_kit.errors import DecryptionError
from secrets_kit.sealed.crypto import Keyring, fingerprint, hybrid_decrypt, hybrid_encrypt, split
from secrets_kit.sealed.scopes import Scope, encryption_label


def independent_decrypt(private_key, blob: bytes, label: bytes) -> bytes:
    """The format decoded from the reference description, without our module."""
    (rsa_len,) = struct.unpack(">H", blob[:2])
    session = private_key.decrypt(blob[2:2 + rsa_len], padding.OAEP(
        mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label))
    assert len(session) == 32
    return AESGCM(session).decrypt(b"\0" * 12, blob[2 + rsa_len:], None)


def test_layout_4096(pair4096):
    key = pair4096.private_key().key
    blob = hybrid_encrypt(pair4096.cert.public_key, b"s3cr3t", b"ns/name")
    assert blob[:2] == b"\x02\x00"  # 512-byte RSA part
    assert len(blob) == 2 + 512 + len(b"s3cr3t") + 16
    assert base64.b64encode(blob).decode()[:3] in ("AgA", "AgB", "AgC", "AgD")
    assert independent_decrypt(key, blob, b"ns/name") == b"s3cr3t"


def test_each_item_gets_a_fresh_session_key(pair):
    one = hybrid_encrypt(pair.cert.public_key, b"same", b"l")
    two = hybrid_encrypt(pair.cert.public_key, b"same", b"l")
    assert one != two and one[-20:] != two[-20:]


def test_labels_per_scope():
    assert encryption_label("myns", "myname", Scope.STRICT) == b"myns/myname"
    assert encryption_label("myns", "myname", Scope.NAMESPACE_WIDE) == b"myns"
    assert encryption_label("myns", "myname", Scope.CLUSTER_WIDE) == b""


def test_wrong_label_does_not_decrypt(pair):
    blob = hybrid_encrypt(pair.cert.public_key, b"v", b"ns/a")
    ring = Keyring([pair.private_key()])
    with pytest.raises(DecryptionError, match="no key could decrypt secret"):
        ring.decrypt(blob, b"ns/b")
    assert ring.decrypt(blob, b"ns/a")[0] == b"v"


def test_every_key_is_tried_and_the_last_good_one_goes_first(pair, other_pair, pair4096):
    keys = [other_pair.private_key(), pair4096.private_key(), pair.private_key()]
    ring = Keyring(keys)
    blob = hybrid_encrypt(pair.cert.public_key, b"v", b"")
    plain, used = ring.decrypt(blob, b"")
    assert plain == b"v" and used.fingerprint == pair.cert.fingerprint
    assert next(k.fingerprint for k in ring) == pair.cert.fingerprint
    with pytest.raises(DecryptionError):
        Keyring([other_pair.private_key()]).decrypt(blob, b"")


def test_duplicate_keys_are_kept_once(pair):
    assert len(Keyring([pair.private_key(), pair.private_key()])) == 1


@pytest.mark.parametrize("region", ["length prefix up", "length prefix down", "rsa part", "aes body", "tag"])
def test_tampering_any_region_is_refused(pair, region):
    blob = bytearray(hybrid_encrypt(pair.cert.public_key, b"top secret value", b"ns/n"))
    rsa_len = struct.unpack(">H", blob[:2])[0]
    if region == "length prefix up":
        blob[0:2] = struct.pack(">H", rsa_len + 200)
    elif region == "length prefix down":
        blob[0:2] = struct.pack(">H", rsa_len - 1)
    elif region == "rsa part":
        blob[2 + rsa_len // 2] ^= 0x01
    elif region == "aes body":
        blob[2 + rsa_len + 3] ^= 0x80
    else:
        blob[-1] ^= 0x01
    with pytest.raises(DecryptionError) as err:
        Keyring([pair.private_key()]).decrypt(bytes(blob), b"ns/n")
    assert "top secret" not in str(err.value)
    expected = "too short" if region == "length prefix up" else "no key could decrypt secret"
    assert expected in str(err.value)


@pytest.mark.parametrize("cut", [0, 1, 2, 100, -1, -16, -17])
def test_truncated_ciphertext_is_refused(pair, cut):
    blob = hybrid_encrypt(pair.cert.public_key, b"value", b"")
    short = blob[:cut]
    with pytest.raises(DecryptionError):
        hybrid_decrypt([pair.private_key().key], short, b"")


def test_split_checks_the_length_prefix():
    with pytest.raises(DecryptionError, match="too short"):
        split(b"\x00")
    with pytest.raises(DecryptionError, match="too short"):
        split(b"\x00\x05abc")
    assert split(b"\x00\x02abcd") == (b"ab", b"cd")


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=2048), namespace=st.text(max_size=30), name=st.text(max_size=30),
       scope=st.sampled_from(list(Scope)))
def test_property_round_trip(pair, plaintext, namespace, name, scope):
    label = encryption_label(namespace, name, scope)
    blob = hybrid_encrypt(pair.cert.public_key, plaintext, label)
    assert hybrid_decrypt([pair.private_key().key], blob, label) == plaintext


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(min_size=1, max_size=64), data=st.data())
def test_property_byte_flips_never_decrypt(pair, plaintext, data):
    blob = bytearray(hybrid_encrypt(pair.cert.public_key, plaintext, b"x/y"))
    position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    blob[position] ^= flip
    with pytest.raises(DecryptionError):
        hybrid_decrypt([pair.private_key().key], bytes(blob), b"x/y")


@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(max_size=512), data=st.data())
def test_property_random_keys_and_keyrings(pair, other_pair, pair4096, plaintext, data):
    """Sealed for a random key (2048 or 4096 bit), opened by a random keyring: only if the ring holds that key."""
    pairs = [pair, other_pair, pair4096]
    sealer = data.draw(st.sampled_from(pairs))
    ring_pairs = data.draw(st.lists(st.sampled_from(pairs), max_size=4))
    label = data.draw(st.binary(max_size=40))
    blob = hybrid_encrypt(sealer.cert.public_key, plaintext, label)
    ring = Keyring([p.private_key() for p in ring_pairs])
    if any(p.cert.fingerprint == sealer.cert.fingerprint for p in ring_pairs):
        opened, key = ring.decrypt(blob, label)
        assert opened == plaintext and key.fingerprint == sealer.cert.fingerprint
    else:
        with pytest.raises(DecryptionError):
            ring.decrypt(blob, label)


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(min_size=1, max_size=64), label=st.binary(max_size=20), other=st.binary(max_size=20),
       cut=st.integers(min_value=1, max_value=2 + 256 + 64 + 16))
def test_property_other_label_or_truncation_never_decrypts(pair, plaintext, label, other, cut):
    blob = hybrid_encrypt(pair.cert.public_key, plaintext, label)
    ring = Keyring([pair.private_key()])
    if other != label:
        with pytest.raises(DecryptionError):
            ring.decrypt(blob, other)
    with pytest.raises(DecryptionError):
        ring.decrypt(blob[:-cut], label)


def test_fingerprint_matches_ssh_keygen(pair, tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen not found: apt-get install openssh-client")
    pub = tmp_path / "k.pub"
    pub.write_bytes(pair.cert.public_key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH))
    out = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    assert out.split()[1] == fingerprint(pair.cert.public_key)
