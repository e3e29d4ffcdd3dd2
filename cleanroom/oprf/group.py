"""The OPRF's prime-order group: the Ed25519 subgroup of order L, points as RFC 8032 encodings.

pycryptodome supplies the point arithmetic (``EccPoint`` on ``ed25519``); this
module adds what a protocol needs around it: one canonical 32-byte encoding,
a decoder that accepts only points of the prime-order subgroup (never the
identity, a small-order point or a point with a small-order component, all
of which would let a peer learn bits of a secret scalar), and scalars mod L.
"""

from __future__ import annotations

import hashlib
import secrets

from Crypto.PublicKey.ECC import EccPoint

from cleanroom.errors import InputError

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # the prime order of the base point
D = (-121665 * pow(121666, -1, P)) % P
ELEMENT_SIZE = 32
SCALAR_SIZE = 32
_CURVE = "ed25519"
_GX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_GY = 46316835694926478169428394003475163141307993866256225615783033603165251855960
_SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = EccPoint


class InvalidElement(InputError):
    """Bytes that are not the encoding of an element of the prime-order group (or a scalar out of range)."""


def generator() -> EccPoint:
    return EccPoint(_GX, _GY, _CURVE)


def identity() -> EccPoint:
    return EccPoint(0, 1, _CURVE)


def encode(point: EccPoint) -> bytes:
    """RFC 8032 5.1.2: y little-endian, the parity of x in the top bit."""
    x, y = int(point.x), int(point.y)
    return (y | ((x & 1) << 255)).to_bytes(ELEMENT_SIZE, "little")


def curve_point(data: bytes) -> EccPoint | None:
    """RFC 8032 5.1.3 decoding of any curve point (small order included); None when ``data`` encodes none.
    Non-canonical encodings (y >= p, or x = 0 with the sign bit set) are refused, so each point has one encoding."""
    if len(data) != ELEMENT_SIZE:
        return None
    word = int.from_bytes(data, "little")
    sign, y = word >> 255, word & ((1 << 255) - 1)
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    if (v * x * x - u) % P != 0:
        x = (x * _SQRT_M1) % P
        if (v * x * x - u) % P != 0:
            return None  # (y^2 - 1) / (d y^2 + 1) is not a square: no point has this y
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return EccPoint(x, y, _CURVE)


def decode(data: bytes, what: str = "element") -> EccPoint:
    """An element of the prime-order subgroup from its encoding; anything else raises ``InvalidElement``
    naming ``what``. The identity is refused too: it would make every evaluation the same."""
    if len(data) != ELEMENT_SIZE:
        raise InvalidElement(f"{what}: expected {ELEMENT_SIZE} bytes, got {len(data)}")
    point = curve_point(data)
    if point is None:
        raise InvalidElement(f"{what}: not the canonical encoding of an Ed25519 point")
    if point.is_point_at_infinity():
        raise InvalidElement(f"{what}: the identity element is not accepted")
    if not (point * L).is_point_at_infinity():
        raise InvalidElement(f"{what}: not in the prime-order subgroup (a small-order component)")
    return point


def random_scalar() -> int:
    """A uniform non-zero scalar mod L (rejection sampling: no modulo bias)."""
    while True:
        value = secrets.randbits(253)  # L is just above 2^252: about half the draws are kept
        if 0 < value < L:
            return value


def scalar_bytes(value: int) -> bytes:
    return (value % L).to_bytes(SCALAR_SIZE, "little")


def scalar_from_bytes(data: bytes, what: str = "scalar") -> int:
    """A secret scalar from its 32 little-endian bytes: 0 < s < L, else ``InvalidElement``."""
    if len(data) != SCALAR_SIZE:
        raise InvalidElement(f"{what}: expected {SCALAR_SIZE} bytes, got {len(data)}")
    value = int.from_bytes(data, "little")
    if not 0 < value < L:
        raise InvalidElement(f"{what}: not a scalar in 1..L-1")
    return value


def hash_to_scalar(*parts: bytes) -> int:
    """A challenge scalar: SHA-512 of the length-prefixed parts, reduced mod L (512 bits: negligible bias)."""
    digest = hashlib.sha512(b"".join(len(p).to_bytes(2, "big") + p for p in parts)).digest()
    return int.from_bytes(digest, "little") % L
