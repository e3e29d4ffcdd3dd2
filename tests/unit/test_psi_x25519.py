"""X25519 as the PSI group: RFC 7748 vectors, an independent ladder, curve membership, low order.

Three implementations are checked against the RFC and each other:
``cryptography`` (OpenSSL), ``cleanroom.psi.blind`` (which wraps it, plus point
checks) and a pure-Python Montgomery ladder written here from RFC 7748 section 5.
Curve membership is decided here with Euler's criterion (a plain ``pow``), not
gmpy2, so the test does not share code with ``cleanroom.psi.group``.
"""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cleanroom.psi import InvalidPoint, blind, hash_to_points
from cleanroom.psi.group import LOW_ORDER_U

P = 2**255 - 19
A = 486662
A24 = 121665  # (A - 2) / 4, as in RFC 7748 section 5

# --------------------------------------------------------------------------
# Reference implementation, transcribed from RFC 7748 section 5.


def decode_u(u: bytes) -> int:
    """decodeUCoordinate: little-endian, top bit masked, *not* reduced mod p."""
    return int.from_bytes(u, "little") & ((1 << 255) - 1)


def decode_scalar(k: bytes) -> int:
    """decodeScalar25519: clear the 3 low bits and the top bit, set bit 254."""
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


def ladder(k: int, u: int) -> int:
    """The RFC's constant-shape Montgomery ladder (not constant time: Python ints)."""
    x_1 = u % P
    x_2, z_2, x_3, z_3 = 1, 0, x_1, 1
    swap = 0
    for t in reversed(range(255)):
        k_t = (k >> t) & 1
        swap ^= k_t
        if swap:
            x_2, x_3 = x_3, x_2
            z_2, z_3 = z_3, z_2
        swap = k_t
        a = (x_2 + z_2) % P
        aa = a * a % P
        b = (x_2 - z_2) % P
        bb = b * b % P
        e = (aa - bb) % P
        c = (x_3 + z_3) % P
        d = (x_3 - z_3) % P
        da = d * a % P
        cb = c * b % P
        x_3 = (da + cb) ** 2 % P
        z_3 = x_1 * (da - cb) ** 2 % P
        x_2 = aa * bb % P
        z_2 = e * (aa + A24 * e) % P
    if swap:
        x_2, x_3 = x_3, x_2
        z_2, z_3 = z_3, z_2
    return x_2 * pow(z_2, P - 2, P) % P


def ref_x25519(k: bytes, u: bytes) -> bytes:
    return ladder(decode_scalar(k), decode_u(u)).to_bytes(32, "little")


def lib_x25519(k: bytes, u: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))


def mask_top_bit(u: bytes) -> bytes:
    return u[:31] + bytes([u[31] & 0x7F])


def is_square(x: int) -> bool:
    """Euler's criterion; 0 counts as a square."""
    x %= P
    return x == 0 or pow(x, (P - 1) // 2, P) == 1


def on_curve(u: int) -> bool:
    return is_square(u**3 + A * u * u + u)


def clamped_scalar(rng: random.Random) -> bytes:
    return rng.randbytes(32)  # X25519 clamps it; ladder() takes decode_scalar() of it


# --------------------------------------------------------------------------
# RFC 7748 section 5.2 vectors.

SINGLE_VECTORS = [
    (
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
]
ITERATED = {
    1: "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
    1000: "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
}
NINE = bytes([9]) + bytes(31)


@pytest.mark.parametrize(("k", "u", "out"), SINGLE_VECTORS, ids=["vector1", "vector2"])
def test_rfc7748_single_vectors(k: str, u: str, out: str) -> None:
    k_b, u_b, expected = bytes.fromhex(k), bytes.fromhex(u), bytes.fromhex(out)
    assert lib_x25519(k_b, u_b) == expected
    assert ref_x25519(k_b, u_b) == expected
    # blind() accepts only canonical encodings; X25519 masks the top bit, so
    # the masked input must give the RFC's output.
    assert blind(k_b, mask_top_bit(u_b)) == expected
    assert blind(k_b, mask_top_bit(u_b), workers=1) == expected


def test_rfc7748_vector2_unmasked_is_rejected_by_blind() -> None:
    k, u, _ = (bytes.fromhex(h) for h in SINGLE_VECTORS[1])
    assert u[31] & 0x80, "the RFC's second vector has the top bit set"
    with pytest.raises(InvalidPoint) as info:
        blind(k, u)
    assert info.value.index == 0
    # ... and hidden behind valid points, with the right index.
    _k1, u1, _ = (bytes.fromhex(h) for h in SINGLE_VECTORS[0])
    with pytest.raises(InvalidPoint) as info:
        blind(k, u1 * 3 + u + u1)
    assert info.value.index == 3


def _iterate(x25519, rounds: int) -> bytes:
    k = u = NINE
    for _ in range(rounds):
        k, u = x25519(k, u), k
    return k


@pytest.mark.parametrize("rounds", sorted(ITERATED))
def test_rfc7748_iterated_cryptography(rounds: int) -> None:
    assert _iterate(lib_x25519, rounds).hex() == ITERATED[rounds]


@pytest.mark.parametrize("rounds", sorted(ITERATED))
def test_rfc7748_iterated_blind(rounds: int) -> None:
    assert _iterate(blind, rounds).hex() == ITERATED[rounds]


@pytest.mark.parametrize("rounds", sorted(ITERATED))
def test_rfc7748_iterated_reference_ladder(rounds: int) -> None:
    assert _iterate(ref_x25519, rounds).hex() == ITERATED[rounds]


def test_ladder_agrees_with_openssl_and_blind_on_random_inputs() -> None:
    rng = random.Random(7748)
    ks, us = [], []
    while len(us) < 40:
        u = rng.randrange(P).to_bytes(32, "little")
        if int.from_bytes(u, "little") not in LOW_ORDER_U:
            ks.append(clamped_scalar(rng))
            us.append(u)
    for k, u in zip(ks, us, strict=True):
        assert ref_x25519(k, u) == lib_x25519(k, u) == blind(k, u)
    # One batch, one secret: blind() agrees point by point, in order.
    k = ks[0]
    assert blind(k, b"".join(us)) == b"".join(ref_x25519(k, u) for u in us)


# --------------------------------------------------------------------------
# Hash to group: on the curve, never on the twist.


def test_euler_criterion_distinguishes_curve_from_twist() -> None:
    # u = 9 is the base point (on the curve); u = 2 is on the twist.
    assert on_curve(9)
    assert not on_curve(2)


def test_hash_to_points_are_on_the_curve() -> None:
    keys = [f"acme-{i}.example" for i in range(300)] + [b"", b"\x00", "ünïcødé.de"]
    packed = hash_to_points(keys, b"test/agreement/domain")
    assert len(packed) == 32 * len(keys)
    points = [packed[i : i + 32] for i in range(0, len(packed), 32)]
    for pt in points:
        u = int.from_bytes(pt, "little")
        assert u < P, "canonical: reduced mod p, top bit clear"
        assert on_curve(u), f"{pt.hex()} is on the twist"
        assert u not in LOW_ORDER_U
    assert len(set(points)) == len(points)


# --------------------------------------------------------------------------
# Low-order points.


@pytest.mark.parametrize("u", LOW_ORDER_U, ids=[f"u{i}" for i in range(len(LOW_ORDER_U))])
def test_low_order_points_give_zero(u: int) -> None:
    assert 0 <= u < P
    rng = random.Random(u)
    pt = u.to_bytes(32, "little")
    for _ in range(8):
        k = clamped_scalar(rng)
        assert ladder(decode_scalar(k), u) == 0
        with pytest.raises(ValueError):  # OpenSSL refuses the all-zero shared secret
            lib_x25519(k, pt)
        with pytest.raises(InvalidPoint):
            blind(k, pt)


def test_random_points_on_curve_and_twist_do_not_give_zero() -> None:
    rng = random.Random(25519)
    seen_curve = seen_twist = 0
    while seen_curve < 30 or seen_twist < 30:
        u = rng.randrange(2, P - 1)
        k = decode_scalar(clamped_scalar(rng))
        assert ladder(k, u) != 0, u
        if on_curve(u):
            seen_curve += 1
        else:
            seen_twist += 1


# Completeness. X25519(k, u) is zero exactly when [k]u is the point at infinity
# or the 2-torsion point u = 0 on the Kummer line (curve and twist together).
# k is a multiple of 8 and, for a random k, not of the large prime orders, so
# the u giving zero for a random k are the 2-power torsion: the closure of
# {infinity} under halving. x(2u) = (u^2 - 1)^2 / (4u(u^2 + A u + 1)), so the
# halves of c are the roots in F_p of (u^2 - 1)^2 - 4c u(u^2 + A u + 1), and
# the halves of infinity the roots of u(u^2 + A u + 1). We count roots as the
# degree of gcd(f, u^p - u), polynomial arithmetic written out below.


def _trim(f: list[int]) -> list[int]:
    while f and f[-1] == 0:
        f = f[:-1]
    return f


def _polymod(a: list[int], m: list[int]) -> list[int]:
    a = [x % P for x in a]
    inv = pow(m[-1], P - 2, P)
    while len(_trim(a)) >= len(m):
        a = _trim(a)
        q = a[-1] * inv % P
        shift = len(a) - len(m)
        for i, c in enumerate(m):
            a[shift + i] = (a[shift + i] - q * c) % P
    return _trim(a)


def _polymulmod(a: list[int], b: list[int], m: list[int]) -> list[int]:
    out = [0] * (len(a) + len(b))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return _polymod(out, m)


def _u_pow_p_mod(m: list[int]) -> list[int]:
    result, base, e = [1], _polymod([0, 1], m), P
    while e:
        if e & 1:
            result = _polymulmod(result, base, m)
        base = _polymulmod(base, base, m)
        e >>= 1
    return result


def _polygcd(a: list[int], b: list[int]) -> list[int]:
    a, b = _trim([x % P for x in a]), _trim([x % P for x in b])
    while b:
        a, b = b, _polymod(a, b)
    return a


def _count_roots(f: list[int]) -> int:
    """Distinct roots of f in F_p: deg gcd(f, u^p - u)."""
    f = _trim([x % P for x in f])
    up = [*_u_pow_p_mod(f), 0, 0]
    up[1] -= 1
    return len(_polygcd(f, up)) - 1


def _eval(f: list[int], u: int) -> int:
    return sum(c * pow(u, i, P) for i, c in enumerate(f)) % P


def _halving_poly(c: int) -> list[int]:
    # (u^2 - 1)^2 - 4c(u^3 + A u^2 + u), coefficients from u^0 up.
    return [1, -4 * c, -2 - 4 * c * A, -4 * c, 1]


def test_root_counting_is_sound() -> None:
    # (u - 2)(u - 3)(u^2 - 2): 2 is not a square mod p (p = 5 mod 8), so 2 roots.
    f = [-12, 10, 4, -5, 1]
    assert _eval(f, 2) == _eval(f, 3) == 0
    assert _count_roots(f) == 2
    assert _count_roots([-1, 0, 1]) == 2  # u^2 - 1
    assert _count_roots([-2, 0, 1]) == 0  # u^2 - 2


def test_low_order_list_is_complete_among_canonical_encodings() -> None:
    listed = set(LOW_ORDER_U)
    assert len(listed) == 5
    # Halves of infinity: u (u^2 + A u + 1) has only the root 0.
    assert _count_roots([0, 1, A, 1]) == 1
    found = {0}
    frontier = [0]
    while frontier:
        c = frontier.pop()
        f = _halving_poly(c)
        roots = {u for u in listed if _eval(f, u) == 0}
        # Every root in F_p of the halving polynomial must be in the list.
        assert _count_roots(f) == len(roots), f"a half of {c} is missing from LOW_ORDER_U"
        frontier += sorted(roots - found)
        found |= roots
    assert found == listed
