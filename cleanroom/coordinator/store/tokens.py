"""A run's double-blinded tokens, joined where the store keeps them.

Each side's tokens are the rows of chunk_points (store.points) of one upload: four 64-bit words a token
(fixed-size keys hash and compare faster than 32-byte BLOBs) and its position in the upload. The join, the
duplicate check and the canary reads run on those rows in SQL, nothing copied first, so the configured
memory_limit bounds them and DuckDB spills to its temp_directory past it; Python never holds a side's
tokens, only the positions of the matches. The join compares all four words, so two tokens match only when
all 32 bytes are equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa

from cleanroom.coordinator.store.connection import Database
from cleanroom.coordinator.store.points import WORDS

SIDES = ("a", "b")
_SIDE_ROWS = "(SELECT pos, t0, t1, t2, t3 FROM chunk_points WHERE upload_id = ?)"


class TokenJoin:
    """Both sides' tokens, each an upload's stored points, on one connection of its own."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._uploads: dict[str, str] = {}

    def load(self, side: str, upload_id: str) -> int:
        """Take an upload's stored points as ``side``'s tokens (nothing is copied); how many there are."""
        self._uploads[_side(side)] = upload_id
        found = self._con.execute("SELECT count(*) FROM chunk_points WHERE upload_id = ?", [upload_id]).fetchall()
        return int(found[0][0])

    def _upload(self, side: str) -> str:
        if _side(side) not in self._uploads:
            raise ValueError(f"side {side!r} has no tokens yet: load it first")
        return self._uploads[side]

    def has_duplicates(self, side: str) -> bool:
        """Whether two of the side's tokens are equal (all four words). Grouping by the first word alone first
        was no faster here and left DuckDB's allocator holding more at the join (benchmarks/README.md)."""
        found = self._con.execute(
            f"SELECT EXISTS (SELECT 1 FROM {_SIDE_ROWS} GROUP BY t0, t1, t2, t3 HAVING count(*) > 1)", [self._upload(side)]
        ).fetchall()
        return bool(found[0][0])

    def points_at(self, side: str, positions: np.ndarray) -> bytes:
        """The side's tokens at ``positions`` (each within the upload), packed in that order."""
        wanted = pa.table({"i": np.arange(len(positions), dtype=np.uint32), "pos": positions.astype(np.uint32)})
        self._con.register("wanted_positions", wanted)
        try:
            found = self._con.execute(
                f"SELECT t0, t1, t2, t3 FROM wanted_positions w JOIN {_SIDE_ROWS} t USING (pos) ORDER BY w.i",
                [self._upload(side)],
            ).fetchnumpy()
        finally:
            self._con.unregister("wanted_positions")
        return np.stack([np.asarray(found[w], dtype=np.uint64) for w in WORDS], axis=1).astype("<u8").tobytes()

    def matches(self) -> np.ndarray:
        """(a position, b position) of every pair of equal tokens, as int64 rows in no particular order."""
        found = self._con.execute(
            f"SELECT a.pos AS a_pos, b.pos AS b_pos FROM {_SIDE_ROWS} a JOIN {_SIDE_ROWS} b "
            "ON a.t0 = b.t0 AND a.t1 = b.t1 AND a.t2 = b.t2 AND a.t3 = b.t3",
            [self._upload("a"), self._upload("b")],
        ).fetchnumpy()
        return np.stack([found["a_pos"].astype(np.int64), found["b_pos"].astype(np.int64)], axis=1)

    def spill_files(self) -> list[str]:
        """The temporary files DuckDB holds blocks in now (past memory_limit), for checks and diagnostics."""
        return [str(row[0]) for row in self._con.execute("SELECT path FROM duckdb_temporary_files()").fetchall()]


@contextmanager
def token_join(db: Database) -> Iterator[TokenJoin]:
    """A TokenJoin on a connection of its own to the store's database: the same buffer pool and settings
    (memory_limit, temp_directory, threads), without holding the store's lock while it joins. Inside one
    read transaction, so every read of the join sees the same snapshot: a revocation that deletes the points
    meanwhile changes nothing under it (and the run it revoked is not completed: store.runs.complete)."""
    with db.cursor() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield TokenJoin(con)
        finally:
            con.execute("ROLLBACK")  # it only read


def _side(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    return side
