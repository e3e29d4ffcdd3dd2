"""Curve25519 u-coordinates as the PSI group: hashing keys to points, point checks.

X25519 (RFC 7748) works on u-coordinates only; clamped scalar multiplication
commutes, which is all ECDH-PSI needs: X(a, X(b, u)) == X(b, X(a, u)).

Hash to group. A key is hashed to a u-coordinate *on the curve*, not on its
twist: X25519 keeps curve points on the curve and twist points on the twist,
and anyone can tell which from a token (is u^3 + A u^2 + u a square mod p?).
Hashing straight to u would therefore leak one bit of H(key) per token. We
raise a counter until the candidate is on the curve (2 tries on average).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

import gmpy2
import numpy as np

from cleanroom.errors import InputError

P = 2**255 - 19
A = 486662
POINT_SIZE = 32
DOMAIN = b"cleanroom/psi/v1"

# Canonical u-coordinates of the points of small order (1, 2, 4, 8) on
# Curve25519: X25519 maps each of them to the all-zero output for every scalar.
LOW_ORDER_U: tuple[int, ...] = (
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    P - 1,
)
_LOW_ORDER_BYTES = frozenset(u.to_bytes(32, "little") for u in LOW_ORDER_U)
_LOW_ORDER_ARRAY = np.frombuffer(b"".join(sorted(_LOW_ORDER_BYTES)), dtype="V32")
_P_BYTES = np.frombuffer(P.to_bytes(32, "little"), dtype=np.uint8)


class InvalidPoint(ValueError):
    """A packed point buffer that is not a list of valid, canonical curve points."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index

    def __reduce__(self) -> tuple[type[InvalidPoint], tuple[str, int | None]]:  # keep ``index`` across process boundaries
        return (type(self), (str(self), self.index))


def _frame(*fields: bytes) -> bytes:
    """Length-prefix every field (4-byte big-endian) so no two inputs collide."""
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def _as_bytes(key: str | bytes) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    raise InputError(f"a match key must be str or bytes, not {type(key).__name__}")


def is_on_curve(u: int) -> bool:
    """True when u is the u-coordinate of a point on Curve25519 (not its twist)."""
    return bool(gmpy2.jacobi((u * u * u + A * u * u + u) % P, P) == 1)


# The hot path of hash_to_points, in gmpy2 integers: the same arithmetic as
# is_on_curve, about 1.4x faster per key than Python integers.
_MPZ_P, _MPZ_A = gmpy2.mpz(P), gmpy2.mpz(A)
_U_MASK = (1 << 255) - 1
_COUNTER_FRAMES = tuple(_frame(struct.pack(">I", counter)) for counter in range(64))
_LOW_ORDER_SET = frozenset(LOW_ORDER_U)


def _point_from_prefix(prefix: bytes) -> bytes:
    sha256, mpz, jacobi, p, a = hashlib.sha256, gmpy2.mpz, gmpy2.jacobi, _MPZ_P, _MPZ_A
    counter = 0
    while True:
        frame = _COUNTER_FRAMES[counter] if counter < len(_COUNTER_FRAMES) else _frame(struct.pack(">I", counter))
        u = mpz(int.from_bytes(sha256(prefix + frame).digest(), "little") & _U_MASK) % p
        # u^3 + A u^2 + u == ((u + A) u + 1) u
        if jacobi(((u + a) * u + 1) * u % p, p) == 1 and u not in _LOW_ORDER_SET:
            return int(u).to_bytes(32, "little")
        counter += 1


def hash_to_point(key: str | bytes, context: bytes) -> bytes:
    """Hash one key to a 32-byte curve point (see the module docstring)."""
    return _point_from_prefix(_frame(DOMAIN, bytes(context), _as_bytes(key)))


def hash_to_points(keys: Iterable[str | bytes], context: bytes) -> bytes:
    """Hash every key to a point; the packed concatenation, one 32-byte point per key."""
    if not isinstance(context, (bytes, bytearray)):
        raise InputError("the hash context must be bytes (it binds the agreement and key kind)")
    head = _frame(DOMAIN, bytes(context))  # == the first two fields of _frame(DOMAIN, context, key)
    pack = struct.Struct(">I").pack
    out = []
    for key in keys:
        data = _as_bytes(key)
        out.append(_point_from_prefix(head + pack(len(data)) + data))
    return b"".join(out)


def check_points(points: bytes) -> np.ndarray:
    """Validate a packed point buffer; return it viewed as an array of 32-byte items.

    Rejects: a length that is not a multiple of 32, non-canonical encodings
    (top bit set, or u >= p) and the points of small order. Vectorised, so the
    check costs a few percent of the scalar multiplications it guards.
    """
    n, rest = divmod(len(points), POINT_SIZE)
    if rest:
        raise InvalidPoint(f"packed points must be a multiple of {POINT_SIZE} bytes; got {len(points)} bytes")
    raw = np.frombuffer(points, dtype=np.uint8).reshape(n, POINT_SIZE)
    top_bit = np.flatnonzero(raw[:, 31] & 0x80)
    if top_bit.size:
        raise InvalidPoint(f"point {int(top_bit[0])} is not canonical (top bit set)", int(top_bit[0]))
    # u >= p only when bytes 31..1 equal p's (0x7f, 0xff x 30) and byte 0 >= 0xed.
    high_equal = np.all(raw[:, 1:] == _P_BYTES[1:], axis=1)
    too_big = np.flatnonzero(high_equal & (raw[:, 0] >= _P_BYTES[0]))
    if too_big.size:
        raise InvalidPoint(f"point {int(too_big[0])} is not canonical (u >= p)", int(too_big[0]))
    as_items = raw.view("V32").reshape(n)
    low = np.flatnonzero(np.isin(as_items, _LOW_ORDER_ARRAY))
    if low.size:
        raise InvalidPoint(f"point {int(low[0])} has small order (its token would be zero)", int(low[0]))
    return as_items
