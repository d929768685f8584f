"""Shamir secret sharing: the algebra, the errors, and the share format of the real sops."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pyrage
import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from secrets_kit.errors import InputError
from secrets_kit.sops import shamir
from tests.sops_keys.sopsfile import build_json_file, clean_env, decrypt_value, run_sops

# ------------------------------------------------------------------------------------ GF(2^8)


def _reference_mul(a: int, b: int) -> int:
    """Schoolbook carry-less product, then reduction by x^8+x^4+x^3+x+1: a second, independent way."""
    product = 0
    for bit in range(8):
        if (b >> bit) & 1:
            product ^= a << bit
    for bit in range(14, 7, -1):
        if (product >> bit) & 1:
            product ^= 0x11B << (bit - 8)
    return product


def test_mul_matches_fips197_examples() -> None:
    # FIPS-197 §4.2: {57}•{83} = {c1} and {57}•{13} = {fe}.
    assert shamir._mul(0x57, 0x83) == 0xC1
    assert shamir._mul(0x57, 0x13) == 0xFE


def test_mul_and_inverse_over_the_whole_field() -> None:
    for a in range(256):
        for b in range(256):
            assert shamir._mul(a, b) == _reference_mul(a, b)
    assert shamir._inv(0) == 0
    for a in range(1, 256):
        assert shamir._mul(a, shamir._inv(a)) == 1


# ------------------------------------------------------------------------------- round trips


@st.composite
def split_cases(draw: st.DrawFn) -> tuple[bytes, int, int, list[int]]:
    secret = draw(st.binary(min_size=1, max_size=64))
    parts = draw(st.integers(min_value=2, max_value=12))
    threshold = draw(st.integers(min_value=2, max_value=parts))
    size = draw(st.integers(min_value=threshold, max_value=parts))
    subset = draw(st.permutations(range(parts)))[:size]
    return secret, parts, threshold, subset


@settings(max_examples=100, deadline=None)
@given(split_cases())
def test_any_subset_of_at_least_threshold_parts_rebuilds_the_secret(
    case: tuple[bytes, int, int, list[int]],
) -> None:
    secret, parts, threshold, subset = case
    shares = shamir.split(secret, parts, threshold)
    assert len(shares) == parts
    assert all(len(share) == len(secret) + 1 for share in shares)
    assert [share[-1] for share in shares] == list(range(1, parts + 1))
    assert shamir.combine([shares[i] for i in subset]) == secret


@pytest.mark.parametrize("threshold", [2, 17, 255])
def test_up_to_255_parts(threshold: int) -> None:
    secret = random.randbytes(4)
    shares = shamir.split(secret, 255, threshold)
    assert shares[-1][-1] == 255
    assert shamir.combine(random.sample(shares, threshold)) == secret
    assert shamir.combine(shares) == secret


def test_split_is_randomised() -> None:
    secret = bytes(range(32))
    first, second = shamir.split(secret, 3, 2), shamir.split(secret, 3, 2)
    assert first != second
    assert shamir.combine(first[:2]) == shamir.combine(second[1:]) == secret


def test_shares_of_a_threshold_2_split_lie_on_a_line() -> None:
    # Degree threshold-1 = 1: y(x) = s + a*x, so y(1) ^ y(2) ^ y(3) = s ^ a*(1^2^3) = s.
    secret = bytes(range(100, 132))
    s1, s2, s3 = shamir.split(secret, 3, 2)
    assert bytes(a ^ b ^ c for a, b, c in zip(s1[:-1], s2[:-1], s3[:-1], strict=True)) == secret


# --------------------------------------------------------------------- below the threshold


@pytest.mark.parametrize("threshold", [3, 4, 5])
def test_fewer_parts_than_the_threshold_reveal_nothing(threshold: int) -> None:
    """threshold-1 parts interpolate to a random value: each byte equals the secret's with p = 1/256.

    Over 300 trials of 32 bytes (9600 bytes) the expected number of coincident bytes is 37.5;
    more than 90 has probability below 1e-12 (Chernoff), and a whole 32-byte match has 2^-256.
    """
    trials, matches = 300, 0
    for _ in range(trials):
        secret = random.randbytes(32)
        shares = shamir.split(secret, threshold + 1, threshold)
        subset = random.sample(shares, threshold - 1)
        guess = shamir.combine(subset)
        assert guess != secret
        matches += sum(a == b for a, b in zip(guess, secret, strict=True))
    assert matches < 90


def test_below_threshold_output_is_spread_over_the_field() -> None:
    """For a fixed 1-byte secret, 2 parts of a threshold-3 split land on (nearly) every byte value.

    4096 uniform draws over 256 values miss a given value with p = (255/256)^4096 ~ 1e-7, so
    fewer than 250 distinct values would be a leak, not bad luck.
    """
    seen = {shamir.combine(random.sample(shamir.split(b"\x2a", 4, 3), 2))[0] for _ in range(4096)}
    assert len(seen) >= 250


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("parts", "threshold", "message"),
    [
        (3, 1, "at least 2"),
        (3, 0, "at least 2"),
        (2, 3, "cannot be fewer than the threshold"),
        (256, 2, "cannot exceed 255"),
        (300, 300, "cannot exceed 255"),
    ],
)
def test_split_rejects_bad_parameters(parts: int, threshold: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        shamir.split(b"secret", parts, threshold)


def test_split_rejects_an_empty_secret_and_non_bytes() -> None:
    with pytest.raises(InputError, match="empty secret"):
        shamir.split(b"", 3, 2)
    with pytest.raises(TypeError):
        shamir.split("text", 3, 2)  # type: ignore[arg-type]


def test_combine_rejects_bad_parts() -> None:
    shares = shamir.split(b"k" * 32, 3, 2)
    with pytest.raises(InputError, match="less than two parts"):
        shamir.combine(shares[:1])
    with pytest.raises(InputError, match="less than two parts"):
        shamir.combine([])
    with pytest.raises(InputError, match="same length"):
        shamir.combine([shares[0], shares[1][1:]])
    with pytest.raises(InputError, match="at least two bytes"):
        shamir.combine([b"\x01", b"\x02"])
    with pytest.raises(InputError, match="duplicate"):
        shamir.combine([shares[0], shares[0]])
    with pytest.raises(InputError, match="x-coordinate 0"):
        shamir.combine([shares[0], shares[1][:-1] + b"\x00"])


def test_errors_do_not_carry_share_bytes() -> None:
    shares = shamir.split(b"\xfe" * 32, 3, 2)
    with pytest.raises(InputError) as info:
        shamir.combine([shares[0], shares[0]])
    text = str(info.value)
    assert shares[0].hex() not in text and repr(shares[0]) not in text


# ----------------------------------------------------------------------- real sops interop


def _age_identities(count: int) -> list[pyrage.x25519.Identity]:
    return [pyrage.x25519.Identity.generate() for _ in range(count)]


def _shamir_config(recipients: list[str], threshold: int) -> str:
    groups = "".join(f"      - age:\n          - {recipient}\n" for recipient in recipients)
    return f"creation_rules:\n  - shamir_threshold: {threshold}\n    key_groups:\n{groups}"


@pytest.fixture
def sops_shamir_file(sops_bin: Path, tmp_path: Path) -> tuple[dict, list[pyrage.x25519.Identity]]:
    """A YAML file encrypted by the real sops with 3 age key groups and shamir_threshold 2."""
    identities = _age_identities(3)
    (tmp_path / ".sops.yaml").write_text(_shamir_config([str(i.to_public()) for i in identities], 2))
    (tmp_path / "secrets.yaml").write_text("password: hunter2\nnested:\n    token: abc123\n")
    env = clean_env(tmp_path)
    done = run_sops(sops_bin, ["encrypt", "secrets.yaml"], env=env, cwd=tmp_path)
    return YAML(typ="safe").load(done.stdout), identities


def test_real_sops_shares_have_the_documented_format_and_combine(
    sops_shamir_file: tuple[dict, list[pyrage.x25519.Identity]],
) -> None:
    doc, identities = sops_shamir_file
    meta = doc["sops"]
    assert meta["shamir_threshold"] == 2
    groups = meta["key_groups"]
    assert len(groups) == 3
    shares = []
    for group, identity in zip(groups, identities, strict=True):
        (stanza,) = group["age"]
        assert stanza["recipient"] == str(identity.to_public())
        shares.append(pyrage.decrypt(stanza["enc"].encode(), [identity]))
    assert [len(share) for share in shares] == [33, 33, 33]
    assert [share[-1] for share in shares] == [1, 2, 3]

    keys = {shamir.combine(list(pair)) for pair in itertools.permutations(shares, 2)}
    keys.add(shamir.combine(shares))
    assert len(keys) == 1
    (data_key,) = keys
    assert len(data_key) == 32
    assert decrypt_value(doc["password"], data_key, "password:") == "hunter2"
    assert decrypt_value(doc["nested"]["token"], data_key, "nested:token:") == "abc123"
    # The MAC decrypts too (AAD = lastmodified): the key is the file's data key, not a lucky one.
    mac = decrypt_value(meta["mac"], data_key, meta["lastmodified"])
    assert len(mac) == 128


def test_one_real_sops_share_with_a_forged_one_gives_a_wrong_key(
    sops_shamir_file: tuple[dict, list[pyrage.x25519.Identity]],
) -> None:
    doc, identities = sops_shamir_file
    real = pyrage.decrypt(doc["sops"]["key_groups"][0]["age"][0]["enc"].encode(), [identities[0]])
    forged = bytes(32) + b"\x02"
    wrong = shamir.combine([real, forged])
    with pytest.raises(InvalidTag):
        decrypt_value(doc["password"], wrong, "password:")


def _wrap_age(share: bytes, identity: pyrage.x25519.Identity) -> dict[str, str]:
    recipient = identity.to_public()
    return {"recipient": str(recipient), "enc": pyrage.encrypt(share, [recipient], armored=True).decode()}


def test_real_sops_decrypts_a_file_keyed_with_our_shares(sops_bin: Path, tmp_path: Path) -> None:
    identities = _age_identities(3)
    data_key = random.randbytes(32)
    shares = shamir.split(data_key, 3, 2)
    groups = [{"age": [_wrap_age(share, identity)]} for share, identity in zip(shares, identities, strict=True)]
    (tmp_path / "ours.json").write_text(build_json_file({"password": "hunter2", "user": "admin"}, data_key,
                                                        groups, threshold=2))

    # Every pair of identities meets the threshold of 2.
    for pair in itertools.combinations(identities, 2):
        env = clean_env(tmp_path, SOPS_AGE_KEY="\n".join(str(i) for i in pair))
        done = run_sops(sops_bin, ["decrypt", "ours.json"], env=env, cwd=tmp_path)
        assert json.loads(done.stdout) == {"password": "hunter2", "user": "admin"}

    # One identity alone does not: sops reports that it could not get the data key (exit 128).
    env = clean_env(tmp_path, SOPS_AGE_KEY=str(identities[1]))
    done = run_sops(sops_bin, ["decrypt", "ours.json"], env=env, cwd=tmp_path, check=False)
    assert done.returncode == 128, done.stderr


def test_real_sops_rejects_a_file_whose_shares_do_not_fit(sops_bin: Path, tmp_path: Path) -> None:
    """Control for the test above: shares of a *different* key decrypt nothing (sops's MAC/GCM check fails)."""
    identities = _age_identities(2)
    data_key = random.randbytes(32)
    shares = shamir.split(random.randbytes(32), 2, 2)
    groups = [{"age": [_wrap_age(share, identity)]} for share, identity in zip(shares, identities, strict=True)]
    (tmp_path / "bad.json").write_text(build_json_file({"password": "hunter2"}, data_key, groups, threshold=2))
    env = clean_env(tmp_path, SOPS_AGE_KEY="\n".join(str(i) for i in identities))
    done = run_sops(sops_bin, ["decrypt", "bad.json"], env=env, cwd=tmp_path, check=False)
    assert done.returncode != 0
    assert "hunter2" not in done.stdout
