"""Additively homomorphic encryption of small integers: exponential EC-ElGamal over P-256.

A value m is encrypted to a public key H = xG as (rG, mG + rH). Ciphertexts add
component-wise to an encryption of the sum, so the coordinator can total the
deal amounts of matched accounts without reading any of them; only the holder
of x recovers mG, and then the sum itself by a bounded discrete logarithm
(baby-step giant-step), which is why the values must be small and bounded (a
cap per account times the number of accounts). Point arithmetic is
pycryptodome's (``cryptography`` does not expose it). Pure functions.
"""

from cleanroom.homomorphic.bsgs import discrete_log
from cleanroom.homomorphic.elgamal import (
    CIPHERTEXT_SIZE,
    Ciphertext,
    KeyPair,
    PublicKey,
    add,
    decrypt,
    encrypt,
    encrypt_many,
    generate,
    rerandomise,
    scale,
    sum_ciphertexts,
)
from cleanroom.homomorphic.points import POINT_SIZE, decode_point, encode_point

__all__ = [
    "CIPHERTEXT_SIZE",
    "POINT_SIZE",
    "Ciphertext",
    "KeyPair",
    "PublicKey",
    "add",
    "decode_point",
    "decrypt",
    "discrete_log",
    "encode_point",
    "encrypt",
    "encrypt_many",
    "generate",
    "rerandomise",
    "scale",
    "sum_ciphertexts",
]
