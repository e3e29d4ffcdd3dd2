"""P-256 points as bytes: SEC1 uncompressed (0x04 || x || y), checked on the curve when read.

Uncompressed, not compressed: reading a compressed point costs a modular square root, and the
coordinator reads one ciphertext (two points) per matched account. The point at infinity has no
encoding here: no honest ciphertext contains it (r is never 0).
"""

from __future__ import annotations

from Crypto.PublicKey import ECC
from Crypto.PublicKey.ECC import EccPoint

from cleanroom.errors import InvalidArgument

CURVE = "p256"
POINT_SIZE = 65
_CURVE = ECC._curves[CURVE]
ORDER = int(_CURVE.order)
GENERATOR: EccPoint = _CURVE.G


def encode_point(point: EccPoint) -> bytes:
    if point.is_point_at_infinity():
        raise ValueError("the point at infinity has no encoding")
    x, y = point.xy
    return b"\x04" + int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def decode_point(data: bytes, what: str = "point") -> EccPoint:
    """The point ``data`` encodes; InvalidArgument naming ``what`` when it is the wrong length or off the curve."""
    if len(data) != POINT_SIZE or data[0] != 4:
        raise InvalidArgument(
            f"{what}: expected a {POINT_SIZE}-byte uncompressed P-256 point (0x04 || x || y), got {len(data)} bytes"
        )
    try:
        return EccPoint(int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big"), curve=CURVE)
    except ValueError:
        raise InvalidArgument(f"{what}: not a point on P-256") from None


def infinity() -> EccPoint:
    return GENERATOR.point_at_infinity()
