"""The PSI protocol core: hash-to-group and (multi-process) blinding over X25519.

Public face::

    new_secret() -> bytes
    hash_to_points(keys, context: bytes) -> bytes
    blind(secret, points, workers=None) -> bytes
    hash_and_blind(keys, context, secret, workers=None) -> bytes
    InvalidPoint(ValueError)
"""

from cleanroom.psi.blinding import blind, default_workers, hash_and_blind, hash_many, new_secret, shutdown_pool
from cleanroom.psi.group import POINT_SIZE, InvalidPoint, check_points, hash_to_point, hash_to_points

__all__ = [
    "POINT_SIZE",
    "InvalidPoint",
    "blind",
    "check_points",
    "default_workers",
    "hash_and_blind",
    "hash_many",
    "hash_to_point",
    "hash_to_points",
    "new_secret",
    "shutdown_pool",
]
