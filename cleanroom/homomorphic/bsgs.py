"""The discrete logarithm of a point known to be m * G with lo <= m <= hi: baby-step giant-step.

O(sqrt(hi - lo)) point additions and a table of that many points. Tables are kept (by size, a power of
two, so one table serves every smaller range): a viewer decrypting several cells builds one.
"""

from __future__ import annotations

import math
from functools import lru_cache

from Crypto.PublicKey.ECC import EccPoint

from cleanroom.errors import InvalidArgument
from cleanroom.homomorphic.points import GENERATOR, ORDER

MAX_RANGE = 1 << 40  # a table of 2^20 points (~100 MB, ~15 CPU s): beyond this, refuse rather than exhaust memory
_MIN_TABLE = 1 << 8


def _key(point: EccPoint) -> int:
    """x with the parity of y: tells P from -P, which share x."""
    x, y = point.xy
    return (int(x) << 1) | (int(y) & 1)


@lru_cache(maxsize=4)
def baby_steps(size: int) -> dict[int, int]:
    """key(j * G) -> j for 1 <= j < size (0 * G is the point at infinity: checked apart)."""
    table: dict[int, int] = {}
    point = GENERATOR.copy()
    for j in range(1, size):
        table[_key(point)] = j
        point += GENERATOR
    return table


def table_size(span: int) -> int:
    return max(_MIN_TABLE, 1 << math.ceil(math.log2(max(math.isqrt(span) + 1, 2))))


def discrete_log(point: EccPoint, lo: int, hi: int) -> int:
    """m in [lo, hi] with point == m * G; InvalidArgument when none is (a wrong key, or a bound too small)."""
    span = hi - lo + 1
    if span <= 0 or span > MAX_RANGE:
        raise InvalidArgument(f"decryption range [{lo:,}, {hi:,}] must hold 1 to {MAX_RANGE:,} values")
    size = table_size(span)
    table = baby_steps(size)
    target = point + (-(GENERATOR * (lo % ORDER))) if lo else point.copy()
    giant = -(GENERATOR * size)
    for i in range(span // size + 1):
        if target.is_point_at_infinity():
            found = i * size
        else:
            j = table.get(_key(target))
            found = -1 if j is None else i * size + j
        if 0 <= found < span:
            return lo + found
        target += giant
    raise InvalidArgument(
        f"the plaintext is not in [{lo:,}, {hi:,}]: the ciphertext was not encrypted to this key, or its sum exceeds the bound"
    )
