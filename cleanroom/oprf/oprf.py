"""An oblivious PRF in the style of RFC 9497 (OPRF mode) over the Ed25519 prime-order group.

    F(k, x) = SHA-512(framed("Finalize", context, x, k * H(x)))[:32]

The client blinds (B = r * H(x), r random), the key holder evaluates
(Z = k * B) without learning x, and the client unblinds (r^-1 * Z = k * H(x))
and finalizes. The key holder can compute F directly on its own inputs
(``direct``), with the same result: that is how a vendor labels tokens by its
own accounts. Every element that crosses a trust boundary goes through
``group.decode``, which accepts only prime-order points.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from Crypto.PublicKey.ECC import EccPoint

from cleanroom.oprf.group import L, decode, encode, generator, random_scalar
from cleanroom.oprf.hash_to_group import hash_to_group

TOKEN_SIZE = 32
_FINALIZE = b"cleanroom/oprf/v1/Finalize"


class Blinded(NamedTuple):
    r: int  # the blinding scalar: stays with the client until it finalizes
    element: bytes  # r * H(x), what is sent


def public_key(k: int) -> bytes:
    """K = k * G, the key holder's published key (DLEQ proofs are checked against it)."""
    return encode(generator() * k)


def blind(data: bytes, context: bytes, r: int | None = None) -> Blinded:
    """Blind ``data`` for evaluation; ``r`` is drawn uniformly unless given (tests)."""
    scalar = random_scalar() if r is None else r % L
    return Blinded(scalar, encode(hash_to_group(data, context) * scalar))


def evaluate(k: int, blinded: bytes) -> bytes:
    """Z = k * B for a blinded element from elsewhere (checked to be a prime-order point first)."""
    return encode(decode(blinded, "blinded element") * k)


def _finalize(data: bytes, context: bytes, unblinded: EccPoint) -> bytes:
    parts = (_FINALIZE, context, data, encode(unblinded))
    return hashlib.sha512(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).digest()[:TOKEN_SIZE]


def finalize(data: bytes, context: bytes, r: int, evaluated: bytes) -> bytes:
    """The PRF output from the key holder's evaluation of our blinded element."""
    unblinded = decode(evaluated, "evaluated element") * pow(r, -1, L)
    return _finalize(data, context, unblinded)


def direct(k: int, data: bytes, context: bytes) -> bytes:
    """F(k, data) computed by the key holder itself (no blinding): equal to blind/evaluate/finalize."""
    return _finalize(data, context, hash_to_group(data, context) * k)
