"""X25519 of many points by one secret, on the fastest implementation this machine has.

Two implementations give the same bytes for every input (RFC 7748; tests/unit/test_x25519_backends.py
holds them to each other and to the RFC's vectors):
- ``cryptomb``: Intel's multi-buffer crypto_mb, eight points a call (cryptomb.py), about 5x faster,
  where the ``fast`` extra is installed and the CPU has AVX-512 IFMA;
- ``openssl``: OpenSSL through ``cryptography``, one point a call, everywhere.

``CLEANROOM_X25519`` picks one: ``auto`` (the default: crypto_mb when it loads), ``openssl``, or
``cryptomb`` (refused with EngineUnavailable where it cannot load, rather than silently slower).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cleanroom.errors import EngineUnavailable
from cleanroom.psi import cryptomb
from cleanroom.psi.group import POINT_SIZE, InvalidPoint, check_points

BACKEND_VARIABLE = "CLEANROOM_X25519"
BACKENDS = ("auto", "openssl", "cryptomb")


def backend() -> str:
    """The implementation ``multiply`` uses in this process: "cryptomb" or "openssl"."""
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
    """Every packed 32-byte point times ``secret``, in order. InvalidPoint (numbered from ``base_index``)
    for a point of small order, whose result would be all zero."""
    engine = cryptomb.load() if backend() == "cryptomb" else None
    if engine is None or not _plain(points):
        return _openssl(secret, points, base_index)
    result, low = engine.multiply(secret, points)
    if low:
        index = base_index + low[0]
        raise InvalidPoint(f"point {index} has small order (its token would be zero)", index)
    return result


def _plain(points: bytes) -> bool:
    """Whether every point is canonical and of large order: only such points go to crypto_mb. It gives
    a non-zero result for u = p - 1 (of order 4), where RFC 7748 and OpenSSL give zero; the rest (never
    sent by an honest party, refused by ``blind`` before this) go to OpenSSL, which refuses them exactly."""
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
