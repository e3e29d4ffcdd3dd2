"""Hashing an input to the prime-order group, for the OPRF.

Why try-and-increment rather than RFC 9380's edwards25519_XMD:SHA-512_ELL2_RO_:
both are random oracles into the group, and the OPRF's security needs only
that (nobody may know the discrete log of H(x) to the base point). A
candidate y and sign bit are read from SHA-512 of the domain, the input and a
counter; about half of the y values lie on the curve, so two tries on average.
Each curve point with a valid y is then equally likely, and multiplying by
the cofactor 8 maps the whole curve onto the prime-order subgroup, 8 to 1,
uniformly. The loop is not constant-time: its number of tries depends on the
input. That is harmless here because hashing happens only on the machine
that owns the input, before blinding; what leaves it is r * H(x), whose
timing and value are independent of x. Elligator 2 would be constant-time
but is four times the code to get right, for no gain in this setting.
"""

from __future__ import annotations

import hashlib

from Crypto.PublicKey.ECC import EccPoint

from cleanroom.oprf.group import curve_point

DOMAIN = b"cleanroom/oprf/v1/hash-to-group"
COFACTOR = 8
_MAX_TRIES = 256  # each try fails with probability ~1/2: 2^-256, never in practice


def _framed(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def hash_to_group(data: bytes, context: bytes) -> EccPoint:
    """H(data) in the prime-order subgroup, separated by ``context`` (a program's id: one program's
    tokens say nothing about another's)."""
    for counter in range(_MAX_TRIES):
        digest = hashlib.sha512(_framed(DOMAIN, context, data, counter.to_bytes(4, "big"))).digest()
        candidate = curve_point(bytes(digest[:31]) + bytes([digest[31] & 0x7F | (digest[32] & 0x80)]))
        if candidate is None:
            continue
        point = candidate * COFACTOR
        if not point.is_point_at_infinity():  # a small-order candidate: its cofactor multiple is the identity
            return point
    raise AssertionError("hash_to_group: no curve point in 256 tries (probability 2^-256)")
