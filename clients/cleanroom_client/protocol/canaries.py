"""Canary pairs hidden among our points, so that the coordinator can catch a dishonest re-blinding.

Beside our real blinded points we upload m pairs (u, X(c, u)): u points on the curve hashed from
a seed only we can compute, c a scalar used for nothing else. The partner re-blinds every point it
is served without being able to tell canaries from real ones; we tell only the coordinator where
the pairs stand and c, and it checks X(c, X(b, u)) == X(b, X(c, u)) before counting anything
(cleanroom.coordinator.canaries). Seed, scalar and points follow from our secret and our real
points, so a re-run uploads the very same chunks (resumable, same digests).

About 4% of the upload is canaries (2m of N + 2m points, at least 32 pairs): a re-blinder that
tampers with t points passes unnoticed with probability about 0.96^t (0.96^100 = 1.7%,
0.96^500 = 1.4e-9), and one that rotates, duplicates or replaces chunks is caught for sure.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from cleanroom.psi import POINT_SIZE, blind, hash_to_points

CANARY_SHARE = 0.02  # pairs per real point: 2% pairs, 4% of the points
MIN_CANARY_PAIRS = 32
_CONTEXT = b"cleanroom/canary/v1"


def _seed(secret: bytes, agreement_id: str, real: list[bytes]) -> bytes:
    digest = hashlib.sha256()
    for part in real:
        digest.update(part)
    return hashlib.sha256(_CONTEXT + secret + agreement_id.encode() + digest.digest()).digest()


def _scalar(seed: bytes) -> bytes:
    return hashlib.sha256(seed + b"/scalar").digest()


def canary_pairs(secret: bytes, agreement_id: str, real: list[bytes], n_real: int) -> tuple[bytes, bytes]:
    """The canary points to add, as u0, X(c, u0), u1, X(c, u1), ..., and c (deterministic for the same input)."""
    seed = _seed(secret, agreement_id, real)
    m = max(MIN_CANARY_PAIRS, math.ceil(CANARY_SHARE * n_real))
    # Multiplied by a throwaway scalar like every real point is by our secret: a raw hash-to-curve point
    # may lie outside the prime-order subgroup, and a partner testing subgroup membership (or the Legendre
    # symbol) would pick the canaries out. After one X25519 multiplication every point is in the subgroup.
    us = blind(hashlib.sha256(seed + b"/lift").digest(), hash_to_points([f"{seed.hex()}/{i}" for i in range(m)], _CONTEXT))
    scalar = _scalar(seed)
    lifted = blind(scalar, us)
    pairs = np.empty((m, 2, POINT_SIZE), dtype=np.uint8)
    pairs[:, 0] = np.frombuffer(us, dtype=np.uint8).reshape(m, POINT_SIZE)
    pairs[:, 1] = np.frombuffer(lifted, dtype=np.uint8).reshape(m, POINT_SIZE)
    return pairs.tobytes(), scalar


@dataclass(frozen=True)
class Canaries:
    scalar: bytes  # c: for the coordinator only
    positions: bytes  # each pair's (u, X(c, u)) positions in upload order, little-endian uint32

    @classmethod
    def placed(cls, canary_points: bytes, scalar: bytes, order: np.ndarray, n_real: int) -> Canaries:
        """Where the canaries landed once every point was sorted (``order``: sorted position -> original index)."""
        if not canary_points:
            return cls(b"", b"")
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        m = len(canary_points) // (2 * POINT_SIZE)
        return cls(scalar, position[n_real : n_real + 2 * m].reshape(m, 2).astype("<u4").tobytes())
