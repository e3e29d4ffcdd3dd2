"""Fixed-base scalar multiplication: a table of j * 256^i * P, so k * P is 32 point additions.

pycryptodome multiplies its own generator fast (~50 us) but any other point slowly (~240 us);
encrypting to a public key H needs r * H once per value, so H gets a table (~10 ms to build).
"""

from __future__ import annotations

from Crypto.PublicKey.ECC import EccPoint

from cleanroom.homomorphic.points import ORDER, infinity

WINDOW_BITS = 8
_WINDOWS = (ORDER.bit_length() + WINDOW_BITS - 1) // WINDOW_BITS
_MASK = (1 << WINDOW_BITS) - 1


class FixedBase:
    """Multiples of one point, by table."""

    def __init__(self, base: EccPoint) -> None:
        self.base = base.copy()
        self._table: list[list[EccPoint]] = []
        step = base.copy()
        for _ in range(_WINDOWS):
            row = [infinity(), step.copy()]
            for _ in range(2, _MASK + 1):
                nxt = row[-1].copy()
                nxt += step
                row.append(nxt)
            self._table.append(row)
            step = row[-1].copy()
            step += row[1]  # 256 * step

    def mul(self, k: int) -> EccPoint:
        k %= ORDER
        acc = infinity()
        for row in self._table:
            digit = k & _MASK
            if digit:
                acc += row[digit]
            k >>= WINDOW_BITS
        return acc
