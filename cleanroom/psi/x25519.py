"""X25519 of many points by one secret: OpenSSL for any point, crypto_mb for our own hash outputs.

Two implementations:
- ``openssl``: OpenSSL through ``cryptography``, one point a call. Used for every point someone else
  chose: re-blinding a partner's points, the canary checks, anything received.
- ``cryptomb``: Intel's multi-buffer crypto_mb (cryptomb.py), eight points a call, about 5x faster,
  where the ``fast`` extra is installed and the CPU has AVX-512 IFMA. Used only by
  ``multiply_own_hashes``: for points that are this process's own hash-to-curve outputs.

Why the split: crypto_mb 2026.2.0 computes X25519 *wrongly* for some canonical points of large
order, all close to structured values (u within ~2^11 of p, of 2^254, of 2^255 - 2^e; u = 2^e - 1
for e in 85..93), and for some of them only when a bit of the secret is 0. A party that could make
us multiply such a point would learn secret bits from whether the result was right (found by an
adversarial review; tests/unit/test_x25519_backends.py plays it). Nobody chooses our hash outputs:
SHA-256 would have to land within ~2^11 of such a value, about 2^-240 a try; on millions of our hash
outputs and random points crypto_mb agrees with OpenSSL everywhere (the tests check thousands each run).

``CLEANROOM_X25519`` picks: ``auto`` (the default: crypto_mb for our own hashes when it loads),
``openssl`` (never crypto_mb), or ``cryptomb`` (refused with EngineUnavailable where it cannot load,
rather than silently slower).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cleanroom.errors import EngineUnavailable
from cleanroom.psi import cryptomb
from cleanroom.psi.group import POINT_SIZE, InvalidPoint, check_points

SECRET_SIZE = 32
BACKEND_VARIABLE = "CLEANROOM_X25519"
BACKENDS = ("auto", "openssl", "cryptomb")


def backend() -> str:
    """What ``multiply_own_hashes`` runs on in this process: "cryptomb" or "openssl" (``multiply``: always OpenSSL)."""
    wanted = os.environ.get(BACKEND_VARIABLE, "auto").strip().lower() or "auto"
    if wanted not in BACKENDS:
        raise EngineUnavailable(f"{BACKEND_VARIABLE}={wanted!r}: choose one of {', '.join(BACKENDS)}")
    if wanted == "openssl":
        return "openssl"
    if cryptomb.load() is not None:
        return "cryptomb"
    if wanted == "cryptomb":
        raise EngineUnavailable(
            f"{BACKEND_VARIABLE}=cryptomb, but crypto_mb cannot be used here: install the 'fast' extra "
            "(pip install 'cleanroom[fast]') on Linux x86_64 with a CPU that has AVX-512 IFMA"
        )
    return "openssl"


def multiply(secret: bytes, points: bytes, base_index: int = 0) -> bytes:
    """Every packed 32-byte point times ``secret``, in order, on OpenSSL: for points anyone may have chosen.
    InvalidPoint (numbered from ``base_index``) for a point of small order, whose result would be all zero."""
    check_secret(secret)
    return _openssl(secret, points, base_index)


def multiply_own_hashes(secret: bytes, points: bytes, base_index: int = 0) -> bytes:
    """``multiply`` for points that are this process's own ``hash_to_points`` outputs, which nobody
    else chose: on crypto_mb where ``backend()`` says so (see the module docstring for why only these)."""
    check_secret(secret)
    engine = cryptomb.load() if backend() == "cryptomb" else None
    if engine is None or not _plain(points):
        return _openssl(secret, points, base_index)
    result, low = engine.multiply(secret, points)
    if low:
        index = base_index + low[0]
        raise InvalidPoint(f"point {index} has small order (its token would be zero)", index)
    return result


def check_secret(secret: bytes) -> None:
    """ValueError unless ``secret`` is SECRET_SIZE bytes. Checked before either implementation runs:
    crypto_mb would read a short secret padded with zeros, where OpenSSL refuses it."""
    if not isinstance(secret, (bytes, bytearray)) or len(secret) != SECRET_SIZE:
        raise ValueError(f"a blinding secret is {SECRET_SIZE} bytes")


def _plain(points: bytes) -> bool:
    """Whether every point is canonical and of large order (as hash outputs always are): anything else
    goes to OpenSSL, which refuses small order exactly as RFC 7748 says (crypto_mb gives a non-zero
    result for u = p - 1, of order 4)."""
    try:
        check_points(points)
    except InvalidPoint:
        return False
    return True


def _openssl(secret: bytes, points: bytes, base_index: int) -> bytes:
    """One ``cryptography`` exchange a point; the hot loop, kept lean."""
    exchange = X25519PrivateKey.from_private_bytes(secret).exchange
    from_bytes = X25519PublicKey.from_public_bytes
    try:
        return b"".join([exchange(from_bytes(points[i : i + POINT_SIZE])) for i in range(0, len(points), POINT_SIZE)])
    except ValueError:
        pass
    # Some point gave the all-zero output; find which, for the error message.
    for i in range(0, len(points), POINT_SIZE):
        try:
            exchange(from_bytes(points[i : i + POINT_SIZE]))
        except ValueError:
            index = base_index + i // POINT_SIZE
            raise InvalidPoint(f"point {index} has small order (its token would be zero)", index) from None
    raise AssertionError("unreachable: a failing point must fail again")
