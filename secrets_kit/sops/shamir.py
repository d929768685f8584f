"""Shamir secret sharing in the exact format sops uses for key groups.

sops (in `shamir/`, forked from HashiCorp Vault) splits the 32-byte data key into one
share per key group:

- arithmetic in GF(2^8) with the Rijndael/AES reduction polynomial x^8+x^4+x^3+x+1 (0x11B);
- every byte of the secret is the intercept of its own random polynomial of degree
  ``threshold - 1`` (coefficients from a CSPRNG);
- a share is the polynomial values ``y_1 .. y_n`` followed by the x-coordinate as the LAST
  byte, so a share of a 32-byte key is 33 bytes;
- the x-coordinate of share ``i`` (0-based, the key group index) is ``i + 1``.

`combine` interpolates at x = 0 over all the parts it is given (Lagrange), as sops does;
with fewer parts than the threshold the result is a different, unrelated byte string, and
nothing here can tell: the caller checks the quorum and the file's MAC catches the rest.

Multiplication is a branch-free shift-and-add loop (no log/exp tables indexed by secret
bytes), so its running time does not depend on the operands.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from ..errors import InputError

__all__ = ["MAX_PARTS", "combine", "split"]

MAX_PARTS = 255
_REDUCTION = 0x1B  # x^8 = x^4 + x^3 + x + 1 (mod 0x11B), the low byte of the AES polynomial


def _mul(a: int, b: int) -> int:
    """a * b in GF(2^8) mod 0x11B, with the same eight steps whatever the operands are."""
    acc = 0
    for bit in range(7, -1, -1):
        # mask is 0xFF when bit `bit` of b is set, else 0: no data-dependent branch.
        mask = -((b >> bit) & 1) & 0xFF
        carry = -(acc >> 7) & _REDUCTION
        acc = (((acc << 1) & 0xFF) ^ carry) ^ (a & mask)
    return acc


def _inv(a: int) -> int:
    """The multiplicative inverse a^254 (a^255 = 1 for a != 0); 0 maps to 0."""
    result = 1
    base = a
    exponent = 254
    # Fixed exponent: the sequence of squarings and multiplications never depends on `a`.
    while exponent:
        if exponent & 1:
            result = _mul(result, base)
        base = _mul(base, base)
        exponent >>= 1
    return result


# Inverses are only taken of x-coordinate differences, which are public, so a table is safe here.
_INVERSE = tuple(_inv(a) for a in range(256))


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    """Horner's rule: coefficients[0] + coefficients[1]*x + ... at x."""
    out = 0
    for coefficient in reversed(coefficients):
        out = _mul(out, x) ^ coefficient
    return out


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split `secret` into `parts` shares, any `threshold` of which rebuild it.

    Share ``i`` is ``len(secret) + 1`` bytes: the y values, then x = i + 1. Requires
    2 <= threshold <= parts <= 255 and a non-empty secret, like sops.
    """
    if not isinstance(secret, bytes | bytearray | memoryview):
        raise TypeError("the secret to split must be bytes")
    if isinstance(parts, bool) or isinstance(threshold, bool):
        raise TypeError("parts and threshold must be integers")
    if threshold < 2:
        raise InputError(
            f"Shamir threshold must be at least 2, got {threshold}",
            where="shamir split",
            hint="with a single key group the data key is not split; use 2 or more groups",
        )
    if parts < threshold:
        raise InputError(
            f"Shamir parts ({parts}) cannot be fewer than the threshold ({threshold})",
            where="shamir split",
            hint="lower shamir_threshold or add key groups",
        )
    if parts > MAX_PARTS:
        raise InputError(
            f"Shamir parts cannot exceed {MAX_PARTS}, got {parts}",
            where="shamir split",
            hint=f"use at most {MAX_PARTS} key groups",
        )
    data = bytes(secret)
    if not data:
        raise InputError("cannot split an empty secret", where="shamir split")

    shares = [bytearray(len(data) + 1) for _ in range(parts)]
    for index, share in enumerate(shares):
        share[-1] = index + 1
    for position, intercept in enumerate(data):
        coefficients = [intercept, *secrets.token_bytes(threshold - 1)]
        for index, share in enumerate(shares):
            share[position] = _evaluate(coefficients, index + 1)
    return [bytes(share) for share in shares]


def combine(parts: Sequence[bytes]) -> bytes:
    """Rebuild a secret from shares made by `split` (or by sops).

    Interpolates at x = 0 over *all* given parts. Parts must number at least two, be of
    equal length (at least two bytes) and carry distinct, non-zero x-coordinates.
    """
    if len(parts) < 2:
        raise InputError(
            f"less than two parts cannot rebuild the secret (got {len(parts)})",
            where="shamir combine",
            hint="decrypt more key groups to reach the file's shamir_threshold",
        )
    length = len(parts[0])
    if length < 2:
        raise InputError("Shamir parts must be at least two bytes long", where="shamir combine")
    if any(len(part) != length for part in parts):
        raise InputError(
            "all Shamir parts must have the same length",
            where="shamir combine",
            hint="the parts come from different files or a key group holds a corrupt share",
        )
    xs = [part[-1] for part in parts]
    if len(set(xs)) != len(xs):
        raise InputError(
            "duplicate Shamir part detected (two parts share an x-coordinate)",
            where="shamir combine",
            hint="each key group must hold a different share",
        )
    if 0 in xs:
        raise InputError(
            "a Shamir part has x-coordinate 0, which no valid share has",
            where="shamir combine",
            hint="the share is corrupt",
        )

    # Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_i + x_j); addition is XOR.
    basis = []
    for i, x_i in enumerate(xs):
        value = 1
        for j, x_j in enumerate(xs):
            if i != j:
                value = _mul(value, _mul(x_j, _INVERSE[x_i ^ x_j]))
        basis.append(value)

    secret = bytearray(length - 1)
    for position in range(length - 1):
        acc = 0
        for part, weight in zip(parts, basis, strict=True):
            acc ^= _mul(part[position], weight)
        secret[position] = acc
    return bytes(secret)
