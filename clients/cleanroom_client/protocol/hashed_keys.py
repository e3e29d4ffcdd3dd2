"""Keys hashed to the curve once for many agreements (``map --all``).

Under terms that hash by key kind (``hash_scope: kind``), a key's point is the same in every agreement;
only the blinding differs (each agreement has its own secret, which is what keeps tokens unlinkable
across agreements). Hashing costs about a fifth of a multiplication, so a vendor with ten partners spent
a sixth of its CPU hashing the same keys ten times. Inside ``hashing_once()``, ``prepare`` takes its
points from one cache, keyed by value: an agreement's keys are any subset of the file's, and a value no
agreement hashed yet is hashed (on every core) and kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cleanroom.psi import POINT_SIZE, hash_many


class HashedKeys:
    """Each key kind's values hashed so far, with their points."""

    def __init__(self) -> None:
        self._known: dict[bytes, tuple[pa.Array, np.ndarray]] = {}  # context -> (values, (n, 32) uint8 points)

    def points(self, values: list[str], context: bytes) -> bytes:
        """The packed points of ``values`` under ``context``, in order (``hash_to_points``'s bytes)."""
        asked = pa.array(values, pa.string())
        known_values, known_points = self._known.get(
            context, (pa.array([], pa.string()), np.zeros((0, POINT_SIZE), dtype=np.uint8))
        )
        at = pc.fill_null(pc.index_in(asked, value_set=known_values), -1).to_numpy(zero_copy_only=False).astype(np.int64)
        missing = np.flatnonzero(at < 0)
        if len(missing):
            new_values = pc.unique(asked.take(pa.array(missing, type=pa.int64())))
            new_points = np.frombuffer(hash_many(new_values.to_pylist(), context), dtype=np.uint8).reshape(-1, POINT_SIZE)
            known_values = pa.concat_arrays([known_values, new_values])
            known_points = np.concatenate([known_points, new_points])
            self._known[context] = (known_values, known_points)
            at[missing] = pc.index_in(asked.take(pa.array(missing, type=pa.int64())), value_set=known_values).to_numpy(
                zero_copy_only=False
            )
        return known_points[at].tobytes()


_current: ContextVar[HashedKeys | None] = ContextVar("cleanroom_hashed_keys", default=None)


def current() -> HashedKeys | None:
    """The cache of the enclosing ``hashing_once()`` block (None outside one)."""
    return _current.get()


@contextmanager
def hashing_once() -> Iterator[HashedKeys]:
    """Within the block, agreements that hash by key kind share one cache of points."""
    cache = HashedKeys()
    token = _current.set(cache)
    try:
        yield cache
    finally:
        _current.reset(token)
