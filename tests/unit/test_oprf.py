"""The OPRF and its DLEQ proof, against an independent Ed25519 written here from RFC 8032's reference code.

Ground truth: the RFC's affine Edwards addition and double-and-add (plain Python integers, nothing from
cleanroom.oprf), OpenSSL's Ed25519 public keys (through ``cryptography``) for the encoding and the base
point, and the finalize hash recomputed here from its definition.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cleanroom import oprf
from cleanroom.oprf.group import decode, encode, identity

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
I_SQRT = pow(2, (P - 1) // 4, P)
GY = 4 * pow(5, P - 2, P) % P


def _x_of(y: int, sign: int) -> int | None:
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P != 0:
        x = x * I_SQRT % P
    if (x * x - xx) % P != 0:
        return None
    if x % 2 != sign:
        x = P - x
    return x


G = (_x_of(GY, 0), GY)


def _add(p: tuple[int, int], q: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = p, q
    t = D * x1 * x2 * y1 * y2
    return ((x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)


def _mul(n: int, p: tuple[int, int]) -> tuple[int, int]:
    acc = (0, 1)
    while n:
        if n & 1:
            acc = _add(acc, p)
        p, n = _add(p, p), n >> 1
    return acc


def _enc(p: tuple[int, int]) -> bytes:
    return (p[1] | ((p[0] & 1) << 255)).to_bytes(32, "little")


def _framed(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _hash_to_group(data: bytes, context: bytes) -> tuple[int, int]:
    """The construction the module documents, spelled out again: SHA-512 -> (y, sign) until on the curve, times 8."""
    for counter in range(256):
        digest = hashlib.sha512(_framed(b"cleanroom/oprf/v1/hash-to-group", context, data, counter.to_bytes(4, "big"))).digest()
        word = int.from_bytes(digest[:32], "little")
        y, sign = word & ((1 << 255) - 1), digest[32] >> 7
        x = _x_of(y, sign) if y < P else None
        if x is None or (x == 0 and sign):
            continue
        point = _mul(8, (x, y))
        if point != (0, 1):
            return point
    raise AssertionError


def _token(k: int, data: bytes, context: bytes) -> bytes:
    unblinded = _enc(_mul(k, _hash_to_group(data, context)))
    return hashlib.sha512(_framed(b"cleanroom/oprf/v1/Finalize", context, data, unblinded)).digest()[:32]


def test_public_key_matches_openssl_ed25519() -> None:
    seed = bytes(range(32))
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)  # RFC 8032 clamping
    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert oprf.public_key(a) == expected
    assert oprf.public_key(a % L) == expected  # the base point has order L


@pytest.mark.parametrize("data", [b"acme.com", b"globex.example", b"", "bücher.de".encode()])
def test_unblinded_output_equals_direct_evaluation_computed_independently(data: bytes) -> None:
    context = b"prg_test"
    k = oprf.new_secret()
    blinded = oprf.blind(data, context)
    evaluated = oprf.evaluate(k, blinded.element)
    token = oprf.finalize(data, context, blinded.r, evaluated)
    assert token == _token(k, data, context)
    assert oprf.direct(k, data, context) == token
    # blinding hides the input: the element sent is r * H(x), not H(x)
    assert blinded.element != _enc(_hash_to_group(data, context))
    assert blinded.element == _enc(_mul(blinded.r, _hash_to_group(data, context)))


def test_tokens_separate_inputs_keys_and_programs() -> None:
    k = oprf.new_secret()
    assert oprf.direct(k, b"a.com", b"p1") != oprf.direct(k, b"b.com", b"p1")
    assert oprf.direct(k, b"a.com", b"p1") != oprf.direct(k, b"a.com", b"p2")
    assert oprf.direct(k, b"a.com", b"p1") != oprf.direct(k + 1, b"a.com", b"p1")


def test_dleq_accepts_the_key_used_and_refuses_any_other() -> None:
    k = oprf.new_secret()
    blinded = oprf.blind(b"acme.com", b"p").element
    evaluated = oprf.evaluate(k, blinded)
    proof = oprf.prove(k, blinded, evaluated)
    assert oprf.verify(oprf.public_key(k), blinded, evaluated, proof)
    other = oprf.new_secret()
    assert not oprf.verify(oprf.public_key(other), blinded, evaluated, proof)
    # an evaluation with another key, proved with that key, does not pass for the published one
    wrong = oprf.evaluate(other, blinded)
    assert not oprf.verify(oprf.public_key(k), blinded, wrong, oprf.prove(other, blinded, wrong))
    # a proof for one element does not carry over to another
    blinded2 = oprf.blind(b"globex.com", b"p").element
    assert not oprf.verify(oprf.public_key(k), blinded2, oprf.evaluate(k, blinded2), proof)
    tampered = bytes([proof[0] ^ 1]) + proof[1:]
    assert not oprf.verify(oprf.public_key(k), blinded, evaluated, tampered)
    assert not oprf.verify(oprf.public_key(k), blinded, evaluated, proof[:-1])


def _small_order_points() -> list[bytes]:
    """The 8 torsion points, found independently: 8 * (L * Q) for Q on the curve are of order dividing 8."""
    torsion = _mul(L, (_x_of(3, 0), 3)) if _x_of(3, 0) is not None else _mul(L, (_x_of(4, 0), 4))
    points, acc = [], (0, 1)
    for _ in range(8):
        points.append(_enc(acc))
        acc = _add(acc, torsion)
    assert len(set(points)) == 8 and acc == (0, 1)  # a point of order exactly 8 generates all of them
    return points


def test_invalid_points_are_rejected() -> None:
    k = oprf.new_secret()
    for bad in _small_order_points():  # identity and every small-order point
        with pytest.raises(oprf.InvalidElement):
            oprf.evaluate(k, bad)
    mixed = _enc(_add(_mul(5, G), _mul(L, (_x_of(3, 0) or 0, 3))))  # prime-order part plus a torsion part
    with pytest.raises(oprf.InvalidElement, match="prime-order"):
        decode(mixed)
    not_on_curve = next(y for y in range(2, 100) if _x_of(y, 0) is None)
    with pytest.raises(oprf.InvalidElement, match="not the canonical encoding"):
        oprf.evaluate(k, not_on_curve.to_bytes(32, "little"))
    with pytest.raises(oprf.InvalidElement, match="not the canonical encoding"):
        decode((P + 1).to_bytes(32, "little"))  # y >= p: a second encoding of y = 1
    with pytest.raises(oprf.InvalidElement, match="expected 32 bytes"):
        oprf.evaluate(k, b"\x01" * 31)
    assert encode(identity()) == _enc((0, 1))
    assert decode(_enc(_mul(7, G))) is not None


def test_secret_scalars_are_range_checked() -> None:
    with pytest.raises(oprf.InvalidElement):
        oprf.scalar_from_bytes(bytes(32))
    with pytest.raises(oprf.InvalidElement):
        oprf.scalar_from_bytes(L.to_bytes(32, "little"))
    k = oprf.new_secret()
    assert oprf.scalar_from_bytes(oprf.scalar_bytes(k)) == k
