"""Exponential EC-ElGamal over P-256: keys, encryption, homomorphic addition, decryption of bounded sums.

Enc(m; r) = (rG, mG + rH) for the public key H = xG. Enc(a) + Enc(b) = Enc(a + b); k * Enc(a) = Enc(k a);
adding Enc(0) with fresh r re-randomises (the result is unlinkable to its inputs). Decryption computes
mG = C2 - x C1 and then m by baby-step giant-step, so only sums in a known, bounded range decrypt.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from Crypto.PublicKey.ECC import EccPoint

from cleanroom.errors import InvalidArgument
from cleanroom.homomorphic.bsgs import discrete_log
from cleanroom.homomorphic.fixedbase import FixedBase
from cleanroom.homomorphic.points import GENERATOR, ORDER, POINT_SIZE, decode_point, encode_point, infinity

CIPHERTEXT_SIZE = 2 * POINT_SIZE


class Ciphertext(NamedTuple):
    c1: EccPoint  # rG
    c2: EccPoint  # mG + rH

    def to_bytes(self) -> bytes:
        return encode_point(self.c1) + encode_point(self.c2)

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "ciphertext") -> Ciphertext:
        """InvalidArgument naming ``what`` when ``data`` is not two P-256 points."""
        if len(data) != CIPHERTEXT_SIZE:
            raise InvalidArgument(f"{what}: expected {CIPHERTEXT_SIZE} bytes (two uncompressed P-256 points), got {len(data)}")
        return cls(decode_point(data[:POINT_SIZE], what), decode_point(data[POINT_SIZE:], what))


@dataclass(frozen=True)
class PublicKey:
    point: EccPoint

    def to_bytes(self) -> bytes:
        return encode_point(self.point)

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "value public key") -> PublicKey:
        point = decode_point(data, what)
        if point == GENERATOR:  # x = 1: anyone could decrypt
            raise InvalidArgument(f"{what}: the generator is not a usable public key")
        return cls(point)


@dataclass(frozen=True)
class KeyPair:
    secret: int
    public: PublicKey

    def secret_bytes(self) -> bytes:
        return self.secret.to_bytes(32, "big")

    @classmethod
    def from_secret(cls, secret: bytes) -> KeyPair:
        x = int.from_bytes(secret, "big")
        if not 1 < x < ORDER or len(secret) != 32:
            raise InvalidArgument("value secret key: expected 32 bytes, a scalar in [2, n)")
        return cls(x, PublicKey(GENERATOR * x))


def generate() -> KeyPair:
    return KeyPair.from_secret((secrets.randbelow(ORDER - 2) + 2).to_bytes(32, "big"))


@lru_cache(maxsize=8)
def _table(public: bytes) -> FixedBase:
    return FixedBase(decode_point(public))


def _nonce() -> int:
    return secrets.randbelow(ORDER - 1) + 1


def encrypt(public: PublicKey, m: int, r: int | None = None) -> Ciphertext:
    """Enc(m) under ``public`` (m may be negative: it is taken mod the group order)."""
    r = _nonce() if r is None else r
    c2 = _table(public.to_bytes()).mul(r)
    if m % ORDER:
        c2 += GENERATOR * (m % ORDER)
    return Ciphertext(GENERATOR * r, c2)


def encrypt_many(public: PublicKey, values: Sequence[int]) -> bytes:
    """Every value encrypted under ``public``, packed (CIPHERTEXT_SIZE bytes each, in order)."""
    table = _table(public.to_bytes())
    out = bytearray()
    for m in values:
        r = _nonce()
        c2 = table.mul(r)
        if m:
            c2 += GENERATOR * (m % ORDER)
        out += encode_point(GENERATOR * r)
        out += encode_point(c2)
    return bytes(out)


def add(a: Ciphertext, b: Ciphertext) -> Ciphertext:
    c1, c2 = a.c1.copy(), a.c2.copy()
    c1 += b.c1
    c2 += b.c2
    return Ciphertext(c1, c2)


def sum_ciphertexts(items: Iterable[Ciphertext]) -> Ciphertext:
    """The encryption of the sum (Enc(0) with r = 0 for none: re-randomise before release)."""
    c1, c2 = infinity(), infinity()
    for item in items:
        c1 += item.c1
        c2 += item.c2
    return Ciphertext(c1, c2)


def scale(c: Ciphertext, k: int) -> Ciphertext:
    return Ciphertext(c.c1 * (k % ORDER), c.c2 * (k % ORDER))


def rerandomise(public: PublicKey, c: Ciphertext) -> Ciphertext:
    return add(c, encrypt(public, 0))


def decrypt(keys: KeyPair, c: Ciphertext, lo: int, hi: int) -> int:
    """The plaintext of ``c``, known to lie in [lo, hi]; InvalidArgument when it does not (or a wrong key)."""
    shared = c.c1 * keys.secret
    return discrete_log(c.c2 + (-shared), lo, hi)
