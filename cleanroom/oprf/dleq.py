"""A DLEQ proof (Chaum-Pedersen, Fiat-Shamir) that an evaluation used the published key.

Proves log_G(K) == log_B(Z) without revealing k: the client checks it before
it unblinds, so a key holder cannot evaluate with another key (which would
split one account into different tokens and hide conflicts) unnoticed.
Proof: 64 bytes, challenge c then response s, each a scalar mod L.
"""

from __future__ import annotations

from cleanroom.oprf.group import SCALAR_SIZE, L, decode, encode, generator, hash_to_scalar, random_scalar, scalar_bytes

PROOF_SIZE = 2 * SCALAR_SIZE
_DOMAIN = b"cleanroom/oprf/v1/DLEQ"


def _challenge(public: bytes, blinded: bytes, evaluated: bytes, a1: bytes, a2: bytes) -> int:
    return hash_to_scalar(_DOMAIN, encode(generator()), public, blinded, evaluated, a1, a2)


def prove(k: int, blinded: bytes, evaluated: bytes, nonce: int | None = None) -> bytes:
    """A proof that ``evaluated`` == k * ``blinded`` for the k behind ``public_key(k)``."""
    t = random_scalar() if nonce is None else nonce % L
    public = encode(generator() * k)
    a1, a2 = encode(generator() * t), encode(decode(blinded, "blinded element") * t)
    c = _challenge(public, blinded, evaluated, a1, a2)
    s = (t - c * k) % L
    return scalar_bytes(c) + scalar_bytes(s)


def verify(public: bytes, blinded: bytes, evaluated: bytes, proof: bytes) -> bool:
    """True when ``proof`` shows ``evaluated`` was computed from ``blinded`` with the key behind ``public``.
    Malformed elements raise ``InvalidElement``; a malformed or wrong proof is False."""
    big_k, b, z = decode(public, "program key"), decode(blinded, "blinded element"), decode(evaluated, "evaluated element")
    if len(proof) != PROOF_SIZE:
        return False
    c, s = int.from_bytes(proof[:SCALAR_SIZE], "little"), int.from_bytes(proof[SCALAR_SIZE:], "little")
    if c >= L or s >= L:
        return False
    a1 = generator() * s + big_k * c
    a2 = b * s + z * c
    return _challenge(public, blinded, evaluated, encode(a1), encode(a2)) == c
